"""What the console UI needs from the rest of agentdesk: one service interface, plain data and events.

The UI does no I/O. The composition root (`agentdesk.commands.console`) builds a `ConsoleService`
(the real one is `agentdesk.console.core.ConsoleCore`) and passes it to the app; tests pass the same
core against the in-process devserver, or a frozen fake for snapshots.

Every string in these dataclasses that came from outside (customer names, messages, drafts, FAQ text,
server errors) is untrusted: widgets render it through `agentdesk.tui.safe_text` only.

Events are past-tense facts; the app's one connection worker reads `events()` and posts each one as a
Textual message (`agentdesk.tui.messages.ServiceEventPosted`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias

from agentdesk.desk.views import Dashboard, QueueRow

__all__ = [
    "ConnState",
    "ConnectionChanged",
    "ConnectionInfo",
    "ConsoleService",
    "ConversationDetail",
    "Dashboard",
    "DeskAction",
    "DeskHistoryItem",
    "DraftDone",
    "DraftFailed",
    "DraftInfo",
    "DraftStreamEvent",
    "DraftText",
    "FaqCitation",
    "FaqItem",
    "Fate",
    "Notice",
    "OutboxChanged",
    "QueueChanged",
    "QueueRow",
    "ReplyStatus",
    "ReplyStatusChanged",
    "RequestRejected",
    "ServiceEvent",
    "StatusInfo",
    "SyncChanged",
    "Tone",
    "TranscriptChanged",
    "TranscriptItem",
    "View",
]

ConnState: TypeAlias = Literal["connecting", "online", "reconnecting", "offline", "auth_failed", "kicked"]
View: TypeAlias = Literal["mine", "unassigned", "escalated", "ai", "all"]
Role: TypeAlias = Literal["customer", "staff", "me", "bot", "desk"]
ReplyStatus: TypeAlias = Literal["", "pending", "sent", "failed", "retrying"]
Tone: TypeAlias = Literal["friendlier", "formal", "shorter"]
Fate: TypeAlias = Literal["approved", "edited", "rejected", "regenerated"]
DeskAction: TypeAlias = Literal[
    "claim", "release", "transfer", "escalate", "take_over", "hand_back", "resolve", "reopen", "note", "label"
]


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    state: ConnState = "connecting"
    #: seconds until the next attempt (reconnecting only)
    retry_in: float | None = None
    #: untrusted (server or socket error text)
    error: str = ""


@dataclass(frozen=True, slots=True)
class TranscriptItem:
    """One line of a conversation: a message, or a desk event shown between messages."""

    key: str
    role: Role
    sender: str
    at: float
    kind: Literal["text", "image", "unknown", "event"] = "text"
    text: str = ""
    url: str = ""
    #: images: "1280×720" and/or a byte size when the payload says so
    size: str = ""
    #: unknown payloads: the type it claimed to be
    type_name: str = ""
    status: ReplyStatus = ""
    client_msg_no: str = ""


@dataclass(frozen=True, slots=True)
class DeskHistoryItem:
    at: float
    kind: str
    by: str | None
    text: str


@dataclass(frozen=True, slots=True)
class ConversationDetail:
    channel_id: str
    customer_uid: str
    customer_name: str
    mode: str
    assignee: str | None
    urgency: str
    status: str
    escalated: bool
    labels: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    history: tuple[DeskHistoryItem, ...] = ()


@dataclass(frozen=True, slots=True)
class FaqCitation:
    id: str
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class FaqItem:
    id: str
    question: str
    answer: str
    category: str
    score: float
    snippet: str
    #: (start, end) offsets into `snippet`
    matches: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class DraftInfo:
    draft_id: str
    channel_id: str
    text: str
    confidence: float
    route: str
    reason: str
    citations: tuple[FaqCitation, ...] = ()
    tone: Tone | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class DraftText:
    """A streamed piece of the draft; `reset` = throw away what was shown so far."""

    text: str
    reset: bool = False


@dataclass(frozen=True, slots=True)
class DraftDone:
    draft: DraftInfo


@dataclass(frozen=True, slots=True)
class DraftFailed:
    #: untrusted
    error: str


DraftStreamEvent: TypeAlias = DraftText | DraftDone | DraftFailed


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    info: ConnectionInfo


@dataclass(frozen=True, slots=True)
class QueueChanged:
    """Desk state or a conversation's preview/unread changed: re-read counts and rows."""


@dataclass(frozen=True, slots=True)
class TranscriptChanged:
    channel_id: str
    #: a new customer message arrived (assist mode starts a fresh draft)
    customer_message: bool = False


@dataclass(frozen=True, slots=True)
class OutboxChanged:
    size: int


@dataclass(frozen=True, slots=True)
class ReplyStatusChanged:
    channel_id: str
    client_msg_no: str
    status: ReplyStatus
    #: untrusted
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RequestRejected:
    request_id: str
    channel_id: str
    action: str
    #: untrusted (the bot's sentence)
    why: str


@dataclass(frozen=True, slots=True)
class Notice:
    #: untrusted
    text: str
    severity: Literal["information", "warning", "error"] = "information"


@dataclass(frozen=True, slots=True)
class SyncChanged:
    #: "syncing", "synced" or "sync failed: …" (untrusted tail)
    state: str


ServiceEvent: TypeAlias = (
    ConnectionChanged
    | QueueChanged
    | TranscriptChanged
    | OutboxChanged
    | ReplyStatusChanged
    | RequestRejected
    | Notice
    | SyncChanged
)


@dataclass(frozen=True, slots=True)
class StatusInfo:
    connection: ConnectionInfo = field(default_factory=ConnectionInfo)
    outbox: int = 0
    sync: str = ""
    user: str = ""
    role: str = "agent"
    desk: bool = False


class ConsoleService(Protocol):
    """The console core, as the UI sees it. Async methods do I/O; plain methods read memory only."""

    @property
    def me(self) -> str: ...

    @property
    def role(self) -> str: ...

    def now(self) -> float:
        """The service's clock (unix seconds); injectable for frozen tests."""
        ...

    def events(self) -> AsyncIterator[ServiceEvent]:
        """Start the connection (if not started) and yield events until `close()`."""
        ...

    async def close(self) -> None: ...

    def status(self) -> StatusInfo: ...

    def counts(self) -> Mapping[View, int]: ...

    def queue(self, view: View, text: str = "", limit: int | None = None) -> list[QueueRow]: ...

    def next_urgent(self, exclude: str | None = None) -> QueueRow | None: ...

    def detail(self, channel_id: str) -> ConversationDetail | None: ...

    def mark_read(self, channel_id: str) -> None: ...

    def set_open(self, channel_id: str | None) -> None:
        """The conversation on screen: `TranscriptChanged` is only sent for it (a burst over 2,000
        conversations must not cost 2,000 UI messages)."""
        ...

    async def transcript(self, channel_id: str, limit: int = 200) -> list[TranscriptItem]: ...

    async def send_reply(self, channel_id: str, text: str) -> str:
        """Put a reply in the durable outbox (sent now if online); returns its client_msg_no."""
        ...

    async def retry_reply(self, client_msg_no: str) -> bool:
        """Re-queue a reply the server refused (outbox state failed) under the same client_msg_no; it is
        sent now if online. False if there is no such refused reply (already retried, or delivered)."""
        ...

    def draft(self, channel_id: str, tone: Tone | None = None) -> AsyncIterator[DraftStreamEvent]: ...

    async def record_fate(self, draft: DraftInfo, fate: Fate, final_text: str | None = None) -> None: ...

    async def faq_search(self, query: str, limit: int = 8) -> list[FaqItem]: ...

    async def request(self, channel_id: str, action: DeskAction, **fields: object) -> str:
        """Send a desk request to the bot; returns its id (a rejection arrives as `RequestRejected`)."""
        ...

    def dashboard(self) -> Dashboard: ...

    def preference(self, key: str) -> str | None: ...

    async def save_preference(self, key: str, value: str) -> None: ...
