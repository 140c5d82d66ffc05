"""Plain data for the drafting engine: conversations in, draft chunks and results out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agentdesk.faq.model import Lang

Route = Literal["ai_ok", "needs_human", "escalate_urgent"]
Role = Literal["customer", "agent", "bot"]
Kind = Literal["text", "image", "unknown"]
Tone = Literal["friendlier", "formal", "shorter"]
Source = Literal["model", "offline"]

ROUTES: tuple[Route, ...] = ("ai_ok", "needs_human", "escalate_urgent")
TONES: tuple[Tone, ...] = ("friendlier", "formal", "shorter")
_SEVERITY: dict[Route, int] = {"ai_ok": 0, "needs_human": 1, "escalate_urgent": 2}


def severity(route: Route) -> int:
    return _SEVERITY[route]


def worst(*routes: Route) -> Route:
    """The most severe route: a stronger signal is never downgraded by a weaker one."""
    return max(routes, key=severity, default="ai_ok")


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation. `kind` says how to read it:

    * `text`: `text` is what was typed;
    * `image`: `url` and `caption` may be missing or hostile (a caption is customer text, never instructions);
    * `unknown`: any other payload (voice, video, sticker, red packet, numeric or null type); `type_name`
      says what it claimed to be and `text` holds any human-readable field it carried (e.g. a greeting).
    """

    role: Role
    kind: Kind
    text: str = ""
    url: str | None = None
    caption: str | None = None
    type_name: str = "text"

    @staticmethod
    def from_turn(turn: object, role: Role = "customer") -> Message:
        """Read one turn of the shared conversation format (a string or an object with a `type`)."""
        if isinstance(turn, str):
            return Message(role=role, kind="text", text=turn)
        if not isinstance(turn, Mapping):
            return Message(role=role, kind="unknown", type_name=type(turn).__name__)
        raw_type = turn.get("type")
        type_name = "null" if raw_type is None else str(raw_type)
        url = turn.get("url")
        url_s = url if isinstance(url, str) else None
        if type_name == "image":
            caption = turn.get("caption")
            return Message(
                role=role,
                kind="image",
                url=url_s,
                caption=caption if isinstance(caption, str) else None,
                type_name="image",
            )
        if type_name == "text":
            body = turn.get("text", turn.get("content", ""))
            return Message(role=role, kind="text", text=body if isinstance(body, str) else "")
        # Human-readable fields some payloads carry (a red packet's greeting, a card's title...).
        parts = [
            str(turn[k])
            for k in ("text", "greeting", "title", "caption", "name")
            if isinstance(turn.get(k), str)
        ]
        return Message(role=role, kind="unknown", text=" ".join(parts), url=url_s, type_name=type_name)


@dataclass(frozen=True, slots=True)
class Conversation:
    """The customer conversation the engine drafts a reply for (oldest message first)."""

    messages: tuple[Message, ...]
    id: str = ""
    customer_name: str = ""

    @staticmethod
    def from_script(record: Mapping[str, Any]) -> Conversation:
        """A conversation in the shared format (`turns` are the customer's messages)."""
        turns = record.get("turns", [])
        if not isinstance(turns, Sequence) or isinstance(turns, str | bytes):
            raise ValueError("a conversation needs a list of `turns`")
        customer = record.get("customer")
        name = customer.get("name", "") if isinstance(customer, Mapping) else ""
        return Conversation(
            messages=tuple(Message.from_turn(t) for t in turns),
            id=str(record.get("id", "")),
            customer_name=name if isinstance(name, str) else "",
        )

    @staticmethod
    def of_texts(*texts: str) -> Conversation:
        return Conversation(messages=tuple(Message(role="customer", kind="text", text=t) for t in texts))

    def customer_messages(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.role == "customer")


@dataclass(frozen=True, slots=True)
class Signal:
    """One triage rule that fired: what it is, the route it demands and the text that triggered it."""

    kind: str
    route: Route
    evidence: str
    description: str


@dataclass(frozen=True, slots=True)
class TriageResult:
    route: Route
    reason: str
    signals: tuple[Signal, ...] = ()
    #: amounts (in yuan) found in the conversation, in order
    amounts: tuple[float, ...] = ()

    def has(self, kind: str) -> bool:
        return any(s.kind == kind for s in self.signals)


@dataclass(frozen=True, slots=True)
class DraftChunk:
    """A piece of the draft's text as it streams (provisional: the final result's `text` is authoritative).
    `reset` means: discard everything shown so far (the model's draft was abandoned for a fallback)."""

    text: str
    reset: bool = False


@dataclass(frozen=True, slots=True)
class DraftResult:
    text: str
    faq_ids: tuple[str, ...]
    confidence: float
    route: Route
    reason: str
    language: Lang
    source: Source
    model: str | None = None
    #: why the model's answer was not used (None when it was, or when no model is configured)
    fallback_reason: str | None = None
    #: output checks that failed on the model's draft (it was replaced)
    violations: tuple[str, ...] = ()
    #: True when chunks already streamed differ from `text` (the console must replace what it showed)
    replaced_stream: bool = False
    tone: Tone | None = None
    triage: TriageResult | None = None
    first_chunk_ms: float | None = None
    total_ms: float = 0.0
    signals: tuple[str, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, object]:
        """The `agentdesk draft --json` shape."""
        return {
            "route": self.route,
            "reason": self.reason,
            "confidence": round(self.confidence, 3),
            "text": self.text,
            "faq_ids": list(self.faq_ids),
            "language": self.language,
        }


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """How to reach an OpenAI-compatible endpoint. `api_key` comes from the keyring (or env for now)."""

    base_url: str
    model: str
    api_key: str = "unused"
    connect_timeout: float = 5.0
    #: the longest silence allowed between two bytes of the answer (a stalled stream fails after this)
    read_timeout: float = 20.0
    #: the whole draft, first byte to last (a slow drip cannot hold the console forever)
    total_timeout: float = 60.0
    #: attempts after the first one, for failures before any text arrived
    max_retries: int = 2
    retry_backoff: float = 0.5
    #: consecutive failed drafts that open the circuit breaker
    breaker_threshold: int = 3
    #: seconds the breaker stays open before one half-open probe is allowed
    breaker_cooldown: float = 30.0
    temperature: float = 0.2
    max_tokens: int = 700
    json_mode: bool = True
