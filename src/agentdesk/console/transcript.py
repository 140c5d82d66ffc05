"""Transcript items from stored messages and from the outbox (replies not yet acknowledged)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from agentdesk.console.payloads import decode_payload
from agentdesk.tui.services import ReplyStatus, Role, TranscriptItem
from agentdesk.wukongim.store import OutboxEntry, StoredMessage

VISITORS = 10
_ROLES: dict[str, Role] = {"customer": "customer", "staff": "staff", "me": "me", "bot": "bot"}


def message_items(
    messages: Iterable[StoredMessage], role_of: Callable[[StoredMessage], str]
) -> list[TranscriptItem]:
    items: list[TranscriptItem] = []
    for m in messages:
        decoded = decode_payload(m.payload)
        role = _ROLES.get(role_of(m), "staff")
        items.append(
            TranscriptItem(
                key=f"m{m.message_id}",
                role=role,
                sender=m.from_uid,
                at=float(m.timestamp),
                kind=decoded.kind,
                text=decoded.text,
                url=decoded.url,
                size=decoded.size,
                type_name=decoded.type_name,
                status="sent" if role == "me" else "",
                client_msg_no=m.client_msg_no,
            )
        )
    return items


def outbox_items(
    outbox: Iterable[OutboxEntry],
    channel_id: str,
    me: str,
    shown: Iterable[TranscriptItem],
    tracked: Mapping[str, tuple[str, ReplyStatus]],
) -> list[TranscriptItem]:
    """My replies to `channel_id` still in the outbox (not yet in the store), with their status."""
    seen = {item.client_msg_no for item in shown if item.client_msg_no}
    items: list[TranscriptItem] = []
    for entry in outbox:
        if entry.channel_id != channel_id or entry.channel_type != VISITORS or entry.client_msg_no in seen:
            continue
        known = tracked.get(entry.client_msg_no)
        status: ReplyStatus = "failed" if entry.state == "failed" else (known[1] if known else "pending")
        items.append(
            TranscriptItem(
                key=f"o{entry.client_msg_no}",
                role="me",
                sender=me,
                at=entry.created_at,
                text=decode_payload(entry.payload).text,
                status="pending" if status == "sent" else status,
                client_msg_no=entry.client_msg_no,
            )
        )
    return items
