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

from agentdesk.ai import Conversation, DraftEngine, DraftResult
from agentdesk.ai.retrieval import gather_hits
from agentdesk.bot import turns
from agentdesk.bot.config import BotConfig
from agentdesk.bot.store import BotStore, InboxRow, Outgoing
from agentdesk.desk import protocol as p
from agentdesk.desk import rules
from agentdesk.desk.state import Reducer
from agentdesk.faq.model import FaqHit
from agentdesk.faq.store import FaqStore
from agentdesk.wukongim.packets import ChannelType
from agentdesk.wukongim.rest import MessageResp

log = logging.getLogger(__name__)

VISITORS = int(ChannelType.VISITORS)
GROUP = int(ChannelType.GROUP)
#: FAQ hits a draft gets
HITS = 5


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
    #: autopilot answers sent: channel, text digest, cited FAQ ids
    answers: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
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
            for channel, digest, faq_ids in plan.answers:
                self.store.add_answer(channel, digest, faq_ids)
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
        current = self.state.get(channel)
        name = ""
        if current is None:
            plan.first.append(_subs("sub_add", channel, (cfg.bot_uid,)))
            # the message that opens the conversation names the customer, if it carries a name
            name = turns.display_name(m.payload)
        # a new conversation starts in the default mode (`on_customer_message` opens it so)
        mode: p.Mode = current.mode if current is not None else cfg.default_mode
        history = [*self.store.turns(channel), ("customer", m.payload)]
        conv = turns.conversation(history, channel_id=channel)
        lang = turns.customer_lang(conv)
        triage = self.engine.triage(conv)
        route: str = triage.route
        reason = triage.reason
        draft: DraftResult | None = None
        if mode != "ai" and route == "ai_ok":
            route, reason = "needs_human", f"{mode} mode: a person answers"
        elif route == "ai_ok":
            draft, route, reason = await self._answer(channel, conv)
        decision = rules.on_customer_message(
            self.state,
            channel,
            route,
            reason,
            now,
            roster=self.roster,
            customer_name=name,
            message_key=key,
            lang=lang,
            default_mode=cfg.default_mode,
        )
        self._fold(plan, decision)
        plan.turns.append((channel, "customer", m.payload))
        if decision.autopilot and draft is not None:
            reply = turns.text_payload(draft.text)
            plan.last.append(Outgoing("send", channel, VISITORS, reply, client_msg_no("reply", key)))
            plan.turns.append((channel, "bot", reply))
            plan.answers.append((channel, turns.answer_digest(draft.text), draft.faq_ids))
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

    async def _answer(self, channel: str, conv: Conversation) -> tuple[DraftResult | None, str, str]:
        """The autopilot's answer to a conversation triage found ``ai_ok``: ``(draft, route, reason)``,
        the draft None when a person must answer instead.

        The FAQ is searched for the conversation with the latest customer message at full weight. The
        autopilot never sends a text it already sent in this conversation: when the draft repeats one, it
        drafts again without the FAQ entries its earlier answers cited, and sends that other answer only
        at `min_other_confidence`; otherwise it sends the repeated answer's short form once (a follow-up
        that the same entry answers), and only when that was sent too is the conversation handed over
        ("no new answer")."""
        cfg = self.config
        sent, cited = self.store.answers(channel)
        hits = self._hits(conv)
        draft = await self.engine.draft_result(conv, hits)
        if draft.route != "ai_ok":
            return None, draft.route, draft.reason
        if draft.confidence < cfg.min_confidence:
            why = f"not confident enough to answer ({draft.confidence:.2f} < {cfg.min_confidence:.2f})"
            return None, "needs_human", why
        if turns.answer_digest(draft.text) not in sent:
            return draft, "ai_ok", draft.reason
        repeated = ", ".join(draft.faq_ids) or "the same reply"
        others = [h for h in hits if h.id not in cited]
        if not others:
            return None, "needs_human", f"no new answer: {repeated} was already sent"
        other = await self.engine.draft_result(conv, others)
        floor = max(cfg.min_confidence, cfg.min_other_confidence)
        if other.route != "ai_ok":
            why = f"{repeated} was already sent; {other.reason}"
        elif other.confidence < floor:
            why = (
                f"{repeated} was already sent; the next FAQ match is not confident enough "
                f"({other.confidence:.2f} < {floor:.2f})"
            )
        elif turns.answer_digest(other.text) in sent:
            why = f"{repeated} was already sent"
        else:
            return other, "ai_ok", f"{other.reason} ({repeated} was already sent)"
        # A follow-up that the same entry answers (a clarification, a detail) gets that answer once more
        # in its short form, never the identical text; asked yet again, a person takes over.
        short = await self.engine.draft_result(conv, hits, tone="shorter")
        if (
            short.route == "ai_ok"
            and short.confidence >= cfg.min_confidence
            and turns.answer_digest(short.text) not in sent
        ):
            return short, "ai_ok", f"follow-up: {repeated} again, in short ({short.reason})"
        return None, "needs_human", f"no new answer: {why}"

    def _hits(self, conv: Conversation) -> list[FaqHit]:
        """FAQ hits for the whole conversation, merged with the latest customer message's own hits at full
        weight (`gather_hits` weighs single messages down): a follow-up question gets its own answer."""
        best = {h.id: h for h in gather_hits(self.faq.search, conv)}
        customer = conv.customer_messages()
        if len(customer) > 1:
            latest = Conversation(messages=(customer[-1],), id=conv.id)
            for hit in gather_hits(self.faq.search, latest):
                prev = best.get(hit.id)
                if prev is None or hit.score > prev.score:
                    best[hit.id] = hit
        return sorted(best.values(), key=lambda h: (-h.score, h.id))[:HITS]


def _subs(action: str, channel: str, uids: tuple[str, ...]) -> Outgoing:
    return Outgoing(action, channel, VISITORS, json.dumps(list(uids)).encode())
