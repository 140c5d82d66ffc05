"""Scripted desk logs for the desk tests: a pure, in-process desk bot writing a real desk log."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from agentdesk.desk import protocol as p
from agentdesk.desk.rules import Decision, Roster, decide, on_customer_message, on_staff_message
from agentdesk.desk.state import LogEntry, Reducer

BOT = "deskbot"
ROSTER_TOML = """
[users]
alice = "agent"
bob = "agent"
sam = "supervisor"
ada = "admin"

[settings]
supervisors_watch_ai = false
"""
ROSTER = Roster.parse(ROSTER_TOML)
T0 = 1_800_000_000.0


def rid(n: int | None = None) -> str:
    """A request id: uuid4 hex, or a fixed one for readable tests."""
    return uuid.uuid4().hex if n is None else f"{n:032x}"


@dataclass
class DeskSim:
    """The bot's loop without a transport: requests and facts go to one desk log in seq order; the bot
    folds its own facts before it handles the next request."""

    roster: Roster = ROSTER
    bot: Reducer = field(default_factory=lambda: Reducer(BOT))
    log: list[LogEntry] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    now: float = T0

    def post(self, from_uid: str, payload: bytes | str | Mapping[str, object]) -> LogEntry:
        entry = LogEntry(len(self.log) + 1, from_uid, payload)
        self.log.append(entry)
        return entry

    def _publish(self, decision: Decision) -> Decision:
        self.decisions.append(decision)
        for fact in decision.facts:
            self.bot.apply_fact(fact)
            self.post(BOT, p.encode_bytes(fact))
        return decision

    def request(self, sender: str, req: p.Request, *, dt: float = 1.0) -> Decision:
        self.now += dt
        self.post(sender, p.encode_bytes(req))
        return self._publish(decide(self.bot, req, sender, self.roster, self.now))

    def customer(
        self,
        channel: str,
        route: str = "ai_ok",
        reason: str = "",
        *,
        name: str = "",
        dt: float = 1.0,
        default_mode: p.Mode = "ai",
    ) -> Decision:
        self.now += dt
        decision = on_customer_message(
            self.bot,
            channel,
            route,
            reason,
            self.now,
            roster=self.roster,
            customer_name=name,
            message_key=f"m{len(self.log)}",
            default_mode=default_mode,
        )
        self._publish(decision)
        self.bot.apply_message(channel, sender="customer", at=self.now, text="hi")
        return decision

    def staff_reply(self, channel: str, sender: str, *, dt: float = 1.0) -> Decision:
        self.now += dt
        decision = on_staff_message(self.bot, channel, sender, self.now, message_key=f"s{len(self.log)}")
        self._publish(decision)
        self.bot.apply_message(channel, sender="staff", at=self.now, text="hello")
        return decision

    def console(self) -> Reducer:
        state = Reducer(BOT)
        state.apply_many(self.log)
        return state


def facts_of(decision: Decision) -> list[str]:
    return [f.kind for f in decision.facts]


def why(decision: Decision) -> str:
    assert len(decision.facts) == 1
    fact = decision.facts[0]
    assert isinstance(fact, p.Rejected)
    return fact.why
