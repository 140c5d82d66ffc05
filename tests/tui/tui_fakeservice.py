"""A frozen `ConsoleService` for snapshots and chrome tests: fixed clock, fixed queue, transcripts, drafts
and FAQ; its event stream says "online", then stays quiet. Every string can be replaced by a hostile one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace

from agentdesk.desk.views import Dashboard, QueueRow
from agentdesk.tui.services import (
    ConnectionChanged,
    ConnectionInfo,
    ConversationDetail,
    DeskAction,
    DeskHistoryItem,
    DraftDone,
    DraftInfo,
    DraftStreamEvent,
    DraftText,
    FaqCitation,
    FaqItem,
    Fate,
    QueueChanged,
    ServiceEvent,
    StatusInfo,
    Tone,
    TranscriptItem,
    View,
)

NOW = 1_795_000_000.0  # fixed clock


def row(cid: str, name: str, preview: str, **kw: object) -> QueueRow:
    values: dict[str, object] = {
        "channel_id": cid,
        "customer_uid": cid,
        "customer_name": name,
        "preview": preview,
        "waiting": 45.0,
        "mode": "assist",
        "assignee": None,
        "urgency": "normal",
        "escalated": False,
        "reason": "",
        "unread": 1,
        "labels": (),
        "last_activity": NOW - 45,
    }
    values.update(kw)
    return QueueRow(**values)  # type: ignore[arg-type]


def default_rows() -> list[QueueRow]:
    return [
        row(
            "c-urgent___vstr",
            "Robert Hale",
            "I will call my lawyer",
            waiting=900.0,
            urgency="urgent",
            escalated=True,
            unread=3,
        ),
        row("c-amy___vstr", "Amy 林", "COD可以吗？订单2500块", waiting=200.0, unread=2),
        row("c-ben___vstr", "Ben Carter", "membership renewal?", waiting=30.0, assignee="alice"),
        row("c-ai___vstr", "Olivia Scott", "thanks!", waiting=None, mode="ai", unread=0),
    ]


@dataclass
class FrozenService:
    rows: list[QueueRow] = field(default_factory=default_rows)
    transcripts: dict[str, list[TranscriptItem]] = field(default_factory=dict)
    draft_text: str = "Hi Amy, cash on delivery is available for orders up to ¥2,000."
    draft_reason: str = "COD limit is ¥2,000 (faq-070)"
    faq: list[FaqItem] = field(default_factory=list)
    error: str = ""
    connection: ConnectionInfo = field(default_factory=lambda: ConnectionInfo("online"))
    outbox: int = 0
    desk: bool = True
    user: str = "alice"
    user_role: str = "supervisor"
    prefs: dict[str, str] = field(default_factory=dict)
    sent: list[tuple[str, str]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)
    fates: list[tuple[str, str]] = field(default_factory=list)
    closed: bool = False
    clock: float = NOW
    open: str | None = None

    @property
    def me(self) -> str:
        return self.user

    @property
    def role(self) -> str:
        return self.user_role

    def now(self) -> float:
        return self.clock

    async def events(self) -> AsyncIterator[ServiceEvent]:
        yield ConnectionChanged(self.connection)
        yield QueueChanged()
        await asyncio.Event().wait()  # quiet until the app stops

    async def close(self) -> None:
        self.closed = True

    def status(self) -> StatusInfo:
        return StatusInfo(self.connection, self.outbox, "synced", self.user, self.user_role, self.desk)

    def counts(self) -> Mapping[View, int]:
        return {v: len(self.queue(v)) for v in ("mine", "unassigned", "escalated", "ai", "all")}  # type: ignore[misc]

    def queue(self, view: View, text: str = "", limit: int | None = None) -> list[QueueRow]:
        def keep(r: QueueRow) -> bool:
            if view == "mine":
                return r.assignee == self.user
            if view == "unassigned":
                return r.assignee is None and r.mode != "ai"
            if view == "escalated":
                return r.escalated
            if view == "ai":
                return r.mode == "ai"
            return True

        words = text.casefold().split()
        out = [
            r
            for r in self.rows
            if keep(r) and all(w in (r.customer_name + r.preview).casefold() for w in words)
        ]
        return out if limit is None else out[:limit]

    def next_urgent(self, exclude: str | None = None) -> QueueRow | None:
        return next((r for r in self.rows if r.channel_id != exclude and r.waiting is not None), None)

    def detail(self, channel_id: str) -> ConversationDetail | None:
        r = next((r for r in self.rows if r.channel_id == channel_id), None)
        if r is None:
            return None
        return ConversationDetail(
            channel_id=channel_id,
            customer_uid=r.customer_uid,
            customer_name=r.customer_name,
            mode=r.mode,
            assignee=r.assignee,
            urgency=r.urgency,
            status="open",
            escalated=r.escalated,
            labels=("vip",),
            reasons=(r.reason or "asked for a person",),
            history=(DeskHistoryItem(NOW - 100, "queued", None, "queued for a person (normal)"),),
        )

    def set_open(self, channel_id: str | None) -> None:
        self.open = channel_id

    def mark_read(self, channel_id: str) -> None:
        self.rows = [replace(r, unread=0) if r.channel_id == channel_id else r for r in self.rows]

    async def transcript(self, channel_id: str, limit: int = 200) -> list[TranscriptItem]:
        if channel_id in self.transcripts:
            return self.transcripts[channel_id]
        r = next(r for r in self.rows if r.channel_id == channel_id)
        return [
            TranscriptItem("m1", "customer", channel_id, NOW - 300, text=r.preview),
            TranscriptItem("d1", "desk", "", NOW - 290, kind="event", text="queued for a person (normal)"),
            TranscriptItem("m2", "bot", "deskbot", NOW - 280, text="A colleague will be with you shortly."),
            TranscriptItem(
                "m3",
                "customer",
                channel_id,
                NOW - 200,
                kind="image",
                url="https://img.example/p.png",
                size="1280×720, 240.0 KB",
            ),
            TranscriptItem("m4", "customer", channel_id, NOW - 100, kind="unknown", type_name="voice"),
            TranscriptItem("m5", "me", "alice", NOW - 60, text="Let me check.", status="sent"),
            TranscriptItem("m6", "customer", channel_id, NOW - 45, text=r.preview),
        ]

    async def send_reply(self, channel_id: str, text: str) -> str:
        self.sent.append((channel_id, text))
        return f"cmn{len(self.sent)}"

    async def draft(self, channel_id: str, tone: Tone | None = None) -> AsyncIterator[DraftStreamEvent]:
        yield DraftText(self.draft_text[:10])
        yield DraftDone(
            DraftInfo(
                draft_id=f"d-{channel_id}-{tone}",
                channel_id=channel_id,
                text=self.draft_text,
                confidence=0.82,
                route="ai_ok",
                reason=self.draft_reason,
                citations=(
                    FaqCitation("faq-070", "Is cash on delivery available?", "COD is limited to ¥2,000."),
                ),
                tone=tone,
                source="offline",
            )
        )

    async def record_fate(self, draft: DraftInfo, fate: Fate, final_text: str | None = None) -> None:
        self.fates.append((draft.draft_id, fate))

    async def faq_search(self, query: str, limit: int = 8) -> list[FaqItem]:
        if self.faq:
            return self.faq[:limit]
        return [
            FaqItem(
                "faq-070",
                "Is cash on delivery available?",
                "COD is limited to orders up to ¥2,000.",
                "payment",
                0.9,
                "COD is limited to orders up to ¥2,000.",
                ((0, 3),),
            ),
            FaqItem(
                "faq-067",
                "Which payment methods do you accept?",
                "Alipay, WeChat Pay, cards.",
                "payment",
                0.6,
                "Alipay, WeChat Pay, cards.",
                (),
            ),
        ][:limit]

    async def request(self, channel_id: str, action: DeskAction, **fields: object) -> str:
        self.requests.append((channel_id, action, dict(fields)))
        return f"r{len(self.requests)}"

    def dashboard(self) -> Dashboard:
        steps = [NOW - (11 - i) * 300 for i in range(12)]
        return Dashboard(
            counts=self.counts(),  # type: ignore[arg-type]
            resolved=7,
            autopilot_share=0.25,
            autopilot_resolved_share=0.57,
            median_wait=200.0,
            waiting=3,
            queue_length=tuple(
                (t, n) for t, n in zip(steps, [0, 1, 1, 2, 3, 5, 4, 4, 3, 2, 2, 3], strict=True)
            ),
            first_response=tuple(
                (t, v)
                for t, v in zip(
                    steps,
                    [None, 30.0, 45.0, 60.0, 90.0, 120.0, 80.0, 60.0, None, 40.0, 35.0, 50.0],
                    strict=True,
                )
            ),
        )

    def preference(self, key: str) -> str | None:
        return self.prefs.get(key)

    async def save_preference(self, key: str, value: str) -> None:
        self.prefs[key] = value
