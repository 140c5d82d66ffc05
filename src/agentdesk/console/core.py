"""The console core: everything the operator console does that is not drawing.

It owns the WuKongIM client (with its message store and durable outbox), the desk-log cache and its
`Reducer` (fed from desk-channel messages), the drafting engine and the draft-fate records, and the FAQ
cache, and implements `agentdesk.tui.services.ConsoleService` for the UI. No Textual, no Rich
(import-linter enforces it); testable on its own against the devserver.

Events: the client's callback only appends to a list and wakes `events()`, which folds a whole burst
(hundreds of messages after a reconnect) at once, writes the desk facts in one transaction and yields
de-duplicated service events (one `QueueChanged` per burst, one `TranscriptChanged` per channel).

Blocking SQLite work runs in threads: the message store behind the client's own worker thread
(`client.db.call`), the FAQ and fate stores in `asyncio.to_thread` under a lock. The desk cache is
written on the loop (one small transaction per burst), because the reducer it updates is read by the UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from agentdesk.ai.engine import DraftEngine
from agentdesk.ai.types import Conversation as AiConversation
from agentdesk.ai.types import Message as AiMessage
from agentdesk.console import history as hist
from agentdesk.console.drafts import Drafting
from agentdesk.console.payloads import decode_payload, preview_text
from agentdesk.console.plain import plain_rows
from agentdesk.console.transcript import message_items, outbox_items
from agentdesk.desk import protocol as p
from agentdesk.desk import views
from agentdesk.desk.cache import DeskCache
from agentdesk.desk.state import LogEntry, Reducer, Sender
from agentdesk.tui.services import (
    ConnectionChanged,
    ConnectionInfo,
    ConnState,
    ConversationDetail,
    DeskAction,
    DraftInfo,
    DraftStreamEvent,
    FaqItem,
    Fate,
    Notice,
    OutboxChanged,
    QueueChanged,
    QueueRow,
    ReplyStatus,
    ReplyStatusChanged,
    RequestRejected,
    ServiceEvent,
    StatusInfo,
    SyncChanged,
    Tone,
    TranscriptChanged,
    TranscriptItem,
    View,
)
from agentdesk.wukongim.catchup import to_stored
from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import (
    CaughtUp,
    ClientEvent,
    MessageReceived,
    SendAcked,
    SendFailed,
    StateChanged,
)
from agentdesk.wukongim.rest import RestError
from agentdesk.wukongim.store import MessageStore, StoredMessage

VISITORS: Final = 10
#: pages of 200 messages fetched at most when a conversation is opened whose history the store lacks
BACKFILL_PAGES: Final = 5
GROUP: Final = 2
_ACTIONS: Final[dict[str, type[p.Request]]] = {
    "claim": p.Claim,
    "release": p.Release,
    "transfer": p.Transfer,
    "escalate": p.Escalate,
    "take_over": p.TakeOver,
    "hand_back": p.HandBack,
    "resolve": p.Resolve,
    "reopen": p.Reopen,
    "note": p.Note,
    "label": p.Label,
}


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    uid: str
    token: str
    api_url: str | None
    data_dir: Path
    ws_url: str | None = None
    role: str = "agent"
    desk_channel: str = "desk"
    bot_uid: str = "deskbot"
    faq_db: Path | None = None
    manager_token: str | None = None


class ConsoleCore:
    """Implements `ConsoleService` (see `agentdesk.tui.services`)."""

    def __init__(
        self,
        config: ConsoleConfig,
        *,
        engine: DraftEngine | None = None,
        clock: Callable[[], float] = time.time,
        client_config: ClientConfig | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        data = config.data_dir
        data.mkdir(parents=True, exist_ok=True)
        self.store = MessageStore.open(data / f"messages-{config.uid}.sqlite")
        #: opened in a thread by `events()` (rebuilding 10k conversations takes a while): the first frame
        #: does not wait for it; until then the queue is empty
        self.desk: DeskCache | None = None
        self.reducer: Reducer = Reducer(config.bot_uid)
        cc = client_config or ClientConfig(
            uid=config.uid,
            token=config.token,
            api_url=config.api_url,
            ws_url=config.ws_url,
            manager_token=config.manager_token,
        )
        self.client = WuKongIMClient(cc, self.store, on_event=self._on_client_event)
        self.drafting = Drafting.open(engine or DraftEngine(), data / "drafts.sqlite", config.faq_db)
        self._prefs_path = data / "console-state.json"
        self._prefs = _read_prefs(self._prefs_path)
        self._pending: list[ClientEvent | _OutboxPoke | _Restored] = []
        self._wake = asyncio.Event()
        self._connection = ConnectionInfo()
        self._outbox = 0
        self._sync = ""
        self._replies: dict[str, tuple[str, ReplyStatus]] = {}
        self._reply_texts: dict[str, str] = {}
        self._requests: dict[str, tuple[str, str]] = {}
        self.history: dict[str, list[hist.DeskHistoryItem]] = {}
        self._started = False
        self._closed = False
        self._open: str | None = None
        #: desk-channel messages that arrived while the desk log was being caught up (applied after it)
        self._desk_buffer: list[LogEntry] = []
        self._desk_synced = False
        self._initial: list[ServiceEvent] = []
        self._previews_task: asyncio.Task[None] | None = None
        faq = self.drafting.faq
        for what, moved in (
            ("message cache", self.store.moved_aside),
            ("FAQ cache", faq.moved_aside if faq is not None else None),
        ):
            notice = _moved(what, moved)
            if notice:
                self._initial.append(Notice(notice, "warning"))

    # --- identity, clock, status -----------------------------------------------------------------

    @property
    def me(self) -> str:
        return self.config.uid

    @property
    def role(self) -> str:
        return self.config.role

    def now(self) -> float:
        return self._clock()

    @property
    def desk_active(self) -> bool:
        """True once a desk bot's fact was seen; without one the queue is the user's subscriptions."""
        return self.reducer.applied > 0

    def status(self) -> StatusInfo:
        return StatusInfo(self._connection, self._outbox, self._sync, self.me, self.role, self.desk_active)

    # --- events ------------------------------------------------------------------------------------

    async def open_desk(self) -> None:
        """Open the desk-log cache (rebuilds the desk state) in a thread; idempotent."""
        if self.desk is None:
            cfg = self.config
            self.desk = await asyncio.to_thread(
                DeskCache.open,
                cfg.data_dir / f"desk-{cfg.uid}.sqlite",
                bot_uid=cfg.bot_uid,
                desk_channel=cfg.desk_channel,
                check_same_thread=False,
            )
            self.reducer = self.desk.reducer

    async def load_previews(self) -> list[Preview]:
        """The newest stored message of every cached desk conversation, read and decoded off the loop:
        the desk cache keeps facts only, and a conversation should not look empty until its next
        message. Apply them with :meth:`apply_previews`."""
        channels = [c for c, conv in self.reducer.conversations.items() if conv.known]
        messages = await self.client.db.call(_newest_messages, self.store, channels)
        return await asyncio.to_thread(self._previews, messages)

    def _previews(self, messages: list[StoredMessage]) -> list[Preview]:
        return [
            Preview(
                m.channel_id,
                _sender(self._role_of(m)),
                float(m.timestamp),
                preview_text(decode_payload(m.payload)),
                m.message_seq,
            )
            for m in messages
        ]

    def apply_previews(self, previews: list[Preview]) -> bool:
        """Restore preview and last activity (not unread: they are not news); a conversation that has
        seen a newer message meanwhile keeps it. True if anything changed."""
        changed = False
        for item in previews:
            changed = (
                self.reducer.restore_message(
                    item.channel_id, sender=item.sender, at=item.at, text=item.text, seq=item.seq
                )
                or changed
            )
        return changed

    async def _restore_previews(self) -> None:
        """Background part of start-up: the queue is drawn first, the previews follow."""
        try:
            previews = await self.load_previews()
        except (sqlite3.Error, RuntimeError):  # the store closed under us (shutting down): no previews
            return
        self._pending.append(_Restored(previews))
        self._wake.set()

    def _on_client_event(self, event: ClientEvent) -> None:
        self._pending.append(event)
        self._wake.set()

    async def events(self) -> AsyncIterator[ServiceEvent]:
        if not self._started:
            self._started = True
            await self.open_desk()
            if self.desk is not None and self.desk.notice:
                self._initial.append(Notice(self.desk.notice, "warning"))
            self._outbox = len(await self.client.db.call(self.store.outbox_unacked))
            for event in [*self._initial, OutboxChanged(self._outbox), QueueChanged()]:
                yield event
            self._previews_task = asyncio.create_task(self._restore_previews())
            await self.client.start()
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            for event in await self._fold(batch):
                yield event

    async def _fold(self, batch: list[ClientEvent | _OutboxPoke | _Restored]) -> list[ServiceEvent]:
        out: list[ServiceEvent] = []
        desk_entries: list[LogEntry] = []
        touched: dict[str, bool] = {}
        outbox_dirty = False
        for event in batch:
            if isinstance(event, MessageReceived):
                m = event.message
                if m.channel_type == GROUP and m.channel_id == self.config.desk_channel:
                    entry = LogEntry(m.message_seq, m.from_uid, m.payload)
                    (desk_entries if self._desk_synced else self._desk_buffer).append(entry)
                elif m.channel_type == VISITORS:
                    role = self._role_of(m)
                    decoded = decode_payload(m.payload)
                    sender: Sender = "customer" if role == "customer" else "bot" if role == "bot" else "staff"
                    self.reducer.apply_message(
                        m.channel_id,
                        sender=sender,
                        at=float(m.timestamp),
                        text=preview_text(decoded),
                        seq=m.message_seq,
                    )
                    touched[m.channel_id] = touched.get(m.channel_id, False) or role == "customer"
            elif isinstance(event, StateChanged):
                self._connection = ConnectionInfo(conn_state(event.state.value), event.retry_in, event.error)
                out.append(ConnectionChanged(self._connection))
                if event.state.value in ("reconnecting", "connecting"):
                    self._desk_synced = False
                    out.extend(await self._mark_retrying())
                if event.state.value == "online":
                    self._sync = "syncing"
                    out.append(SyncChanged(self._sync))
            elif isinstance(event, SendAcked | SendFailed):
                out.extend(self._reply_result(event))
                outbox_dirty = True
            elif isinstance(event, _OutboxPoke):
                outbox_dirty = True
            elif isinstance(event, _Restored):
                if self.apply_previews(event.previews):
                    out.append(QueueChanged())
            elif isinstance(event, CaughtUp):
                desk_error = await self._desk_catch_up(desk_entries)
                error = event.error or desk_error
                self._sync = f"sync failed: {error}" if error else "synced"
                out.append(SyncChanged(self._sync))
                outbox_dirty = True
        if desk_entries and self.desk is not None:
            for fact in self.desk.append(desk_entries):
                out.extend(self._on_fact(fact))
            out.append(QueueChanged())
        if touched:
            out.append(QueueChanged())
            out.extend(TranscriptChanged(cid, customer) for cid, customer in touched.items())
        if outbox_dirty:
            self._outbox = len(await self.client.db.call(self.store.outbox_unacked))
            out.append(OutboxChanged(self._outbox))
        return [e for e in _dedupe(out) if not isinstance(e, TranscriptChanged) or e.channel_id == self._open]

    async def _desk_catch_up(self, into: list[LogEntry]) -> str:
        """Pull the desk log from the last applied seq (the client's own catch-up only backfills the
        newest messages of a channel it has never seen), then the entries buffered meanwhile, in order."""
        rest = self.client.rest
        start = self.reducer.last_seq + 1
        error = ""
        try:
            while rest is not None:
                page = await rest.channel_messagesync(
                    self.me, self.config.desk_channel, GROUP, start_message_seq=start, limit=500, pull_mode=1
                )
                into.extend(LogEntry(m.message_seq, m.from_uid, m.payload) for m in page.messages)
                if not page.messages or not page.more:
                    break
                start = page.messages[-1].message_seq + 1
        except RestError as exc:
            error = f"desk log: {exc}"
        into.extend(self._desk_buffer)
        self._desk_buffer = []
        into.sort(key=lambda e: e.seq)
        self._desk_synced = True
        return error

    def _role_of(self, m: StoredMessage) -> str:
        if m.from_uid == m.channel_id or (
            m.from_uid.endswith(p.VISITOR_SUFFIX) and m.from_uid == m.channel_id
        ):
            return "customer"
        if m.from_uid == self.config.bot_uid:
            return "bot"
        return "me" if m.from_uid == self.me else "staff"

    def _on_fact(self, fact: p.Fact) -> list[ServiceEvent]:
        out: list[ServiceEvent] = []
        item = hist.describe(fact)
        if item is not None:
            self.history.setdefault(fact.channel, []).append(item)
            del self.history[fact.channel][: -hist.MAX_HISTORY]
            out.append(TranscriptChanged(fact.channel))
        if isinstance(fact, p.Rejected) and fact.re is not None and fact.re in self._requests:
            channel, action = self._requests.pop(fact.re)
            out.append(RequestRejected(fact.re, channel, action, fact.why))
        elif fact.re is not None:
            self._requests.pop(fact.re, None)
        return out

    def _reply_result(self, event: SendAcked | SendFailed) -> list[ServiceEvent]:
        result = event.result
        tracked = self._replies.get(result.client_msg_no)
        if tracked is None:
            return []
        channel = tracked[0]
        status: ReplyStatus = "sent" if isinstance(event, SendAcked) else "failed"
        self._replies[result.client_msg_no] = (channel, status)
        text = self._reply_texts.pop(result.client_msg_no, "")
        if status == "sent":  # our own message never comes back as a RECV: it updates the queue here
            self.reducer.apply_message(
                channel, sender="staff", at=self.now(), text=text, seq=result.message_seq
            )
        reason = "" if status == "sent" else f"the server refused the reply (reason {result.reason_code})"
        return [
            ReplyStatusChanged(channel, result.client_msg_no, status, reason),
            TranscriptChanged(channel),
            QueueChanged(),
        ]

    async def _mark_retrying(self) -> list[ServiceEvent]:
        waiting = [cmn for cmn, (_, status) in self._replies.items() if status == "pending"]
        if not waiting:
            return []
        entries = {e.client_msg_no: e for e in await self.client.db.call(self.store.outbox_unacked)}
        out: list[ServiceEvent] = []
        for cmn in waiting:
            entry = entries.get(cmn)
            if entry is not None and entry.attempts > 0:
                channel = self._replies[cmn][0]
                self._replies[cmn] = (channel, "retrying")
                out.append(ReplyStatusChanged(channel, cmn, "retrying"))
                out.append(TranscriptChanged(channel))
        return out

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._previews_task is not None:
            self._previews_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._previews_task
        await self.client.close()
        self.store.close()
        if self.desk is not None:
            self.desk.close()
        self.drafting.close()

    # --- queue -------------------------------------------------------------------------------------

    def counts(self) -> Mapping[View, int]:
        if self.desk_active:
            return views.counts(self.reducer, self.me)
        n = len(plain_rows(self.reducer, self.now()))
        return {"mine": n, "unassigned": 0, "escalated": 0, "ai": 0, "all": n}

    def queue(self, view: View, text: str = "", limit: int | None = None) -> list[QueueRow]:
        now = self.now()
        if self.desk_active:
            return views.queue(self.reducer, view, self.me, now, text=text, limit=limit)
        if view not in ("mine", "all"):
            return []
        rows = [r for r in plain_rows(self.reducer, now) if views.matches(r, text)]
        return rows if limit is None else rows[:limit]

    def next_urgent(self, exclude: str | None = None) -> QueueRow | None:
        now = self.now()
        if self.desk_active:
            return views.next_urgent(self.reducer, self.me, now, exclude=exclude)
        for row in plain_rows(self.reducer, now):
            if row.channel_id != exclude and (row.waiting is not None or row.unread):
                return row
        return None

    def detail(self, channel_id: str) -> ConversationDetail | None:
        conv = self.reducer.conversations.get(channel_id)
        if conv is None:
            return None
        return ConversationDetail(
            channel_id=channel_id,
            customer_uid=conv.customer_uid or channel_id,
            customer_name=conv.customer_name,
            mode=conv.mode if conv.known else "assist",
            assignee=conv.assignee,
            urgency=conv.urgency,
            status=conv.status,
            escalated=conv.escalated,
            labels=tuple(sorted(conv.labels)),
            reasons=tuple(conv.reasons),
            history=hist.combined(conv, self.history.get(channel_id, [])),
        )

    def mark_read(self, channel_id: str) -> None:
        self.reducer.mark_read(channel_id)

    def set_open(self, channel_id: str | None) -> None:
        self._open = channel_id

    def dashboard(self) -> views.Dashboard:
        return views.dashboard(self.reducer, self.me, self.now())

    # --- transcript and replies ---------------------------------------------------------------------

    async def _backfill(self, channel_id: str) -> None:
        """Fetch what the store lacks of a conversation from REST (a conversation routed to me, or an
        AI session a supervisor opens, has history from before I was subscribed). Never raises."""
        rest = self.client.rest
        if rest is None or self._connection.state != "online":
            return
        known = await self.client.db.call(self.store.channel, channel_id, VISITORS)
        start = known.contiguous_seq + 1 if known is not None else 1
        try:
            for _ in range(BACKFILL_PAGES):
                page = await rest.channel_messagesync(
                    self.me, channel_id, VISITORS, start_message_seq=start, limit=200, pull_mode=1
                )
                if page.messages:
                    new = await self.client.db.call(
                        self.store.store_received, [to_stored(m) for m in page.messages]
                    )
                    for m in new:
                        decoded = decode_payload(m.payload)
                        role = self._role_of(m)
                        sender: Sender = (
                            "customer" if role == "customer" else "bot" if role == "bot" else "staff"
                        )
                        self.reducer.apply_message(
                            channel_id,
                            sender=sender,
                            at=float(m.timestamp),
                            text=preview_text(decoded),
                            seq=m.message_seq,
                        )
                if not page.messages or not page.more:
                    return
                start = page.messages[-1].message_seq + 1
        except RestError:
            return

    async def transcript(self, channel_id: str, limit: int = 200) -> list[TranscriptItem]:
        await self._backfill(channel_id)
        messages = await self.client.db.call(self.store.history, channel_id, VISITORS, limit=limit)
        outbox = await self.client.db.call(self.store.outbox_all)
        items = message_items(messages, self._role_of)
        items += outbox_items(outbox, channel_id, self.me, items, self._replies)
        events = [
            TranscriptItem(key=f"d{i}", role="desk", sender=h.by or "", at=h.at, kind="event", text=h.text)
            for i, h in enumerate(self.history.get(channel_id, []))
        ]
        return sorted([*items, *events], key=lambda item: item.at) if events else items

    async def send_reply(self, channel_id: str, text: str) -> str:
        cmn = uuid.uuid4().hex
        self._replies[cmn] = (channel_id, "pending")
        self._reply_texts[cmn] = text
        await self.client.enqueue(channel_id, VISITORS, {"type": 1, "content": text}, client_msg_no=cmn)
        self._outbox = len(await self.client.db.call(self.store.outbox_unacked))
        self._pending.append(_OutboxPoke())
        self._wake.set()
        return cmn

    # --- desk requests ------------------------------------------------------------------------------

    async def request(self, channel_id: str, action: DeskAction, **fields: object) -> str:
        cls = _ACTIONS[action]
        request_id = uuid.uuid4().hex
        values: dict[str, Any] = dict(fields)
        if action == "label":
            values = {"add": tuple(values.get("add", ())), "remove": tuple(values.get("remove", ()))}
        event = cls(id=request_id, channel=channel_id, **values)
        self._requests[request_id] = (channel_id, action)
        await self.client.enqueue(self.config.desk_channel, GROUP, p.encode_bytes(event))
        return request_id

    # --- drafts ----------------------------------------------------------------------------------------

    async def _ai_conversation(self, channel_id: str) -> AiConversation:
        messages = await self.client.db.call(self.store.history, channel_id, VISITORS, limit=50)
        out: list[AiMessage] = []
        for m in messages:
            decoded = decode_payload(m.payload)
            role = self._role_of(m)
            ai_role = "customer" if role == "customer" else "bot" if role == "bot" else "agent"
            out.append(
                AiMessage(
                    role=ai_role,  # type: ignore[arg-type]
                    kind=decoded.kind,
                    text=decoded.text,
                    url=decoded.url or None,
                    caption=decoded.text if decoded.kind == "image" else None,
                    type_name=decoded.type_name or "text",
                )
            )
        conv = self.reducer.conversations.get(channel_id)
        return AiConversation(tuple(out), id=channel_id, customer_name=conv.customer_name if conv else "")

    async def draft(self, channel_id: str, tone: Tone | None = None) -> AsyncIterator[DraftStreamEvent]:
        conversation = await self._ai_conversation(channel_id)
        async for event in self.drafting.stream(conversation, channel_id, tone):
            yield event

    async def record_fate(self, draft: DraftInfo, fate: Fate, final_text: str | None = None) -> None:
        await self.drafting.record_fate(draft, fate, final_text)

    # --- FAQ ---------------------------------------------------------------------------------------------

    async def faq_search(self, query: str, limit: int = 8) -> list[FaqItem]:
        return await self.drafting.faq_search(query, limit)

    # --- preferences -----------------------------------------------------------------------------------

    def preference(self, key: str) -> str | None:
        return self._prefs.get(key)

    async def save_preference(self, key: str, value: str) -> None:
        self._prefs[key] = value
        data = json.dumps(self._prefs, indent=1).encode()
        await asyncio.to_thread(_write_prefs, self._prefs_path, data)

    # --- retrying a refused reply -------------------------------------------------------------------

    async def retry_reply(self, client_msg_no: str) -> bool:
        """The refused entry leaves the outbox and is queued again as new (pending, never written: the
        server stored nothing under it), with the same client_msg_no and payload."""
        entry = await self.client.db.call(self.store.outbox_get, client_msg_no)
        if entry is None or entry.state != "failed":
            return False
        await self.client.db.call(self.store.outbox_remove, client_msg_no)
        self._replies[client_msg_no] = (entry.channel_id, "pending")
        self._reply_texts[client_msg_no] = preview_text(decode_payload(entry.payload))
        await self.client.enqueue(
            entry.channel_id, entry.channel_type, entry.payload, client_msg_no=client_msg_no
        )
        self._pending.append(_OutboxPoke())
        self._wake.set()
        return True


class _OutboxPoke:
    """Wakes `events()` so a reply just queued shows in the outbox count."""


@dataclass(frozen=True, slots=True)
class Preview:
    """The newest stored message of a conversation, as `Reducer.restore_message` takes it."""

    channel_id: str
    sender: Sender
    at: float
    text: str
    seq: int


@dataclass(frozen=True, slots=True)
class _Restored:
    """Wakes `events()` with the previews read at start-up (applied on the loop, like messages)."""

    previews: list[Preview]


_STATES: Final[dict[str, ConnState]] = {
    s: s for s in ("connecting", "online", "reconnecting", "offline", "auth_failed", "kicked")
}


def _newest_messages(store: MessageStore, channels: list[str]) -> list[StoredMessage]:
    """The newest stored message of each of these visitors channels that has any (store thread)."""
    known = store.last_seqs()
    out: list[StoredMessage] = []
    for channel_id in channels:
        if (channel_id, VISITORS) in known:
            out.extend(store.history(channel_id, VISITORS, limit=1))
    return out


def _sender(role: str) -> Sender:
    return "customer" if role == "customer" else "bot" if role == "bot" else "staff"


def conn_state(value: str) -> ConnState:
    return _STATES.get(value, "offline")


def _dedupe(events: list[ServiceEvent]) -> list[ServiceEvent]:
    seen: set[object] = set()
    out: list[ServiceEvent] = []
    for event in events:
        key: object = event if isinstance(event, QueueChanged | TranscriptChanged) else id(event)
        if isinstance(event, OutboxChanged):
            key = "outbox"
        if key in seen:
            continue
        seen.add(key)
        out.append(event)
    return out


def _moved(what: str, path: Path | None) -> str | None:
    if path is None:
        return None
    rebuilt = "run `agentdesk faq sync` or `faq import` to fill it" if what == "FAQ cache" else "rebuilt"
    return f"the {what} was unreadable and was moved aside ({path.name}); {rebuilt}"


def _read_prefs(path: Path) -> dict[str, str]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}
    return {}


def _write_prefs(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
