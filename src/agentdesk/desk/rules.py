"""The desk bot's authority, as pure functions: the roster, and what a request or a customer message does.

The bot feeds requests from the desk channel in message_seq order to :func:`decide`, folds the facts of
each decision into its own :class:`~agentdesk.desk.state.Reducer` *before* deciding the next request, then
posts the facts and carries out the effects. That order is what makes two concurrent claims end with
exactly one ``assigned`` and one ``rejected``. Fact ids derive from the request id (or the customer
message's key), so a request processed twice (a webhook retry) yields the same fact ids and the reducer
applies them once.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypeAlias

from agentdesk.desk import protocol as p
from agentdesk.desk.state import Conversation, Reducer

Role: TypeAlias = Literal["agent", "supervisor", "admin"]
ROLES: Final[tuple[Role, ...]] = ("agent", "supervisor", "admin")
Route: TypeAlias = str  # "ai_ok" | "needs_human" | "escalate_urgent" from the AI engine's triage
_SETTINGS: Final = {"supervisors_watch_ai": bool}


class RosterError(ValueError):
    """A roster file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Roster:
    users: Mapping[str, Role]
    #: subscribe supervisors to every new conversation so they can watch the AI
    supervisors_watch_ai: bool = False

    @classmethod
    def load(cls, path: Path | str) -> Roster:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RosterError(f"{path}: cannot read the roster ({exc})") from exc
        return cls.parse(text, source=str(path))

    @classmethod
    def parse(cls, text: str, *, source: str = "roster") -> Roster:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RosterError(f"{source}: not valid TOML ({exc})") from exc
        return cls.from_mapping(data, source=source)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], *, source: str = "roster") -> Roster:
        for key in data:
            if key not in ("users", "settings"):
                raise RosterError(f"{source}: unknown table [{key}] (expected [users] and [settings])")
        users = data.get("users")
        if not isinstance(users, dict) or not users:
            raise RosterError(f'{source}: [users] must map each staff uid to a role, e.g. alice = "agent"')
        checked: dict[str, Role] = {}
        for uid, role in users.items():
            if not p.is_uid(uid):
                raise RosterError(f"{source}: users.{uid!r}: not a valid uid (printable ASCII, no spaces)")
            if uid.endswith(p.VISITOR_SUFFIX):
                raise RosterError(
                    f"{source}: users.{uid}: uids ending in {p.VISITOR_SUFFIX} are visitors "
                    "(unauthenticated) and cannot be staff"
                )
            if role not in ROLES:
                raise RosterError(
                    f"{source}: users.{uid}: role must be one of agent, supervisor, admin (got {role!r})"
                )
            checked[uid] = role
        settings = data.get("settings", {})
        if not isinstance(settings, dict):
            raise RosterError(f"{source}: settings must be a table")
        for key, value in settings.items():
            if key not in _SETTINGS:
                raise RosterError(
                    f"{source}: settings.{key}: unknown setting (known: {', '.join(_SETTINGS)})"
                )
            if not isinstance(value, _SETTINGS[key]):
                raise RosterError(f"{source}: settings.{key}: must be true or false (got {value!r})")
        return cls(users=checked, supervisors_watch_ai=bool(settings.get("supervisors_watch_ai", False)))

    def role(self, uid: str | None) -> Role | None:
        return self.users.get(uid) if uid is not None else None

    def is_supervisor(self, uid: str | None) -> bool:
        return self.role(uid) in ("supervisor", "admin")

    def supervisors(self) -> tuple[str, ...]:
        return tuple(sorted(u for u, r in self.users.items() if r in ("supervisor", "admin")))


# --- decisions ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriberAdd:
    channel_id: str
    uids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscriberRemove:
    channel_id: str
    uids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SendToCustomer:
    """A canned message for the customer, by key (the bot owns the texts and their languages)."""

    channel_id: str
    text_key: Literal["handover", "urgent_handover"]
    lang: str = ""


Effect: TypeAlias = SubscriberAdd | SubscriberRemove | SendToCustomer


@dataclass(frozen=True, slots=True)
class Decision:
    facts: tuple[p.Fact, ...] = ()
    effects: tuple[Effect, ...] = ()
    #: for customer messages: whether the autopilot may answer this one
    autopilot: bool = False
    rejected: bool = False


def fact_id(seed: str, index: int) -> str:
    """A deterministic fact id (32 hex) for the `index`-th fact answering `seed`."""
    return hashlib.sha256(f"{seed}\x00{index}".encode()).hexdigest()[:32]


class _Builder:
    def __init__(self, seed: str, channel: str, now: float, re: str | None, by: str | None) -> None:
        self.seed, self.channel, self.now, self.re, self.by = seed, channel, now, re, by
        self.facts: list[p.Fact] = []
        self.effects: list[Effect] = []

    def fact(self, cls: type[p.Fact], **fields: object) -> None:
        base = {"id": fact_id(self.seed, len(self.facts)), "channel": self.channel, "at": self.now}
        self.facts.append(cls(**base, re=self.re, by=self.by, **fields))  # type: ignore[arg-type]

    def subscribe(self, uids: tuple[str, ...] | list[str]) -> None:
        effect = SubscriberAdd(self.channel, tuple(uids))
        if uids and effect not in self.effects:
            self.effects.append(effect)

    def decision(self, autopilot: bool = False) -> Decision:
        return Decision(tuple(self.facts), tuple(self.effects), autopilot=autopilot)


def _reject(b: _Builder, request: p.Request, why: str) -> Decision:
    b.facts.clear()
    b.effects.clear()
    b.fact(p.Rejected, request_kind=request.kind, why=p.clip(why, p.MAX_WHY))
    return Decision(tuple(b.facts), (), rejected=True)


def _drop_agent(b: _Builder, roster: Roster, uid: str | None) -> None:
    """Unsubscribe a previous assignee who is an agent (supervisors keep watching)."""
    if uid is not None and roster.role(uid) == "agent":
        b.effects.append(SubscriberRemove(b.channel, (uid,)))


def decide(state: Reducer, request: p.Request, sender_uid: str, roster: Roster, now: float) -> Decision:
    """What the bot does with a staff request: facts to post (a ``rejected`` one says why) and effects.
    A request the bot already answered (its facts are in `state`) yields an empty decision."""
    if state.answer(request.id) is not None:
        return Decision()  # already answered (a redelivered request): nothing new to say
    b = _Builder(request.id, request.channel, now, request.id, sender_uid if p.is_uid(sender_uid) else None)
    role = roster.role(sender_uid)
    if role is None:
        return _reject(b, request, f"{sender_uid} is not on the desk roster")
    conv = state.get(request.channel)
    if conv is None:
        return _reject(b, request, f"unknown conversation {request.channel}")
    why = _apply_rule(b, conv, request, sender_uid, roster)
    return _reject(b, request, why) if why else b.decision()


def _apply_rule(b: _Builder, c: Conversation, r: p.Request, me: str, roster: Roster) -> str | None:
    """Adds facts and effects to `b`, or returns why the request is refused."""
    boss = roster.is_supervisor(me)
    owner_or_boss = c.assignee == me or boss
    if isinstance(r, p.Note):
        if not r.text.strip():
            return "the note is empty"
        b.fact(p.Noted, text=r.text)
        return None
    if isinstance(r, p.Label):
        add = tuple(x for x in r.add if x not in c.labels)
        remove = tuple(x for x in r.remove if x in c.labels and x not in r.add)
        if not add and not remove:
            return "the labels are already as asked"
        b.fact(p.Labeled, add=add, remove=remove)
        return None
    if isinstance(r, p.Reopen):
        if c.status == "open":
            return "the conversation is already open"
        b.fact(p.Reopened)
        return None
    if c.status != "open":
        return "the conversation is resolved; reopen it first"
    if isinstance(r, p.Claim):
        if c.assignee == me:
            return "already assigned to you"
        if c.assignee is not None:
            return f"already assigned to {c.assignee}"
        if c.mode == "ai":
            return "the AI is handling this conversation; a supervisor can take it over"
        b.fact(p.Assigned, assignee=me)
        b.subscribe([me])
    elif isinstance(r, p.Release):
        if c.assignee is None:
            return "the conversation is not assigned"
        if not owner_or_boss:
            return f"only {c.assignee} or a supervisor may release it"
        b.fact(p.Released)
        _drop_agent(b, roster, c.assignee)
    elif isinstance(r, p.Transfer):
        if not owner_or_boss:
            who = c.assignee or "nobody"
            return f"only the assignee ({who}) or a supervisor may transfer it"
        if roster.role(r.to) is None:
            return f"{r.to} is not on the desk roster"
        if c.assignee == r.to:
            return f"already assigned to {r.to}"
        if c.mode == "ai":
            return "the AI is handling this conversation; take it over first"
        b.fact(p.Assigned, assignee=r.to)
        b.subscribe([r.to])
        _drop_agent(b, roster, c.assignee)
    elif isinstance(r, p.Escalate):
        b.fact(p.Escalated, urgency=r.urgency, reason=r.reason, note=r.note)
        if c.mode == "ai":
            b.fact(p.ModeChanged, mode="assist")
        b.subscribe(roster.supervisors())
    elif isinstance(r, p.TakeOver):
        if not boss:
            return "only a supervisor or an admin may take over"
        if c.mode == "human" and c.assignee == me:
            return "you have already taken it over"
        if c.mode != "human":
            b.fact(p.ModeChanged, mode="human")
        if c.assignee != me:
            b.fact(p.Assigned, assignee=me)
        b.subscribe([me])
    elif isinstance(r, p.HandBack):
        if c.mode == "ai":
            return "the AI is already handling this conversation"
        if not owner_or_boss:
            return f"only {c.assignee or 'the assignee'} or a supervisor may hand it back"
        b.fact(p.ModeChanged, mode="ai")
        if c.assignee is not None:
            b.fact(p.Released)
            _drop_agent(b, roster, c.assignee)
    elif isinstance(r, p.Resolve):
        if c.assignee is not None and not owner_or_boss:
            return f"only {c.assignee} or a supervisor may resolve it"
        b.fact(p.Resolved)
    elif isinstance(r, p.SetMode):
        if not boss:
            return "only a supervisor or an admin may change the mode"
        if c.mode == r.mode:
            return f"already in {r.mode} mode"
        b.fact(p.ModeChanged, mode=r.mode)
        if r.mode == "ai" and c.assignee is not None:
            b.fact(p.Released)
            _drop_agent(b, roster, c.assignee)
    else:
        return f"unsupported request {r.kind}"
    return None


def on_customer_message(
    state: Reducer,
    channel: str,
    triage_route: Route,
    reason: str,
    now: float,
    *,
    roster: Roster,
    customer_name: str = "",
    message_key: str = "",
    lang: str = "",
    default_mode: p.Mode = "ai",
) -> Decision:
    """What the bot does with a customer message after triage.

    ``opened`` for a new conversation (``reopened`` for a resolved one), followed by ``mode_changed`` when
    the desk's `default_mode` for new conversations is not ``ai``; ``queued`` with the urgency and
    reason when triage says a person is needed (``needs_human``, or ``escalate_urgent`` = urgent, with the
    supervisors subscribed), switching an AI conversation to ``assist`` and telling the customer; an
    unknown route counts as ``needs_human``. The autopilot may answer only an open conversation in ``ai``
    mode whose message triage found ``ai_ok``. `message_key` (the message id) seeds the fact ids.
    """
    b = _Builder(f"msg:{channel}:{message_key or now!r}", channel, now, None, None)
    conv = state.get(channel)
    mode: p.Mode = conv.mode if conv is not None else "ai"
    if conv is None:
        b.fact(p.Opened, customer_uid=channel, customer_name=p.clip(customer_name, p.MAX_NAME))
        if default_mode != "ai":
            b.fact(p.ModeChanged, mode=default_mode)
            mode = default_mode
        if roster.supervisors_watch_ai:
            b.subscribe(roster.supervisors())
    elif conv.status == "resolved":
        b.fact(p.Reopened)
    route = triage_route
    if route not in ("ai_ok", "needs_human", "escalate_urgent"):
        reason = f"unknown triage route {p.clip(route, 40)!r}" + (f": {reason}" if reason else "")
        route = "needs_human"
    if route == "ai_ok":
        return b.decision(autopilot=mode == "ai")
    urgency: p.Urgency = "urgent" if route == "escalate_urgent" else "normal"
    already_waiting = (
        conv is not None
        and conv.status == "open"
        and mode != "ai"
        and (conv.assignee is not None or conv.waiting_since is not None)
        and p.urgency_rank(conv.urgency) >= p.urgency_rank(urgency)
    )
    if not already_waiting:
        b.fact(p.Queued, urgency=urgency, reason=p.clip(reason, p.MAX_REASON))
    if mode == "ai":
        b.fact(p.ModeChanged, mode="assist")
        key: Literal["handover", "urgent_handover"] = "urgent_handover" if urgency == "urgent" else "handover"
        b.effects.append(SendToCustomer(channel, key, lang))
    if urgency == "urgent" and not already_waiting:
        b.subscribe(roster.supervisors())
    return b.decision(autopilot=False)


def on_staff_message(
    state: Reducer, channel: str, sender_uid: str, now: float, *, message_key: str
) -> Decision:
    """A staff member replied in a conversation: a ``responded`` fact if the customer was waiting (per the
    bot's facts), with how long. Replies from uids not on the roster are the caller's to ignore."""
    conv = state.get(channel)
    if conv is None or conv.waiting_since is None:
        return Decision()
    b = _Builder(f"staff:{channel}:{message_key}", channel, now, None, sender_uid)
    b.fact(p.Responded, waited=max(0.0, now - conv.waiting_since))
    return b.decision()
