"""Filling gaps over REST after a (re)connect, and checking the outbox against server history.

PROTOCOL.md g.4: ``/conversation/sync`` with the store's per-channel contiguous seqs names the
channels with news; each is pulled with ``/channel/messagesync`` (pull_mode 1, from contiguous + 1,
while ``more``). Channels with known gaps are pulled too. A channel the store has never seen starts
``backfill`` messages before its last seq (older history is not tracked).

`reconcile_outbox`: an entry that was written to a socket (attempts > 0) but never acked may or may
not be stored on the server, which does not de-duplicate; so its channel's history after the entry's
``seq_hint`` is searched for its client_msg_no before it may be re-sent.

`AsyncStore` runs the synchronous `MessageStore` on one worker thread (SQLite never blocks the loop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from agentdesk.wukongim.rest import MessageResp, RestClient
from agentdesk.wukongim.store import MessageStore, OutboxEntry, StoredMessage

__all__ = [
    "AsyncStore",
    "CatchUpResult",
    "catch_up",
    "fill_gaps",
    "ingest",
    "ingest_live",
    "reconcile_outbox",
    "to_stored",
]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: safety bound on pages per channel and run (limit × pages messages at most)
MAX_PAGES = 200


class AsyncStore:
    """The store behind a single worker thread, so calls are serialised and the loop never blocks."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wk-store")

    async def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


def to_stored(m: MessageResp) -> StoredMessage:
    flags = (0x01 if m.no_persist else 0) | (0x02 if m.red_dot else 0) | (0x04 if m.sync_once else 0)
    return StoredMessage(
        message_id=m.message_id,
        message_seq=m.message_seq,
        client_msg_no=m.client_msg_no,
        from_uid=m.from_uid,
        channel_id=m.channel_id,
        channel_type=m.channel_type,
        timestamp=m.timestamp,
        payload=m.payload,
        setting=m.setting,
        flags=flags,
    )


@dataclass(slots=True)
class CatchUpResult:
    new: list[StoredMessage]
    channels: int


def ingest(store: MessageStore, batch: Iterable[StoredMessage], backfill: int) -> list[StoredMessage]:
    """Store a batch; a channel seen for the first time gets a baseline ``backfill`` before it."""
    items = list(batch)
    first: dict[tuple[str, int], int] = {}
    for m in items:
        if store.channel(m.channel_id, m.channel_type) is None and m.message_seq > 0:
            key = (m.channel_id, m.channel_type)
            first[key] = min(first.get(key, m.message_seq), m.message_seq)
    # one transaction: the baselines, the rows and the seq bookkeeping are written together or not at
    # all (a sqlite error, e.g. a full disk, rolls everything back and propagates: nothing may be acked)
    with store.atomic():
        for (cid, ctype), seq in first.items():
            store.set_baseline(cid, ctype, max(0, seq - 1 - backfill))
        return store.store_received(items)


def ingest_live(
    store: MessageStore, batch: list[StoredMessage], backfill: int
) -> tuple[list[StoredMessage], bool]:
    """ingest() plus: does any channel of the batch now have a gap?

    Atomic like ingest(): on a sqlite error nothing of the batch is stored, no seq advances, and the
    error propagates (the client then acks nothing and reconnects; the server re-delivers or the
    catch-up pulls the batch)."""
    new = ingest(store, batch, backfill)
    gap = False
    for key in {m.channel for m in batch}:
        st = store.channel(*key)
        if st is not None and st.max_seq > st.contiguous_seq:
            gap = True
    return new, gap


async def _pull(
    rest: RestClient,
    db: AsyncStore,
    login_uid: str,
    key: tuple[str, int],
    start: int,
    page_size: int,
    backfill: int,
) -> list[StoredMessage]:
    cid, ctype = key
    new: list[StoredMessage] = []
    last = 0
    for _ in range(MAX_PAGES):
        page = await rest.channel_messagesync(
            login_uid, cid, ctype, start_message_seq=start, end_message_seq=0, limit=page_size, pull_mode=1
        )
        msgs = [to_stored(m) for m in page.messages if m.message_seq >= start]
        if msgs:
            new += await db.call(ingest, db.store, msgs, backfill)
            last = msgs[-1].message_seq
        if not page.more or not msgs:
            if not page.more and last:
                # the server's history up to `last` is complete: a seq still missing below it will
                # never come (expired, deleted, not persisted); stop asking for it on every reconnect
                await db.call(db.store.set_baseline, cid, ctype, last)
            break
        start = msgs[-1].message_seq + 1
    return new


async def catch_up(
    rest: RestClient, db: AsyncStore, login_uid: str, *, backfill: int = 100, page_size: int = 200
) -> CatchUpResult:
    """g.4 steps 2-3. Returns the messages stored for the first time (ascending per channel)."""
    last = await db.call(db.store.last_seqs)
    convs = await rest.conversation_sync(login_uid, last, msg_count=1)
    targets: dict[tuple[str, int], int] = {}
    for c in convs:
        key = (c.channel_id, c.channel_type)
        known = last.get(key)
        if known is None:
            base = max(0, c.last_msg_seq - backfill)
            await db.call(db.store.set_baseline, c.channel_id, c.channel_type, base)
            start = base + 1
        else:
            start = known + 1
        if c.last_msg_seq >= start:
            targets[key] = start
    for key in await db.call(db.store.channels_with_gaps):
        st = await db.call(db.store.channel, *key)
        if st is not None and key not in targets:
            targets[key] = st.contiguous_seq + 1
    new: list[StoredMessage] = []
    for key, start in targets.items():
        new += await _pull(rest, db, login_uid, key, start, page_size, backfill)
    return CatchUpResult(new, len(targets))


async def fill_gaps(
    rest: RestClient, db: AsyncStore, login_uid: str, *, page_size: int = 200
) -> list[StoredMessage]:
    """Pull every channel the store knows a gap in (while online: a RECV that never came)."""
    new: list[StoredMessage] = []
    for key in await db.call(db.store.channels_with_gaps):
        st = await db.call(db.store.channel, *key)
        if st is not None:
            new += await _pull(rest, db, login_uid, key, st.contiguous_seq + 1, page_size, backfill=0)
    return new


async def reconcile_outbox(
    rest: RestClient, db: AsyncStore, login_uid: str, *, page_size: int = 200
) -> tuple[list[tuple[OutboxEntry, StoredMessage]], list[StoredMessage]]:
    """Find unacked entries that did reach the server. Returns ([(entry, stored copy)], other new msgs).

    Entries with attempts = 0 never left this machine and are not searched.
    """
    entries = [e for e in await db.call(db.store.outbox_unacked) if e.attempts > 0]
    found: list[tuple[OutboxEntry, StoredMessage]] = []
    new: list[StoredMessage] = []
    by_channel: dict[tuple[str, int], list[OutboxEntry]] = {}
    for e in entries:
        by_channel.setdefault((e.channel_id, e.channel_type), []).append(e)
    for key, group in by_channel.items():
        missing = []
        for e in group:
            hit = await db.call(db.store.find_client_msg_no, e.channel_id, e.channel_type, e.client_msg_no)
            if hit is not None:
                found.append((e, hit))
            else:
                missing.append(e)
        if not missing:
            continue
        start = min(e.seq_hint for e in missing) + 1
        new += await _pull(rest, db, login_uid, key, start, page_size, backfill=0)
        for e in missing:
            hit = await db.call(db.store.find_client_msg_no, e.channel_id, e.channel_type, e.client_msg_no)
            if hit is not None:
                found.append((e, hit))
    mine = {e.client_msg_no for e, _ in found}
    return found, [m for m in new if m.client_msg_no not in mine]
