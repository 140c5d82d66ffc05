"""The desk log: staff requests and the desk bot's facts, as WuKongIM message payloads.

Every desk message is a JSON object ``{"type": 30001, "v": 1, "kind": "<kind>", "id": "<32 hex>", ...}``
posted on the desk channel (a group channel). Staff post *requests* (imperative kinds: ``claim``,
``take_over``…); the desk bot, the single authority, answers with *facts* (past-tense kinds: ``assigned``,
``mode_changed``…). Desk state is a fold of the bot's facts only (see ``state.py``).

Everything here treats its input as hostile: :func:`parse` returns ``None`` for anything malformed, unknown
or too large and never raises. Free text (display names, notes, reasons) is kept as data, byte for byte;
making it safe to show is the UI's job. The full specification is ``docs/desk-protocol.md``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, TypeAlias, cast

#: WuKongIM content type of every desk message. The SDKs use 1-13 (text, media…), 97-99 (local, stream,
#: cmd), 1000-2000 (system messages rendered from a template) and reserve 20000-30000 for local-only types
#: that are never sent; 30001 is outside all of them, so ordinary clients show nothing or "unknown".
CONTENT_TYPE: Final = 30001
#: The major version this code writes and understands. Additive changes (new optional fields, new kinds)
#: keep it; anything a v1 reader would misread bumps it, and readers skip messages with a higher one.
VERSION: Final = 1

#: A raw payload larger than this is not parsed at all.
MAX_PAYLOAD_BYTES: Final = 16 * 1024
MAX_UID: Final = 128
MAX_NAME: Final = 200
MAX_REASON: Final = 200
MAX_NOTE: Final = 2000
MAX_WHY: Final = 300
MAX_LABEL: Final = 40
MAX_LABELS: Final = 20

VISITOR_SUFFIX: Final = "___vstr"

Urgency: TypeAlias = Literal["low", "normal", "high", "urgent"]
Mode: TypeAlias = Literal["ai", "assist", "human"]
URGENCIES: Final[tuple[Urgency, ...]] = ("low", "normal", "high", "urgent")
MODES: Final[tuple[Mode, ...]] = ("ai", "assist", "human")

_HEX_ID = re.compile(r"[0-9a-f]{32}")
_UID = re.compile(rf"[!-~]{{1,{MAX_UID}}}")  # printable ASCII, no spaces
_LABEL = re.compile(rf"[^\W][\w.:/+-]{{0,{MAX_LABEL - 1}}}")


def urgency_rank(urgency: Urgency) -> int:
    """0 for ``low`` … 3 for ``urgent``."""
    return URGENCIES.index(urgency)


def is_event_id(value: object) -> bool:
    return isinstance(value, str) and _HEX_ID.fullmatch(value) is not None


def is_uid(value: object) -> bool:
    return isinstance(value, str) and _UID.fullmatch(value) is not None


def is_label(value: object) -> bool:
    return isinstance(value, str) and _LABEL.fullmatch(value) is not None


def clip(text: str, limit: int) -> str:
    """Make untrusted text fit a field: at most `limit` characters, and encodable (a lone surrogate, which
    JSON's ``\\ud800`` escapes can produce, becomes ``?``). Everything else is kept as data."""
    if not _encodable(text):
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- events ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """A staff member asks the bot for a change. `id` is chosen by the client (uuid4 hex)."""

    kind: ClassVar[str] = ""
    id: str
    channel: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim(Request):
    kind: ClassVar[str] = "claim"


@dataclass(frozen=True, slots=True, kw_only=True)
class Release(Request):
    kind: ClassVar[str] = "release"


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer(Request):
    kind: ClassVar[str] = "transfer"
    to: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalate(Request):
    kind: ClassVar[str] = "escalate"
    urgency: Urgency = "high"
    reason: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeOver(Request):
    kind: ClassVar[str] = "take_over"


@dataclass(frozen=True, slots=True, kw_only=True)
class HandBack(Request):
    kind: ClassVar[str] = "hand_back"


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolve(Request):
    kind: ClassVar[str] = "resolve"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reopen(Request):
    kind: ClassVar[str] = "reopen"


@dataclass(frozen=True, slots=True, kw_only=True)
class Note(Request):
    kind: ClassVar[str] = "note"
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Label(Request):
    kind: ClassVar[str] = "label"
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SetMode(Request):
    kind: ClassVar[str] = "set_mode"
    mode: Mode


@dataclass(frozen=True, slots=True, kw_only=True)
class Fact:
    """Something the bot decided. `at` is the bot's clock (unix seconds); `re` is the request it answers
    and `by` the staff member who asked (both None for the bot's own decisions, e.g. triage)."""

    kind: ClassVar[str] = ""
    id: str
    channel: str
    at: float
    re: str | None = None
    by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened(Fact):
    kind: ClassVar[str] = "opened"
    customer_uid: str
    customer_name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Queued(Fact):
    kind: ClassVar[str] = "queued"
    urgency: Urgency = "normal"
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Assigned(Fact):
    kind: ClassVar[str] = "assigned"
    assignee: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Released(Fact):
    kind: ClassVar[str] = "released"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeChanged(Fact):
    kind: ClassVar[str] = "mode_changed"
    mode: Mode


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalated(Fact):
    kind: ClassVar[str] = "escalated"
    urgency: Urgency = "high"
    reason: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Responded(Fact):
    """The first staff reply to a waiting customer; `waited` is that wait in seconds."""

    kind: ClassVar[str] = "responded"
    waited: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved(Fact):
    kind: ClassVar[str] = "resolved"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reopened(Fact):
    kind: ClassVar[str] = "reopened"


@dataclass(frozen=True, slots=True, kw_only=True)
class Noted(Fact):
    kind: ClassVar[str] = "noted"
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Labeled(Fact):
    kind: ClassVar[str] = "labeled"
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected(Fact):
    """A request the bot refused; `re` is required and `why` is a sentence for people."""

    kind: ClassVar[str] = "rejected"
    request_kind: str = ""
    why: str


Event: TypeAlias = Request | Fact

REQUEST_KINDS: Final[dict[str, type[Request]]] = {
    c.kind: c
    for c in (Claim, Release, Transfer, Escalate, TakeOver, HandBack, Resolve, Reopen, Note, Label, SetMode)
}
FACT_KINDS: Final[dict[str, type[Fact]]] = {
    c.kind: c
    for c in (
        Opened,
        Queued,
        Assigned,
        Released,
        ModeChanged,
        Escalated,
        Responded,
        Resolved,
        Reopened,
        Noted,
        Labeled,
        Rejected,
    )
}
_KINDS: Final[dict[str, type[Request] | type[Fact]]] = {**REQUEST_KINDS, **FACT_KINDS}


# --- encoding -------------------------------------------------------------------------------------------


def encode(event: Event) -> dict[str, Any]:
    """The JSON object for `event` (None-valued optional fields are left out)."""
    out: dict[str, Any] = {"type": CONTENT_TYPE, "v": VERSION, "kind": event.kind}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if value is None:
            continue
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def encode_bytes(event: Event) -> bytes:
    """The payload bytes to send (compact UTF-8 JSON)."""
    return json.dumps(encode(event), ensure_ascii=False, separators=(",", ":")).encode()


# --- parsing --------------------------------------------------------------------------------------------


class _Invalid(Exception):
    pass


def _text(limit: int) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str) or len(value) > limit or not _encodable(value):
            raise _Invalid
        return value

    return check


def _uid(value: object) -> str:
    if not is_uid(value):
        raise _Invalid
    return cast(str, value)


def _opt_uid(value: object) -> str | None:
    return None if value is None else _uid(value)


def _opt_id(value: object) -> str | None:
    if value is None:
        return None
    if not is_event_id(value):
        raise _Invalid
    return cast(str, value)


def _choice(options: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str) or value not in options:
            raise _Invalid
        return value

    return check


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid
    number = float(value)
    if not math.isfinite(number) or not 0 <= number < 1e11:
        raise _Invalid
    return number


def _labels(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_LABELS:
        raise _Invalid
    if not all(is_label(v) for v in value):
        raise _Invalid
    return tuple(dict.fromkeys(cast(list[str], value)))


_FIELDS: Final[dict[str, Callable[[object], object]]] = {
    "channel": _uid,
    "to": _uid,
    "assignee": _uid,
    "customer_uid": _uid,
    "by": _opt_uid,
    "re": _opt_id,
    "at": _seconds,
    "waited": _seconds,
    "urgency": _choice(URGENCIES),
    "mode": _choice(MODES),
    "customer_name": _text(MAX_NAME),
    "reason": _text(MAX_REASON),
    "note": _text(MAX_NOTE),
    "text": _text(MAX_NOTE),
    "why": _text(MAX_WHY),
    "request_kind": _text(32),
    "add": _labels,
    "remove": _labels,
}


_Spec: TypeAlias = tuple[type[Request] | type[Fact], tuple[tuple[str, bool, Callable[[object], object]], ...]]
_SPECS: Final[dict[str, _Spec]] = {
    kind: (
        cls,
        tuple(
            (f.name, f.default is dataclasses.MISSING, _FIELDS[f.name])
            for f in dataclasses.fields(cls)
            if f.name != "id"
        ),
    )
    for kind, cls in _KINDS.items()
}


def parse(obj: object) -> Event | None:
    """The event in a decoded JSON payload, or None if it is not a valid desk event this code knows.

    Unknown fields are ignored; unknown kinds, a higher major version, a wrong content type, a bad id,
    a missing required field, a wrong type or an oversized string make the whole event None.
    """
    if not isinstance(obj, dict):
        return None
    version = obj.get("v")
    if obj.get("type") != CONTENT_TYPE or isinstance(obj.get("type"), bool):
        return None
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= VERSION:
        return None
    kind = obj.get("kind")
    spec = _SPECS.get(kind) if isinstance(kind, str) else None  # a list or dict is not hashable
    if spec is None or not is_event_id(obj.get("id")):
        return None
    cls, fields = spec
    values: dict[str, object] = {"id": obj["id"]}
    for name, required, check in fields:
        if name not in obj:
            if required:
                return None
            continue
        try:
            values[name] = check(obj[name])
        except _Invalid:
            return None
    if cls is Rejected and values.get("re") is None:
        return None
    return cls(**values)  # type: ignore[arg-type]


def parse_payload(raw: bytes | str | Mapping[str, object]) -> Event | None:
    """Like :func:`parse`, from the raw payload bytes of a WuKongIM message (or already decoded JSON)."""
    if isinstance(raw, Mapping):
        return parse(dict(raw))
    if len(raw) > MAX_PAYLOAD_BYTES:
        return None
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return parse(obj)


def is_desk_payload(obj: object) -> bool:
    """True if a decoded payload carries the desk content type (whether or not it parses)."""
    return isinstance(obj, dict) and obj.get("type") == CONTENT_TYPE
