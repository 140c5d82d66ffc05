"""What the desk decided, read the way any console reads it: the desk log over REST.

`DeskWatch` pulls the desk channel with ``/channel/messagesync`` (from the last seq + 1, pull mode 1),
folds the bot's facts with :class:`agentdesk.desk.state.Reducer` and keeps, per conversation, whether it
was ever handed to people and at which urgency. It knows nothing about the bot's internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

from agentdesk.desk import protocol as p
from agentdesk.desk.state import LogEntry, Reducer
from agentdesk.wukongim.packets import ChannelType
from agentdesk.wukongim.rest import RestClient, RestError

log = logging.getLogger(__name__)

GROUP: Final = int(ChannelType.GROUP)
PAGE: Final = 500
#: pages pulled per poll at most (a poll is bounded; the next one continues)
MAX_PAGES: Final = 20

DeskRoute = Literal["ai_ok", "needs_human", "escalate_urgent"]


@dataclass(slots=True)
class Handling:
    """Per conversation: what the desk's facts say happened to it."""

    opened: bool = False
    queued: bool = False
    escalated: bool = False
    top_urgency: p.Urgency | None = None
    reasons: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)


class DeskWatch:
    def __init__(
        self,
        rest: RestClient,
        *,
        desk_channel: str,
        bot_uid: str,
        login_uid: str,
        on_fact: Callable[[p.Fact], None] | None = None,
    ) -> None:
        self.on_fact = on_fact
        self.rest = rest
        self.desk_channel = desk_channel
        self.bot_uid = bot_uid
        self.login_uid = login_uid
        self.reducer = Reducer(bot_uid)
        self.last_seq = 0
        self.handling: dict[str, Handling] = {}
        self.last_error: str = ""

    async def poll(self) -> int:
        """Pull what is new on the desk channel; the number of facts applied. Never raises RestError."""
        applied = 0
        try:
            for _ in range(MAX_PAGES):
                page = await self.rest.channel_messagesync(
                    self.login_uid,
                    self.desk_channel,
                    GROUP,
                    start_message_seq=self.last_seq + 1,
                    limit=PAGE,
                    pull_mode=1,
                )
                for m in page.messages:
                    if m.message_seq <= self.last_seq:
                        continue
                    fact = self.reducer.apply(LogEntry(m.message_seq, m.from_uid, m.payload))
                    self.last_seq = max(self.last_seq, m.message_seq)
                    if fact is not None:
                        applied += 1
                        self._note(fact)
                        if self.on_fact is not None:
                            self.on_fact(fact)
                if not page.more or not page.messages:
                    break
            self.last_error = ""
        except RestError as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
        return applied

    def _note(self, fact: p.Fact) -> None:
        h = self.handling.setdefault(fact.channel, Handling())
        h.facts.append(fact.kind)
        if isinstance(fact, p.Opened):
            h.opened = True
        elif isinstance(fact, p.Queued | p.Escalated):
            h.queued = True
            h.escalated = h.escalated or isinstance(fact, p.Escalated)
            if h.top_urgency is None or p.urgency_rank(fact.urgency) > p.urgency_rank(h.top_urgency):
                h.top_urgency = fact.urgency
            if fact.reason and fact.reason not in h.reasons:
                h.reasons.append(fact.reason)

    async def run(self, interval: float) -> None:
        """Poll every `interval` s until cancelled."""
        while True:
            await self.poll()
            await asyncio.sleep(interval)

    # -- queries --------------------------------------------------------------------------------------

    def with_people(self, channel: str) -> bool:
        """True when the conversation is open and not in AI mode: the bot will not answer it."""
        conv = self.reducer.get(channel)
        return conv is not None and conv.known and conv.status == "open" and conv.mode != "ai"

    def route(self, channel: str) -> DeskRoute | None:
        """What the desk decided: urgent queue → escalate_urgent, any queue → needs_human, opened and
        never queued → ai_ok; None when the desk never opened the conversation."""
        h = self.handling.get(channel)
        if h is None or not h.opened:
            return None
        if h.queued:
            return "escalate_urgent" if h.top_urgency == "urgent" else "needs_human"
        return "ai_ok"

    def mode(self, channel: str) -> p.Mode | None:
        conv = self.reducer.get(channel)
        return conv.mode if conv is not None and conv.known else None

    def customer_name(self, channel: str) -> str | None:
        """The display name the ``opened`` fact gave the customer (untrusted text), None if unknown."""
        conv = self.reducer.get(channel)
        return conv.customer_name if conv is not None else None

    def urgency(self, channel: str) -> p.Urgency | None:
        h = self.handling.get(channel)
        if h is not None and h.top_urgency is not None:
            return h.top_urgency
        conv = self.reducer.get(channel)
        return conv.urgency if conv is not None and conv.known else None

    def reason(self, channel: str) -> str:
        h = self.handling.get(channel)
        return "; ".join(h.reasons) if h is not None else ""

    def queued(self, channel: str) -> bool:
        h = self.handling.get(channel)
        return h is not None and h.queued


def describe(fact: p.Fact) -> str:
    """One log line for a fact that changes who handles a conversation ("" for the others)."""
    detail = ""
    if isinstance(fact, p.Queued | p.Escalated):
        detail = f" ({fact.urgency}): {fact.reason}"
    elif isinstance(fact, p.ModeChanged):
        detail = f" → {fact.mode}"
    elif isinstance(fact, p.Assigned):
        detail = f" → {fact.assignee}"
    elif not isinstance(fact, p.Opened | p.Released | p.Resolved | p.Reopened):
        return ""
    by = f" by {fact.by}" if fact.by else ""
    return f"desk: {fact.channel} {fact.kind}{detail}{by}"


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a task and wait for it (its own errors are logged, not raised)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        try:
            await task
        except Exception:
            log.exception("task %s failed", task.get_name())
