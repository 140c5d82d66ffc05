"""The queue without a desk bot: the visitors channels this user is subscribed to.

Against a plain WuKongIM there are no desk facts, so every conversation is one this console has seen a
message on (live or from `/conversation/sync` catch-up). A customer who spoke last is waiting since that
message; the longest wait comes first, then the most recent activity.
"""

from __future__ import annotations

import math

from agentdesk.desk.state import Reducer
from agentdesk.desk.views import QueueRow


def plain_rows(state: Reducer, now: float) -> list[QueueRow]:
    rows: list[QueueRow] = []
    for conv in state.conversations.values():
        waiting = max(0.0, now - conv.last_activity) if conv.preview_from == "customer" else None
        rows.append(
            QueueRow(
                channel_id=conv.channel_id,
                customer_uid=conv.customer_uid or conv.channel_id,
                customer_name=conv.customer_name,
                preview=conv.preview,
                waiting=waiting,
                mode="assist",
                assignee=None,
                urgency="normal",
                escalated=False,
                reason="",
                unread=conv.unread,
                labels=(),
                last_activity=conv.last_activity,
            )
        )
    rows.sort(
        key=lambda r: (-(r.waiting if r.waiting is not None else -math.inf), -r.last_activity, r.channel_id)
    )
    return rows
