"""What the console asks of desk state: view counts, sorted queues, the next urgent conversation, the
filter-as-you-type match and the supervisor dashboard. Pure functions of a :class:`Reducer` and `now`.

Sorted lists are cached per (view, me) against the reducer's version, so a 10k-conversation queue is
sorted once per change, not once per query; rows are built only for the slice asked for.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from weakref import WeakKeyDictionary

from agentdesk.desk import protocol as p
from agentdesk.desk.state import VIEWS, Conversation, Reducer, View

HOUR: Final = 3600.0
_HIGH: Final = p.urgency_rank("high")


@dataclass(frozen=True, slots=True)
class QueueRow:
    channel_id: str
    customer_uid: str
    #: untrusted (the customer chose it): display it as literal text
    customer_name: str
    preview: str
    #: seconds the customer has been waiting for a person, None when nobody is owed a reply
    waiting: float | None
    mode: p.Mode
    assignee: str | None
    urgency: p.Urgency
    escalated: bool
    #: the latest reason a person was asked for (triage or escalation), "" if none
    reason: str
    unread: int
    labels: tuple[str, ...]
    last_activity: float


def row(conv: Conversation, now: float) -> QueueRow:
    waiting = None if conv.waiting_since is None else max(0.0, now - conv.waiting_since)
    return QueueRow(
        channel_id=conv.channel_id,
        customer_uid=conv.customer_uid,
        customer_name=conv.customer_name,
        preview=conv.preview,
        waiting=waiting,
        mode=conv.mode,
        assignee=conv.assignee,
        urgency=conv.urgency,
        escalated=conv.escalated,
        reason=conv.reasons[-1] if conv.reasons else "",
        unread=conv.unread,
        labels=tuple(sorted(conv.labels)),
        last_activity=conv.last_activity,
    )


def counts(state: Reducer, me: str | None) -> dict[View, int]:
    """Live count of every view for user `me`."""
    return {v: len(state.members(v, me)) for v in VIEWS}


SortKey = tuple[int, float, float, str]


@dataclass(slots=True)
class _Sorted:
    version: int
    ids: list[str]  # most urgent first
    keys: list[SortKey]  # their sort keys, in the same order (unique: the channel id is the last part)
    key_of: dict[str, SortKey]


_SORTED: WeakKeyDictionary[Reducer, dict[tuple[View, str | None], _Sorted]] = WeakKeyDictionary()
#: more changed conversations than this since the last query: sort the view again instead of moving them
INCREMENTAL_MAX = 256


def _sorted_ids(state: Reducer, view: View, me: str | None) -> list[str]:
    """The view's channel ids, most urgent first. Cached per state version; after a few changes (a message,
    a fact) only the changed conversations move (bisect), instead of sorting thousands again."""
    cache = _SORTED.setdefault(state, {})
    hit = cache.get((view, me))
    if hit is not None and hit.version == state.version:
        return hit.ids
    convs = state.conversations
    members = state.members(view, me)
    changed = state.changed_since(hit.version) if hit is not None else None
    if hit is not None and changed is not None and len(changed) <= INCREMENTAL_MAX:
        ids, keys, key_of = list(hit.ids), list(hit.keys), hit.key_of
        for cid in changed:
            old = key_of.pop(cid, None)
            if old is not None:
                i = bisect.bisect_left(keys, old)
                del keys[i], ids[i]
            if cid in members:
                new = convs[cid].sort_key()
                i = bisect.bisect_left(keys, new)
                keys.insert(i, new)
                ids.insert(i, cid)
                key_of[cid] = new
        cache[(view, me)] = _Sorted(state.version, ids, keys, key_of)
        return ids
    pairs = sorted((convs[cid].sort_key(), cid) for cid in members)
    ids = [cid for _, cid in pairs]
    keys = [k for k, _ in pairs]
    cache[(view, me)] = _Sorted(state.version, ids, keys, dict(zip(ids, keys, strict=True)))
    return ids


def queue(
    state: Reducer,
    view: View,
    me: str | None,
    now: float,
    *,
    text: str = "",
    limit: int | None = None,
) -> list[QueueRow]:
    """Rows of `view`, most urgent first, then the longest wait; `text` filters as in :func:`matches`."""
    ids = _sorted_ids(state, view, me)
    convs = state.conversations
    if not text.strip():
        return [row(convs[cid], now) for cid in (ids if limit is None else ids[:limit])]
    words = text.casefold().split()
    out: list[QueueRow] = []
    for cid in ids:
        conv = convs[cid]
        hay = _haystack(
            conv.customer_name,
            conv.customer_uid,
            conv.preview,
            conv.reasons[-1] if conv.reasons else "",
            conv.assignee,
            conv.mode,
            conv.urgency,
            conv.labels,
        )
        if all(w in hay for w in words):
            out.append(row(conv, now))
            if limit is not None and len(out) >= limit:
                break
    return out


def _haystack(
    name: str,
    uid: str,
    preview: str,
    reason: str,
    assignee: str | None,
    mode: str,
    urgency: str,
    labels: Iterable[str],
) -> str:
    return "\n".join((name, uid, preview, reason, assignee or "", mode, urgency, *labels)).casefold()


def matches(r: QueueRow, text: str) -> bool:
    """Filter-as-you-type: every whitespace-separated word of `text` occurs (case-insensitively) in the
    customer's name or uid, the preview, the reason, the assignee, a label, the mode or the urgency."""
    words = text.casefold().split()
    if not words:
        return True
    hay = _haystack(
        r.customer_name, r.customer_uid, r.preview, r.reason, r.assignee, r.mode, r.urgency, r.labels
    )
    return all(w in hay for w in words)


def next_urgent(
    state: Reducer,
    me: str | None,
    now: float,
    *,
    views: tuple[View, ...] = ("mine", "unassigned", "escalated"),
    exclude: str | None = None,
) -> QueueRow | None:
    """The conversation to jump to: the most urgent, then the longest waiting, across `views` (by default
    the user's own, the unassigned queue and escalations), then the most unread. Only conversations that
    are owed something count (a waiting customer, unread messages, or urgency high or above); None if
    there are none."""
    best: tuple[tuple[int, float, int, float, str], Conversation] | None = None
    seen: set[str] = set()
    for view in views:
        for cid in state.members(view, me):
            if cid in seen or cid == exclude:
                continue
            seen.add(cid)
            conv = state.conversations[cid]
            rank = p.urgency_rank(conv.urgency)
            if conv.waiting_since is None and conv.unread == 0 and rank < _HIGH:
                continue  # nothing is owed to anybody here
            waiting = conv.waiting_since if conv.waiting_since is not None else math.inf
            key = (-rank, waiting, -conv.unread, -conv.last_activity, cid)
            if best is None or key < best[0]:
                best = (key, conv)
    return None if best is None else row(best[1], now)


@dataclass(frozen=True, slots=True)
class Dashboard:
    counts: dict[View, int]
    resolved: int
    #: share of open conversations the AI is handling alone (AI sessions / All); None with none open
    autopilot_share: float | None
    #: share of resolved conversations no person was ever involved in; None with none resolved
    autopilot_resolved_share: float | None
    #: median of the current waits (seconds) of open conversations waiting for a person
    median_wait: float | None
    waiting: int
    #: (bucket end, Unassigned queue length at that time), oldest first
    queue_length: tuple[tuple[float, int], ...]
    #: (bucket end, median first-response time in seconds of the replies in that bucket, or None)
    first_response: tuple[tuple[float, float | None], ...]


def dashboard(
    state: Reducer, me: str | None, now: float, *, span: float = HOUR, step: float = 300.0
) -> Dashboard:
    """Supervisor figures; the series cover `span` seconds before `now` in buckets of `step` seconds."""
    view_counts = counts(state, me)
    open_convs = [c for c in state.conversations.values() if c.is_open]
    resolved = [c for c in state.conversations.values() if c.known and c.status == "resolved"]
    waits = sorted(
        now - c.waiting_since for c in open_convs if c.waiting_since is not None and c.mode != "ai"
    )
    n_all = view_counts["all"]
    return Dashboard(
        counts=view_counts,
        resolved=len(resolved),
        autopilot_share=view_counts["ai"] / n_all if n_all else None,
        autopilot_resolved_share=(
            sum(not c.touched_by_person for c in resolved) / len(resolved) if resolved else None
        ),
        median_wait=max(0.0, statistics.median(waits)) if waits else None,
        waiting=len(waits),
        queue_length=_queue_series(state, now, span, step),
        first_response=_response_series(state, now, span, step),
    )


def _bucket_ends(now: float, span: float, step: float) -> list[float]:
    n = max(1, math.ceil(span / step))
    return [now - (n - 1 - i) * step for i in range(n)]


def _queue_series(state: Reducer, now: float, span: float, step: float) -> tuple[tuple[float, int], ...]:
    ends = _bucket_ends(now, span, step)
    out: list[tuple[float, int]] = []
    length = state.queue_base
    changes = sorted(state.queue_changes, key=lambda c: c[0])  # the bot's clock is monotonic, mostly
    i = 0
    for end in ends:
        while i < len(changes) and changes[i][0] <= end:
            length += changes[i][1]
            i += 1
        out.append((end, length))
    return tuple(out)


def _response_series(
    state: Reducer, now: float, span: float, step: float
) -> tuple[tuple[float, float | None], ...]:
    ends = _bucket_ends(now, span, step)
    start = ends[0] - step
    buckets: list[list[float]] = [[] for _ in ends]
    for at, waited in state.responses:
        if start < at <= ends[-1]:
            index = min(len(ends) - 1, max(0, math.ceil((at - start) / step) - 1))
            buckets[index].append(waited)
    return tuple((end, statistics.median(b) if b else None) for end, b in zip(ends, buckets, strict=True))
