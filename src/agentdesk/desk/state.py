"""Desk state: a deterministic fold of the desk bot's facts, in message_seq order.

The :class:`Reducer` is applied in place. It only believes facts posted by the bot's uid; requests, facts
from anybody else, malformed payloads, unknown kinds and facts about conversations that were never opened
are skipped (and counted). Every entry is applied at most once: an entry whose seq is not above the last
applied seq, or whose fact id was already applied, changes nothing, so replaying the log after a reconnect
is harmless and the same log applied in any chunking gives the same state.

Messages from the visitors channels (customer, staff and bot replies) are a second, local input
(:meth:`Reducer.apply_message`): they keep the last-message preview, unread count and the customer's waiting
time current on this console. Facts are the same on every console; message-derived fields depend on what
this console has seen. The clock is never read here: times come from facts and messages.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

from agentdesk.desk import protocol as p

View: TypeAlias = Literal["mine", "unassigned", "escalated", "ai", "all"]
VIEWS: Final[tuple[View, ...]] = ("mine", "unassigned", "escalated", "ai", "all")
Sender: TypeAlias = Literal["customer", "staff", "bot"]

MAX_REASONS: Final = 20
MAX_NOTES: Final = 200
MAX_PREVIEW: Final = 200
_MAX_ANSWERS: Final = 2000
#: history (queue-length changes, response samples) older than this before the newest entry is compacted
_HISTORY_SPAN: Final = 2 * 3600.0
_HISTORY_COMPACT_AT: Final = 4096
#: the layout of `Reducer.dump_state`; a different number means "rebuild from the facts"
STATE_FORMAT: Final = 1


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One message of the desk channel: its message_seq, sender and payload (raw bytes or decoded JSON)."""

    seq: int
    from_uid: str
    payload: bytes | str | Mapping[str, object]


@dataclass(frozen=True, slots=True)
class NoteEntry:
    at: float
    by: str | None
    text: str


@dataclass(slots=True)
class Conversation:
    """One customer conversation (one visitors channel).

    `waiting_since` is when the customer started waiting for a person: set when the conversation is
    handed to people (``queued``, ``escalated``, ``reopened`` outside AI mode) or, locally, by a customer
    message in an open non-AI conversation that was not already waiting; cleared by the first staff reply
    (a ``responded`` fact, or a staff message seen locally), by a hand back to the AI and by resolving.
    """

    channel_id: str
    customer_uid: str = ""
    customer_name: str = ""
    #: False until the bot's ``opened`` fact arrives (a message may come first); hidden from views
    known: bool = False
    opened_at: float | None = None
    status: Literal["open", "resolved"] = "open"
    mode: p.Mode = "ai"
    assignee: str | None = None
    urgency: p.Urgency = "normal"
    escalated: bool = False
    reasons: list[str] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)
    notes: list[NoteEntry] = field(default_factory=list)
    waiting_since: float | None = None
    last_activity: float = 0.0
    first_response_at: float | None = None
    #: a person was ever involved (queued, escalated, assigned, non-AI mode): for the autopilot share
    touched_by_person: bool = False
    preview: str = ""
    preview_from: Sender | None = None
    unread: int = 0
    last_msg_seq: int = 0

    @property
    def is_open(self) -> bool:
        return self.known and self.status == "open"

    def views(self) -> frozenset[View]:
        """The shared views this conversation belongs to ("mine" is per user: see `assignee`)."""
        mask = _mask(self)
        return frozenset(view for bit, view in _BITS if mask & bit)

    def sort_key(self) -> tuple[int, float, float, str]:
        """Most urgent first, then the longest wait, then the most recent activity."""
        waiting = self.waiting_since if self.waiting_since is not None else math.inf
        return (-p.urgency_rank(self.urgency), waiting, -self.last_activity, self.channel_id)


#: changes remembered for `Reducer.changed_since` (half are dropped when there are more)
_MAX_TOUCHES = 4096


class Reducer:
    """Desk state for one desk channel, folded from its log (see the module docstring)."""

    def __init__(self, bot_uid: str) -> None:
        self.bot_uid = bot_uid
        self.conversations: dict[str, Conversation] = {}
        self.last_seq = 0
        self.applied = 0
        self.skipped = 0
        #: bumped on every change; views cache their sorted lists against it
        self.version = 0
        self._seen: set[str] = set()
        self._members: dict[View, set[str]] = {v: set() for v in VIEWS if v != "mine"}
        self._mine: dict[str, set[str]] = {}
        self._index: dict[str, tuple[int, str | None]] = {}
        #: (at, +1/-1) changes of the Unassigned queue length, and the length before the first one
        self.queue_changes: list[tuple[float, int]] = []
        self.queue_base = 0
        #: (at, seconds waited) of every ``responded`` fact
        self.responses: list[tuple[float, float]] = []
        self._answers: OrderedDict[str, p.Fact] = OrderedDict()
        self._newest_at = 0.0
        self._queue_limit = self._responses_limit = _HISTORY_COMPACT_AT
        #: (version, channel) of every change since `_touch_floor`, for views that update incrementally
        self._touches: list[tuple[int, str]] = []
        self._touch_floor = 0

    # --- input ------------------------------------------------------------------------------------------

    def apply_many(self, entries: Iterable[LogEntry]) -> list[p.Fact]:
        """Apply log entries in order; returns the facts that changed something."""
        out: list[p.Fact] = []
        for entry in entries:
            fact = self.apply(entry)
            if fact is not None:
                out.append(fact)
        return out

    def apply(self, entry: LogEntry) -> p.Fact | None:
        """Apply one log entry; returns its fact if it was applied, else None."""
        if entry.seq <= self.last_seq:
            return None
        self.last_seq = entry.seq
        if entry.from_uid != self.bot_uid:
            return None  # staff requests (and anything a non-bot posts) are not state
        event = p.parse_payload(entry.payload)
        if not isinstance(event, p.Fact):
            self.skipped += 1
            return None
        return event if self.apply_fact(event) else None

    def apply_fact(self, fact: p.Fact) -> bool:
        """Apply a fact directly (the bot folds its own facts before it posts them). Idempotent by id."""
        if fact.id in self._seen:
            return False
        if not self._fold(fact):
            self.skipped += 1
            return False
        self._seen.add(fact.id)
        self.applied += 1
        self.version += 1
        self._touch(fact.channel)
        if fact.re is not None and fact.re not in self._answers:
            self._answers[fact.re] = fact
            if len(self._answers) > _MAX_ANSWERS:
                self._answers.popitem(last=False)
        return True

    def apply_message(
        self, channel_id: str, *, sender: Sender, at: float, text: str = "", seq: int = 0
    ) -> bool:
        """A message seen on a visitors channel. `seq` (its message_seq) makes a replay harmless."""
        conv = self.conversations.get(channel_id)
        if conv is None:
            if not p.is_uid(channel_id):
                return False
            conv = self.conversations[channel_id] = Conversation(channel_id, customer_uid=channel_id)
        if seq and seq <= conv.last_msg_seq:
            return False
        conv.last_msg_seq = max(conv.last_msg_seq, seq)
        conv.preview = p.clip(" ".join(text.split()), MAX_PREVIEW)
        conv.preview_from = sender
        conv.last_activity = max(conv.last_activity, at)
        if sender == "customer":
            conv.unread += 1
            if conv.is_open and conv.mode != "ai" and conv.waiting_since is None:
                conv.waiting_since = at
        elif sender == "staff":
            conv.unread = 0
            conv.waiting_since = None
        self.version += 1
        self._touch(channel_id)
        return True

    def restore_message(
        self, channel_id: str, *, sender: Sender, at: float, text: str = "", seq: int = 0
    ) -> bool:
        """The newest stored message of a conversation, at start-up: restores the preview, the last
        activity and the message seq, but is not news (no unread, no waiting time). Ignored for a
        conversation this console has not seen, or one that already has a newer message."""
        conv = self.conversations.get(channel_id)
        if conv is None or (seq and seq <= conv.last_msg_seq):
            return False
        conv.last_msg_seq = max(conv.last_msg_seq, seq)
        conv.preview = p.clip(" ".join(text.split()), MAX_PREVIEW)
        conv.preview_from = sender
        conv.last_activity = max(conv.last_activity, at)
        self.version += 1
        self._touch(channel_id)
        return True

    def mark_read(self, channel_id: str) -> None:
        conv = self.conversations.get(channel_id)
        if conv is not None and conv.unread:
            conv.unread = 0
            self.version += 1
            self._touch(channel_id)

    def _touch(self, channel_id: str) -> None:
        touches = self._touches
        touches.append((self.version, channel_id))
        if len(touches) > _MAX_TOUCHES:
            drop = len(touches) // 2
            self._touch_floor = touches[drop - 1][0]
            del touches[:drop]

    def changed_since(self, version: int) -> set[str] | None:
        """The conversations changed after `version` (state version), or None when that is no longer known
        (too long ago, or the state was loaded from a snapshot since)."""
        if version < self._touch_floor:
            return None
        out: set[str] = set()
        for v, channel in reversed(self._touches):
            if v <= version:
                break
            out.add(channel)
        return out

    # --- queries ----------------------------------------------------------------------------------------

    def get(self, channel_id: str) -> Conversation | None:
        conv = self.conversations.get(channel_id)
        return conv if conv is not None and conv.known else None

    def members(self, view: View, me: str | None = None) -> set[str]:
        """Channel ids in `view` (a live set: do not modify)."""
        if view == "mine":
            return self._mine.get(me, set()) if me is not None else set()
        return self._members[view]

    def answer(self, request_id: str) -> p.Fact | None:
        """The first fact that answered a request (a ``rejected`` one says why), if it was seen recently."""
        return self._answers.get(request_id)

    def snapshot(self) -> dict[str, object]:
        """Everything fact-derived, as plain data (for comparisons and debugging)."""
        return {
            "last_seq": self.last_seq,
            "applied": self.applied,
            "skipped": self.skipped,
            "conversations": {k: self.conversations[k] for k in sorted(self.conversations)},
            "members": {k: sorted(v) for k, v in self._members.items()},
            "mine": {k: sorted(v) for k, v in sorted(self._mine.items()) if v},
            "queue": (self.queue_base, list(self.queue_changes)),
            "responses": list(self.responses),
            "answers": list(self._answers.items()),
        }

    # --- persistence ------------------------------------------------------------------------------------

    def dump_state(self) -> dict[str, Any]:
        """The whole state as JSON-able data (see `load_state`). Meant for a reducer fed facts only:
        message-derived fields are saved as they are."""
        return {
            "format": STATE_FORMAT,
            "bot_uid": self.bot_uid,
            "last_seq": self.last_seq,
            "applied": self.applied,
            "skipped": self.skipped,
            "seen": sorted(self._seen),
            "conversations": [_dump_conv(c) for c in self.conversations.values()],
            "queue_changes": [list(c) for c in self.queue_changes],
            "queue_base": self.queue_base,
            "responses": [list(r) for r in self.responses],
            "answers": [[k, p.encode(f)] for k, f in self._answers.items()],
            "newest_at": self._newest_at,
            "limits": [self._queue_limit, self._responses_limit],
        }

    @classmethod
    def load_state(cls, bot_uid: str, data: Mapping[str, Any]) -> Reducer:
        """A reducer from `dump_state` data; raises ValueError (or KeyError, TypeError) for data of
        another format or bot, or that does not have the expected shape."""
        if data.get("format") != STATE_FORMAT or data.get("bot_uid") != bot_uid:
            raise ValueError("desk state of another format or bot")
        r = cls(bot_uid)
        r.last_seq = int(data["last_seq"])
        r.applied = int(data["applied"])
        r.skipped = int(data["skipped"])
        r._seen = {str(x) for x in data["seen"]}
        for item in data["conversations"]:
            conv = _load_conv(item)
            r.conversations[conv.channel_id] = conv
            new = (_mask(conv), conv.assignee if conv.is_open else None)
            if new != (0, None):
                r._index[conv.channel_id] = new
                for bit, view in _BITS:
                    if new[0] & bit:
                        r._members[view].add(conv.channel_id)
                if new[1] is not None:
                    r._mine.setdefault(new[1], set()).add(conv.channel_id)
        r.queue_changes = [(float(a), int(d)) for a, d in data["queue_changes"]]
        r.queue_base = int(data["queue_base"])
        r.responses = [(float(a), float(w)) for a, w in data["responses"]]
        for key, raw in data["answers"]:
            fact = p.parse_payload(raw)
            if not isinstance(fact, p.Fact):
                raise ValueError("desk state with an answer that is not a fact")
            r._answers[str(key)] = fact
        r._newest_at = float(data["newest_at"])
        r._queue_limit, r._responses_limit = (int(x) for x in data["limits"])
        r.version = r.applied
        r._touch_floor = r.version
        return r

    # --- the fold ---------------------------------------------------------------------------------------

    def _fold(self, fact: p.Fact) -> bool:
        conv = self.conversations.get(fact.channel)
        if isinstance(fact, p.Opened):
            if conv is not None and conv.known:
                return False
            if conv is None:
                conv = self.conversations[fact.channel] = Conversation(fact.channel)
            conv.known = True
            conv.customer_uid = fact.customer_uid
            conv.customer_name = fact.customer_name
            conv.opened_at = fact.at
        elif isinstance(fact, p.Rejected):
            pass  # changes no conversation; recorded as the request's answer
        elif conv is None or not conv.known:
            return False
        else:
            _change(conv, fact, self.responses)
        if conv is not None:
            conv.last_activity = max(conv.last_activity, fact.at)
            self._reindex(conv, fact.at)
        if len(self.responses) > self._responses_limit:
            cutoff = self._newest_at - _HISTORY_SPAN
            self.responses[:] = [r for r in self.responses if r[0] >= cutoff]
            self._responses_limit = max(_HISTORY_COMPACT_AT, 2 * len(self.responses))
        return True

    def _reindex(self, conv: Conversation, at: float) -> None:
        if at > self._newest_at:
            self._newest_at = at
        new = (_mask(conv), conv.assignee if conv.is_open else None)
        old = self._index.get(conv.channel_id, (0, None))
        if new == old:
            return
        changed = old[0] ^ new[0]
        if changed:
            for bit, view in _BITS:
                if changed & bit:
                    if new[0] & bit:
                        self._members[view].add(conv.channel_id)
                    else:
                        self._members[view].discard(conv.channel_id)
        if old[1] != new[1]:
            if old[1] is not None:
                self._mine[old[1]].discard(conv.channel_id)
            if new[1] is not None:
                self._mine.setdefault(new[1], set()).add(conv.channel_id)
        if changed & _UNASSIGNED:
            self.queue_changes.append((at, 1 if new[0] & _UNASSIGNED else -1))
            if len(self.queue_changes) > self._queue_limit:
                self._compact_queue()
        self._index[conv.channel_id] = new

    def _compact_queue(self) -> None:
        cutoff = self._newest_at - _HISTORY_SPAN
        keep = [c for c in self.queue_changes if c[0] >= cutoff]
        self.queue_base += sum(d for a, d in self.queue_changes if a < cutoff)
        self.queue_changes[:] = keep
        self._queue_limit = max(_HISTORY_COMPACT_AT, 2 * len(keep))


_ALL, _AI, _UNASSIGNED, _ESCALATED = 1, 2, 4, 8
_BITS: Final[tuple[tuple[int, View], ...]] = (
    (_ALL, "all"),
    (_AI, "ai"),
    (_UNASSIGNED, "unassigned"),
    (_ESCALATED, "escalated"),
)


def _mask(conv: Conversation) -> int:
    """`Conversation.views()` as bits, for the indexes."""
    if not (conv.known and conv.status == "open"):
        return 0
    mask = _ALL
    if conv.mode == "ai":
        mask |= _AI
    elif conv.assignee is None:
        mask |= _UNASSIGNED
    if conv.escalated or conv.urgency == "urgent":
        mask |= _ESCALATED
    return mask


_CONV_FIELDS: Final = (
    "channel_id",
    "customer_uid",
    "customer_name",
    "known",
    "opened_at",
    "status",
    "mode",
    "assignee",
    "urgency",
    "escalated",
    "reasons",
    "labels",
    "notes",
    "waiting_since",
    "last_activity",
    "first_response_at",
    "touched_by_person",
    "preview",
    "preview_from",
    "unread",
    "last_msg_seq",
)
_STATUSES: Final = ("open", "resolved")
_SENDERS: Final = ("customer", "staff", "bot")


def _dump_conv(conv: Conversation) -> list[object]:
    return [
        conv.channel_id,
        conv.customer_uid,
        conv.customer_name,
        conv.known,
        conv.opened_at,
        conv.status,
        conv.mode,
        conv.assignee,
        conv.urgency,
        conv.escalated,
        conv.reasons,
        sorted(conv.labels),
        [[n.at, n.by, n.text] for n in conv.notes],
        conv.waiting_since,
        conv.last_activity,
        conv.first_response_at,
        conv.touched_by_person,
        conv.preview,
        conv.preview_from,
        conv.unread,
        conv.last_msg_seq,
    ]


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _load_conv(item: list[Any]) -> Conversation:
    """A conversation from `_dump_conv`: checked enough that a damaged snapshot is refused (ValueError,
    TypeError) rather than shown; cheap, as it runs for every conversation at start-up."""
    if len(item) != len(_CONV_FIELDS):
        raise ValueError("desk state with a conversation of another shape")
    (cid, uid, name, known, opened, status, mode, assignee, urgency, escalated, reasons, labels, notes,
     waiting, activity, first, touched, preview, preview_from, unread, msg_seq) = item  # fmt: skip
    if (
        status not in _STATUSES
        or mode not in p.MODES
        or urgency not in p.URGENCIES
        or (preview_from is not None and preview_from not in _SENDERS)
        or not isinstance(cid, str)
        or not isinstance(uid, str)
        or not isinstance(name, str)
        or not isinstance(preview, str)
        or not (assignee is None or isinstance(assignee, str))
        or not isinstance(reasons, list)
        or not isinstance(unread, int)
        or not isinstance(msg_seq, int)
    ):
        raise ValueError("desk state with a conversation of another shape")
    return Conversation(
        cid,
        uid,
        name,
        known is True,
        _opt_float(opened),
        status,
        mode,
        assignee,
        urgency,
        escalated is True,
        reasons,
        set(labels),
        [NoteEntry(float(a), _opt_str(b), str(t)) for a, b, t in notes] if notes else [],
        _opt_float(waiting),
        float(activity),
        _opt_float(first),
        touched is True,
        preview,
        preview_from,
        unread,
        msg_seq,
    )


def _raise(current: p.Urgency, new: p.Urgency) -> p.Urgency:
    return new if p.urgency_rank(new) > p.urgency_rank(current) else current


def _reason(conv: Conversation, reason: str) -> None:
    if reason and (not conv.reasons or conv.reasons[-1] != reason):
        conv.reasons.append(reason)
        del conv.reasons[:-MAX_REASONS]


def _note(conv: Conversation, fact: p.Fact, text: str) -> None:
    if text:
        conv.notes.append(NoteEntry(fact.at, fact.by, text))
        del conv.notes[:-MAX_NOTES]


def _change(conv: Conversation, fact: p.Fact, responses: list[tuple[float, float]]) -> None:
    """Apply a fact (other than opened/rejected) to its conversation."""
    if isinstance(fact, p.Queued):
        conv.urgency = _raise(conv.urgency, fact.urgency)
        _reason(conv, fact.reason)
        conv.touched_by_person = True
        if conv.waiting_since is None:
            conv.waiting_since = fact.at
    elif isinstance(fact, p.Escalated):
        conv.escalated = True
        conv.urgency = fact.urgency  # a person's judgement: it may also lower the urgency
        _reason(conv, fact.reason)
        _note(conv, fact, fact.note)
        conv.touched_by_person = True
        if conv.waiting_since is None:
            conv.waiting_since = fact.at
    elif isinstance(fact, p.Assigned):
        conv.assignee = fact.assignee
        conv.touched_by_person = True
    elif isinstance(fact, p.Released):
        conv.assignee = None
    elif isinstance(fact, p.ModeChanged):
        conv.mode = fact.mode
        if fact.mode == "ai":
            conv.waiting_since = None
            conv.escalated = False
            conv.urgency = "normal"
        else:
            conv.touched_by_person = True
    elif isinstance(fact, p.Responded):
        conv.waiting_since = None
        if conv.first_response_at is None:
            conv.first_response_at = fact.at
        responses.append((fact.at, fact.waited))
    elif isinstance(fact, p.Resolved):
        conv.status = "resolved"
        conv.waiting_since = None
        conv.escalated = False
    elif isinstance(fact, p.Reopened):
        conv.status = "open"
        conv.escalated = False
        conv.urgency = "normal"
        conv.waiting_since = fact.at if conv.mode != "ai" else None
    elif isinstance(fact, p.Noted):
        _note(conv, fact, fact.text)
    elif isinstance(fact, p.Labeled):
        conv.labels.difference_update(fact.remove)
        conv.labels.update(fact.add)
