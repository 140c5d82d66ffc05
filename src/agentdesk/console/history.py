"""A conversation's desk history (assignments, escalations, notes, labels) as lines for people."""

from __future__ import annotations

from typing import Final

from agentdesk.desk import protocol as p
from agentdesk.desk.state import Conversation
from agentdesk.tui.services import DeskHistoryItem

MAX_HISTORY: Final = 200

__all__ = ["MAX_HISTORY", "DeskHistoryItem", "combined", "describe"]


def describe(fact: p.Fact) -> DeskHistoryItem | None:
    """One line for a fact that changed a conversation (None for rejections: they go to the requester)."""
    text: str
    if isinstance(fact, p.Opened):
        text = "conversation opened"
    elif isinstance(fact, p.Queued):
        text = f"queued for a person ({fact.urgency})" + (f": {fact.reason}" if fact.reason else "")
    elif isinstance(fact, p.Assigned):
        text = f"assigned to {fact.assignee}"
    elif isinstance(fact, p.Released):
        text = "released to the queue"
    elif isinstance(fact, p.ModeChanged):
        text = f"mode changed to {fact.mode}"
    elif isinstance(fact, p.Escalated):
        text = f"escalated ({fact.urgency})" + (f": {fact.reason}" if fact.reason else "")
        if fact.note:
            text += f" — note: {fact.note}"
    elif isinstance(fact, p.Responded):
        text = f"first reply after {fact.waited:.0f} s"
    elif isinstance(fact, p.Resolved):
        text = "resolved"
    elif isinstance(fact, p.Reopened):
        text = "reopened"
    elif isinstance(fact, p.Noted):
        text = f"note: {fact.text}"
    elif isinstance(fact, p.Labeled):
        parts = [f"+{label}" for label in fact.add] + [f"-{label}" for label in fact.remove]
        text = "labels " + " ".join(parts)
    else:
        return None
    return DeskHistoryItem(at=fact.at, kind=fact.kind, by=fact.by, text=text)


def combined(conv: Conversation, seen: list[DeskHistoryItem]) -> tuple[DeskHistoryItem, ...]:
    """Facts seen this session, or, when none were (state restored from the cache), the notes and
    reasons the reducer keeps."""
    if seen:
        return tuple(seen)
    restored = [DeskHistoryItem(n.at, "noted", n.by, f"note: {n.text}") for n in conv.notes]
    restored += [DeskHistoryItem(conv.opened_at or 0.0, "reason", None, f"reason: {r}") for r in conv.reasons]
    return tuple(sorted(restored, key=lambda item: item.at))
