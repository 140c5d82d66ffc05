"""What the bot does with one message: customer turns (triage, autopilot, handover), staff replies
(``responded``) and desk requests (``decide``), turned into facts and outbox rows in one transaction.

The desk rules themselves live in :mod:`agentdesk.desk.rules`; this module feeds them in order. Each
message's facts are folded into the bot's :class:`~agentdesk.desk.state.Reducer` before the next message
is looked at, so requests are decided in desk-channel order against up-to-date state (two concurrent
claims: one ``assigned``, one ``rejected``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agentdesk.ai import DraftEngine, DraftResult
from agentdesk.ai.retrieval import gather_hits
from agentdesk.bot import turns
from agentdesk.bot.config import BotConfig
from agentdesk.bot.store import BotStore, InboxRow, Outgoing
from agentdesk.desk import protocol as p
from agentdesk.desk import rules
from agentdesk.desk.state import Reducer
from agentdesk.faq.store import FaqStore
from agentdesk.wukongim.packets import ChannelType
from agentdesk.wukongim.rest import MessageResp

log = logging.getLogger(__name__)

VISITORS = int(ChannelType.VISITORS)
GROUP = int(ChannelType.GROUP)


def client_msg_no(purpose: str, key: str) -> str:
    """A deterministic client_msg_no: the same trigger and purpose always give the same one."""
    return "deskbot-" + hashlib.sha256(f"{purpose}\x00{key}".encode()).hexdigest()[:32]


@dataclass(slots=True)
class Plan:
    """Everything one message leads to, written in one transaction."""

    facts: list[p.Fact] = field(default_factory=list)
    first: list[Outgoing] = field(default_factory=list)  # subscriber_add (before the facts)
    last: list[Outgoing] = field(default_factory=list)  # subscriber_remove, customer messages
    turns: list[tuple[str, str, bytes]] = field(default_factory=list)  # channel, role, payload
    clear_context: set[str] = field(default_factory=set)
    #: what happened, for logs, /health and tests
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class Processed:
    message_id: int
    channel_id: str
    channel_type: int
    outcome: str
    at: float


class Router:
    def __init__(
        self,
        config: BotConfig,
        store: BotStore,
        engine: DraftEngine,
        faq: FaqStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.roster = config.roster
        self.store = store
        self.engine = engine
        self.faq = faq
        self.clock = clock
        self.state = Reducer(config.bot_uid)
        self.processed = 0
        self.autopilot_answers = 0
        self.handovers = 0
        self.rebuild()

    def rebuild(self) -> None:
        """Fold every fact the bot ever decided (the state the last run ended with)."""
        self.state = Reducer(self.config.bot_uid)
        for body in self.store.facts():
            fact = p.parse_payload(body)
            if isinstance(fact, p.Fact):
                self.state.apply_fact(fact)

    # --- one message ----------------------------------------------------------------------------------

    async def handle(self, row: InboxRow) -> Processed:
        m = row.message
        plan = Plan()
        bot = self.config.bot_uid
        if m.from_uid == bot:
            plan.outcome = "own message"
        elif m.channel_type == GROUP and m.channel_id == self.config.desk_channel:
            self._desk_message(m, plan)
        elif m.channel_type == VISITORS:
            if m.from_uid == m.channel_id:
                await self._customer_message(m, plan)
            elif self.roster.role(m.from_uid) is not None:
                self._staff_message(m, plan)
            else:
                plan.outcome = "ignored: sender is neither the visitor nor on the roster"
        else:
            plan.outcome = "ignored: not a visitors channel or the desk channel"
        self._commit(row, plan)
        self.processed += 1
        log.debug("message %s on %r: %s", m.message_id, m.channel_id, plan.outcome)
        return Processed(m.message_id, m.channel_id, m.channel_type, plan.outcome, self.clock())

    def _commit(self, row: InboxRow, plan: Plan) -> None:
        desk = self.config.desk_channel
        with self.store.transaction():
            for item in plan.first:
                self.store.add_outgoing(item)
            for fact in plan.facts:
                body = p.encode_bytes(fact)
                self.store.add_fact(fact.id, body)
                self.store.add_outgoing(Outgoing("send", desk, GROUP, body, client_msg_no("fact", fact.id)))
            for item in plan.last:
                self.store.add_outgoing(item)
            for channel in plan.clear_context:
                self.store.clear_turns(channel)
            for channel, role, payload in plan.turns:
                self.store.add_turn(channel, role, payload)
            self.store.mark_processed(row.id)

    def _fold(self, plan: Plan, decision: rules.Decision) -> None:
        """Fold a decision's facts now (the next decision must see them) and plan its effects."""
        for fact in decision.facts:
            if self.state.apply_fact(fact):
                plan.facts.append(fact)
                if isinstance(fact, p.ModeChanged) and fact.mode == "ai":
                    plan.clear_context.add(fact.channel)  # a fresh start for triage after a hand back
        for effect in decision.effects:
            if isinstance(effect, rules.SubscriberAdd):
                plan.first.append(_subs("sub_add", effect.channel_id, effect.uids))
            elif isinstance(effect, rules.SubscriberRemove):
                plan.last.append(_subs("sub_remove", effect.channel_id, effect.uids))

    # --- desk channel -----------------------------------------------------------------------------------

    def _desk_message(self, m: MessageResp, plan: Plan) -> None:
        event = p.parse_payload(m.payload)
        if not isinstance(event, p.Request):
            plan.outcome = "desk: not a request"
            return
        decision = rules.decide(self.state, event, m.from_uid, self.roster, self.clock())
        self._fold(plan, decision)
        if decision.rejected:
            why = decision.facts[0].why if isinstance(decision.facts[0], p.Rejected) else ""
            log.info("rejected %s from %r: %r", event.kind, m.from_uid, why)
            plan.outcome = f"desk: {event.kind} rejected"
        else:
            plan.outcome = (
                f"desk: {event.kind} -> {', '.join(f.kind for f in decision.facts) or 'nothing new'}"
            )

    # --- visitors channels ----------------------------------------------------------------------------

    def _staff_message(self, m: MessageResp, plan: Plan) -> None:
        decision = rules.on_staff_message(
            self.state, m.channel_id, m.from_uid, self.clock(), message_key=str(m.message_id)
        )
        self._fold(plan, decision)
        plan.turns.append((m.channel_id, "agent", m.payload))
        plan.outcome = "staff reply" + (" (responded)" if decision.facts else "")

    async def _customer_message(self, m: MessageResp, plan: Plan) -> None:
        channel, key, now = m.channel_id, str(m.message_id), self.clock()
        cfg = self.config
        if self.state.get(channel) is None:
            plan.first.append(_subs("sub_add", channel, (cfg.bot_uid,)))
            if cfg.default_mode != "ai":
                self._open_in(channel, cfg.default_mode, key, now, plan)
        history = [*self.store.turns(channel), ("customer", m.payload)]
        conv = turns.conversation(history, channel_id=channel)
        lang = turns.customer_lang(conv)
        triage = self.engine.triage(conv)
        route: str = triage.route
        reason = triage.reason
        current = self.state.get(channel)
        mode = current.mode if current is not None else "ai"
        draft: DraftResult | None = None
        if mode != "ai" and route == "ai_ok":
            route, reason = "needs_human", f"{mode} mode: a person answers"
        elif route == "ai_ok":
            hits = gather_hits(self.faq.search, conv)
            draft = await self.engine.draft_result(conv, hits)
            if draft.route != "ai_ok":
                route, reason = draft.route, draft.reason
            elif draft.confidence < cfg.min_confidence:
                route = "needs_human"
                reason = f"not confident enough to answer ({draft.confidence:.2f} < {cfg.min_confidence:.2f})"
        decision = rules.on_customer_message(
            self.state, channel, route, reason, now, roster=self.roster, message_key=key, lang=lang
        )
        self._fold(plan, decision)
        plan.turns.append((channel, "customer", m.payload))
        if decision.autopilot and draft is not None:
            reply = turns.text_payload(draft.text)
            plan.last.append(Outgoing("send", channel, VISITORS, reply, client_msg_no("reply", key)))
            plan.turns.append((channel, "bot", reply))
            self.autopilot_answers += 1
            plan.outcome = f"autopilot answer ({', '.join(draft.faq_ids)}; confidence {draft.confidence:.2f})"
            return
        for effect in decision.effects:
            if isinstance(effect, rules.SendToCustomer):
                text = turns.handover_text(effect.text_key, effect.lang or lang)
                payload = turns.text_payload(text)
                plan.last.append(
                    Outgoing("send", channel, VISITORS, payload, client_msg_no(effect.text_key, key))
                )
                plan.turns.append((channel, "bot", payload))
                self.handovers += 1
        plan.outcome = f"route {route} in {mode} mode: " + (
            ", ".join(f.kind for f in decision.facts) or "no change"
        )

    def _open_in(self, channel: str, mode: p.Mode, key: str, now: float, plan: Plan) -> None:
        """A new conversation in a default mode other than ``ai``: ``opened`` then ``mode_changed``."""
        seed = f"open:{channel}:{key}"
        opened = p.Opened(id=rules.fact_id(seed, 0), channel=channel, at=now, customer_uid=channel)
        changed = p.ModeChanged(id=rules.fact_id(seed, 1), channel=channel, at=now, mode=mode)
        effects: tuple[rules.Effect, ...] = ()
        if self.roster.supervisors_watch_ai:
            effects = (rules.SubscriberAdd(channel, self.roster.supervisors()),)
        self._fold(plan, rules.Decision((opened, changed), effects))


def _subs(action: str, channel: str, uids: tuple[str, ...]) -> Outgoing:
    return Outgoing(action, channel, VISITORS, json.dumps(list(uids)).encode())
