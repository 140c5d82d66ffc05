"""A simulated customer: a WuKongIM visitor that replays one script over the real client protocol.

It connects as ``<id>___vstr`` (visitors need no token), sends its turns in order on its own visitors
channel (type 10), each carrying the script's customer name as ``"from_name"``, and after each turn
waits (bounded) for a reply from anyone else on the channel, or until `handed_over()` says people have
it (then the bot stays quiet by design). Everything it receives is recorded. It never raises out of `run()`: problems end up in `result.errors`.

Give it the server's REST address (``api_url``, plus ``manager_token`` when the server wants one for
REST): then its client catches up after every (re)connect on its own visitors channel (type 10,
channel_id = login_uid = its uid), as WuKongIM intends (PROTOCOL.md g.2/g.4: a RECV that was not
acked when a connection died is never re-pushed to the next one). Without ``api_url`` it only gets
what is pushed live: a message in flight when its connection (or the server) dies can be missed, and
an unacked SEND is re-sent blind after a reconnect. What the first catch-up pulls (the channel's history
from before this run, e.g. a uid reused on a server that keeps its data) is not a reply and is not
recorded, nor is anything up to that history's last seq that a later gap fill brings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from agentdesk.sim.script import Script, encode_payload, text_of, turn_payload, with_name
from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import (
    CaughtUp,
    ClientError,
    ClientEvent,
    MessageReceived,
    SendTimeout,
)
from agentdesk.wukongim.packets import ChannelType
from agentdesk.wukongim.store import MessageStore

log = logging.getLogger(__name__)

VISITORS: Final = int(ChannelType.VISITORS)


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast customers act. Every wait is bounded."""

    #: delay between two customers starting
    start_gap: float = 0.0
    #: pause before each turn: `think` + `per_char` × length, capped at `max_think`
    think: float = 0.0
    per_char: float = 0.0
    max_think: float = 0.0
    #: the longest wait for a reply (or a handover) after a turn
    reply_timeout: float = 20.0
    connect_timeout: float = 10.0
    send_timeout: float = 10.0
    #: how often `handed_over()` is asked while waiting
    poll: float = 0.05

    def think_time(self, turn: object) -> float:
        size = len(turn) if isinstance(turn, str) else 20
        return max(0.0, min(self.max_think, self.think + self.per_char * size))


#: as fast as sensible (headless runs, tests)
FAST: Final = Pace()
#: a pace a person can follow on the console
READABLE: Final = Pace(start_gap=6.0, think=2.5, per_char=0.04, max_think=8.0, reply_timeout=45.0)


@dataclass(frozen=True, slots=True)
class Received:
    from_uid: str
    message_seq: int
    payload: bytes = field(repr=False)
    #: the text of a text message, None for other content
    text: str | None
    at: float


@dataclass(slots=True)
class CustomerResult:
    script_id: str
    uid: str
    sent: int = 0
    received: list[Received] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    finished: bool = False


class SimCustomer:
    """One visitor replaying one script. `on_log` gets one human-readable line per step (may be None)."""

    def __init__(
        self,
        script: Script,
        uid: str,
        *,
        ws_url: str,
        api_url: str | None = None,
        manager_token: str | None = None,
        pace: Pace = FAST,
        handed_over: Callable[[str], bool] | None = None,
        on_log: Callable[[str], None] | None = None,
    ) -> None:
        self.script = script
        self.uid = uid
        self.ws_url = ws_url
        self.api_url = api_url or None
        self.manager_token = manager_token
        self.pace = pace
        self._handed_over = handed_over
        self._on_log = on_log
        self.result = CustomerResult(script.id, uid, errors=list(script.problems))
        self._arrived = asyncio.Event()
        #: the first connection's catch-up is done (what came before it is history, not a reply)
        self._caught_up = False
        #: the channel's last seq before this run (from that first catch-up)
        self._history_upto = 0

    def _log(self, text: str) -> None:
        if self._on_log is not None:
            self._on_log(text)

    def _on_event(self, event: ClientEvent) -> None:
        if isinstance(event, CaughtUp):
            self._caught_up = True
            return
        if not isinstance(event, MessageReceived):
            return
        m = event.message
        if m.channel_id != self.uid or m.channel_type != VISITORS:
            return
        if not self._caught_up:
            # before the first catch-up finished nothing of ours was sent: this is older history
            self._history_upto = max(self._history_upto, m.message_seq)
            return
        if m.from_uid == self.uid or m.message_seq <= self._history_upto:
            return
        text = text_of(m.payload)
        self.result.received.append(Received(m.from_uid, m.message_seq, m.payload, text, time.time()))
        self._arrived.set()
        self._log(f"{self.script.id}: {m.from_uid or 'server'} → {self.uid}: {_preview(text)}")

    def handed_over(self) -> bool:
        if self._handed_over is None:
            return False
        try:
            return self._handed_over(self.uid)
        except Exception:  # a broken probe must not stop the customer
            log.exception("handed_over probe failed")
            return False

    async def run(self) -> CustomerResult:
        """Connect, replay every turn, close. Cancellation stops it early (the result so far stays)."""
        if not self.script.turns:
            self.result.finished = True
            return self.result
        store = MessageStore.open(":memory:")
        # visitors skip the token check; with REST access the client catches up after every reconnect
        # (its own visitors channel), else a message in flight when a connection dies can be missed
        client = WuKongIMClient(
            ClientConfig(
                uid=self.uid,
                token="visitor",
                api_url=self.api_url,
                ws_url=self.ws_url,
                manager_token=self.manager_token,
            ),
            store,
            on_event=self._on_event,
        )
        try:
            await client.connect(within=self.pace.connect_timeout)
        except (ClientError, OSError, TimeoutError) as exc:
            self.result.errors.append(f"could not connect as {self.uid}: {type(exc).__name__}: {exc}")
            await _close(client, store)
            return self.result
        try:
            # the first catch-up (older history) is over before the first turn goes out, so nothing
            # that answers this run can be taken for history
            await client.wait_caught_up(within=self.pace.connect_timeout)
        except (ClientError, TimeoutError) as exc:
            self.result.errors.append(f"no catch-up after connecting: {type(exc).__name__}: {exc}")
        try:
            for index, turn in enumerate(self.script.turns, start=1):
                await self._turn(client, index, turn)
            self.result.finished = True
        finally:
            await _close(client, store)
        return self.result

    async def _turn(self, client: WuKongIMClient, index: int, turn: object) -> None:
        delay = self.pace.think_time(turn)
        if delay:
            await asyncio.sleep(delay)
        payload, problem = encode_payload(with_name(turn_payload(turn), self.script.customer_name))
        if problem:
            self.result.errors.append(f"turn {index}: {problem}")
        before = len(self.result.received)
        self._arrived.clear()
        try:
            sent = await client.send(self.uid, VISITORS, payload, within=self.pace.send_timeout)
        except SendTimeout:
            self.result.errors.append(f"turn {index}: no SENDACK within {self.pace.send_timeout:g} s")
            return
        if not sent.ok:
            self.result.errors.append(f"turn {index}: the server refused it (reason code {sent.reason_code})")
            return
        self.result.sent += 1
        preview = _preview(turn) if isinstance(turn, str) else f"<{_kind(turn)}>"
        self._log(f"{self.script.id}: {self.uid} → desk: {preview}")
        if not await self._wait_reply(before):
            self.result.errors.append(
                f"turn {index}: no reply and no handover within {self.pace.reply_timeout:g} s"
            )

    async def _wait_reply(self, before: int) -> bool:
        """True once a new message arrived or people have the conversation; False after the timeout."""
        deadline = time.monotonic() + self.pace.reply_timeout
        while len(self.result.received) <= before:
            if self.handed_over():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(self.pace.poll, left))
            self._arrived.clear()
        return True


async def _close(client: WuKongIMClient, store: MessageStore) -> None:
    try:
        await client.close()
    except Exception:
        log.exception("closing a simulated customer failed")
    finally:
        store.close()


def _kind(turn: object) -> str:
    if isinstance(turn, dict):
        return f"type {turn.get('type')!r}"[:40]
    return type(turn).__name__


def visible(text: str) -> str:
    """Untrusted text made safe for a plain terminal line: control, format and separator characters
    (ANSI/OSC escapes, bidi overrides, zero-width, line breaks) are shown as ``\\uXXXX``."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] == "C" or cat in ("Zl", "Zp"):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _preview(text: str | None, limit: int = 60) -> str:
    if text is None:
        return "<non-text>"
    flat = " ".join(text[: limit * 4].split())
    flat = visible(flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
