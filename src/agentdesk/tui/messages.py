"""Textual messages bridging the console service's events to the UI (the only place they are adapted)."""

from __future__ import annotations

from textual.message import Message

from agentdesk.tui.services import ConnectionChanged, OutboxChanged, QueueChanged, ServiceEvent, SyncChanged

_COALESCED = (QueueChanged, OutboxChanged, ConnectionChanged, SyncChanged)


class ServiceEventPosted(Message):
    """One service event. A queued `QueueChanged`/`OutboxChanged`/`ConnectionChanged`/`SyncChanged` is
    replaced by a newer one of the same type (a burst costs one repaint)."""

    def __init__(self, event: ServiceEvent) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, ServiceEventPosted)
            and isinstance(self.event, _COALESCED)
            and type(message.event) is type(self.event)
        )
