"""A client's local message store and durable outbox (SQLite, one file per user).

API::

    store = MessageStore.open(path)              # schema via sqlite_db.open_db; corrupt → moved aside
    new = store.store_received([msg, ...])       # idempotent: returns only the messages not seen before
    store.channel("g1", 2)                       # ChannelSeq(contiguous_seq, max_seq) or None
    store.last_seqs()                            # {(channel_id, channel_type): contiguous_seq}
    store.gaps("g1", 2)                          # [(first_missing, last_missing), ...]
    entry = store.outbox_add("g1", 2, b'{"type":1,"content":"hi"}')
    store.outbox_attempt(entry.client_msg_no)    # before the SEND is written
    store.outbox_acked(entry.client_msg_no, message_id=…, message_seq=…, from_uid="me", timestamp=…)
    store.outbox_failed(entry.client_msg_no, reason_code)

Messages are keyed by ``message_id`` with a UNIQUE ``(channel_id, channel_type, client_msg_no)``
guard (the server does not de-duplicate re-sent SENDs, PROTOCOL.md g.1), so a re-sent copy with a new
message_id is recognised and dropped. Person channels are stored under the *peer* uid, as RECV shows
them. Per channel the store tracks ``contiguous_seq`` (every seq up to it has been seen, counting
dropped duplicates) and ``max_seq``; seqs above ``contiguous_seq`` are kept in ``seen_seqs`` so gaps
are known exactly. A channel's history before its *baseline* (`set_baseline`) is not tracked.

The outbox holds replies until the server acknowledged them: ``pending`` (never written, or written
on a connection that is gone), ``sent`` (SEND written on the current connection, SENDACK awaited),
``failed`` (SENDACK with a reason ≠ 1; kept for the user to see). A success removes the entry and
records the message in ``messages``. ``attempts`` counts SEND writes: an entry with attempts = 0 has
certainly never reached the server; any other needs a history check before a re-send (the caller's
job, see client.py). ``seq_hint`` is the channel's max known seq when the entry was queued: the
message, if stored, has a larger seq.

The class is synchronous and not thread-safe: the client uses it from one worker thread.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from agentdesk.sqlite_db import open_db

__all__ = ["ChannelSeq", "MessageStore", "OutboxEntry", "StoredMessage"]

log = logging.getLogger(__name__)

_SCHEMA_V1 = """
CREATE TABLE messages (
    message_id    INTEGER PRIMARY KEY,
    channel_id    TEXT NOT NULL,
    channel_type  INTEGER NOT NULL,
    message_seq   INTEGER NOT NULL,
    client_msg_no TEXT NOT NULL,
    from_uid      TEXT NOT NULL,
    timestamp     INTEGER NOT NULL,
    setting       INTEGER NOT NULL DEFAULT 0,
    flags         INTEGER NOT NULL DEFAULT 0,
    payload       BLOB NOT NULL
);
CREATE UNIQUE INDEX messages_client_msg_no ON messages (channel_id, channel_type, client_msg_no)
    WHERE client_msg_no <> '';
CREATE INDEX messages_by_seq ON messages (channel_id, channel_type, message_seq);
CREATE TABLE channels (
    channel_id     TEXT NOT NULL,
    channel_type   INTEGER NOT NULL,
    contiguous_seq INTEGER NOT NULL DEFAULT 0,
    max_seq        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, channel_type)
) WITHOUT ROWID;
CREATE TABLE seen_seqs (
    channel_id   TEXT NOT NULL,
    channel_type INTEGER NOT NULL,
    message_seq  INTEGER NOT NULL,
    PRIMARY KEY (channel_id, channel_type, message_seq)
) WITHOUT ROWID;
CREATE TABLE outbox (
    client_msg_no TEXT PRIMARY KEY,
    channel_id    TEXT NOT NULL,
    channel_type  INTEGER NOT NULL,
    payload       BLOB NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL,
    seq_hint      INTEGER NOT NULL DEFAULT 0,
    reason_code   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_by_created ON outbox (created_at);
"""

MIGRATIONS: list[str] = [_SCHEMA_V1]

ChannelKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as the store keeps it; ``payload`` is the plaintext (normally JSON) bytes."""

    message_id: int
    message_seq: int
    client_msg_no: str
    from_uid: str
    channel_id: str
    channel_type: int
    timestamp: int
    payload: bytes = field(repr=False)
    setting: int = 0
    flags: int = 0

    @property
    def channel(self) -> ChannelKey:
        return (self.channel_id, self.channel_type)


@dataclass(frozen=True, slots=True)
class ChannelSeq:
    contiguous_seq: int
    max_seq: int


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    client_msg_no: str
    channel_id: str
    channel_type: int
    payload: bytes = field(repr=False)
    state: str = "pending"
    attempts: int = 0
    created_at: float = 0.0
    seq_hint: int = 0
    reason_code: int = 0


_MSG_COLS = "message_id, message_seq, client_msg_no, from_uid, channel_id, channel_type, timestamp, payload, setting, flags"
_OUT_COLS = (
    "client_msg_no, channel_id, channel_type, payload, state, attempts, created_at, seq_hint, reason_code"
)


def _msg(row: tuple[object, ...]) -> StoredMessage:
    return StoredMessage(*row)  # type: ignore[arg-type]


def _out(row: tuple[object, ...]) -> OutboxEntry:
    return OutboxEntry(*row)  # type: ignore[arg-type]


class MessageStore:
    def __init__(self, conn: sqlite3.Connection, path: Path, moved_aside: Path | None = None) -> None:
        self.conn = conn
        self.path = path
        #: where a corrupt file was moved before this one was created (tell the user), else None
        self.moved_aside = moved_aside
        self._channels: dict[ChannelKey, list[int]] = {}
        self._load_channels()

    def _load_channels(self) -> None:
        self._channels = {
            (cid, ctype): [cont, mx]
            for cid, ctype, cont, mx in self.conn.execute(
                "SELECT channel_id, channel_type, contiguous_seq, max_seq FROM channels"
            )
        }

    @classmethod
    def open(cls, path: Path | str) -> MessageStore:
        """Open (or create) the store; ``":memory:"`` works for tests."""
        opened = open_db(path, MIGRATIONS, check_same_thread=False)
        return cls(opened.conn, opened.path, opened.moved_aside)

    def close(self) -> None:
        self.conn.close()

    # -- channels / seqs ------------------------------------------------------------------------

    def channel(self, channel_id: str, channel_type: int) -> ChannelSeq | None:
        st = self._channels.get((channel_id, channel_type))
        return ChannelSeq(st[0], st[1]) if st else None

    def last_seqs(self) -> dict[ChannelKey, int]:
        """Every known channel with its contiguous seq (what /conversation/sync wants)."""
        return {key: st[0] for key, st in self._channels.items()}

    def channels_with_gaps(self) -> list[ChannelKey]:
        return [key for key, st in self._channels.items() if st[1] > st[0]]

    def gaps(self, channel_id: str, channel_type: int) -> list[tuple[int, int]]:
        """Missing seq ranges (inclusive) between the contiguous seq and the max seen seq."""
        st = self._channels.get((channel_id, channel_type))
        if st is None:
            return []
        seen = [
            r[0]
            for r in self.conn.execute(
                "SELECT message_seq FROM seen_seqs WHERE channel_id = ? AND channel_type = ? ORDER BY message_seq",
                (channel_id, channel_type),
            )
        ]
        out: list[tuple[int, int]] = []
        prev = st[0]
        for s in seen:
            if s > prev + 1:
                out.append((prev + 1, s - 1))
            prev = s
        return out

    def set_baseline(self, channel_id: str, channel_type: int, seq: int) -> None:
        """Treat every seq ≤ ``seq`` of this channel as seen (history before it is not tracked)."""
        with self._tx():
            self._ensure_channel((channel_id, channel_type))
            st = self._channels[(channel_id, channel_type)]
            if seq > st[0]:
                st[0] = seq
                st[1] = max(st[1], seq)
                self._advance((channel_id, channel_type))

    def _ensure_channel(self, key: ChannelKey) -> None:
        if key not in self._channels:
            self._channels[key] = [0, 0]
            self.conn.execute("INSERT OR IGNORE INTO channels (channel_id, channel_type) VALUES (?, ?)", key)

    def _advance(self, key: ChannelKey) -> None:
        """Move contiguous_seq over seen seqs and persist the channel row."""
        st = self._channels[key]
        cid, ctype = key
        cur = self.conn.execute(
            "SELECT message_seq FROM seen_seqs WHERE channel_id = ? AND channel_type = ? AND message_seq > ? "
            "ORDER BY message_seq",
            (cid, ctype, st[0]),
        )
        for (s,) in cur:
            if s != st[0] + 1:
                break
            st[0] = s
        self.conn.execute(
            "DELETE FROM seen_seqs WHERE channel_id = ? AND channel_type = ? AND message_seq <= ?",
            (cid, ctype, st[0]),
        )
        self.conn.execute(
            "UPDATE channels SET contiguous_seq = ?, max_seq = ? WHERE channel_id = ? AND channel_type = ?",
            (st[0], st[1], cid, ctype),
        )

    def _see(self, key: ChannelKey, seq: int) -> None:
        st = self._channels[key]
        if seq > st[1]:
            st[1] = seq
        if seq > st[0]:
            self.conn.execute("INSERT OR IGNORE INTO seen_seqs VALUES (?, ?, ?)", (key[0], key[1], seq))

    # -- messages -------------------------------------------------------------------------------

    def store_received(self, batch: Iterable[StoredMessage]) -> list[StoredMessage]:
        """Store a batch in one transaction; return the messages that were new (by id and client_msg_no).

        Every message's seq counts as seen, also for dropped duplicates, so a re-sent copy does not
        leave a permanent gap.
        """
        new: list[StoredMessage] = []
        touched: set[ChannelKey] = set()
        with self._tx():
            for m in batch:
                key = (m.channel_id, m.channel_type)
                self._ensure_channel(key)
                cur = self.conn.execute(
                    f"INSERT OR IGNORE INTO messages ({_MSG_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        m.message_id,
                        m.message_seq,
                        m.client_msg_no,
                        m.from_uid,
                        m.channel_id,
                        m.channel_type,
                        m.timestamp,
                        m.payload,
                        m.setting,
                        m.flags,
                    ),
                )
                if cur.rowcount == 1:
                    new.append(m)
                if m.message_seq > 0:
                    self._see(key, m.message_seq)
                touched.add(key)
            for key in touched:
                self._advance(key)
        return new

    def get_message(self, message_id: int) -> StoredMessage | None:
        row = self.conn.execute(
            f"SELECT {_MSG_COLS} FROM messages WHERE message_id = ?", (message_id,)
        ).fetchone()
        return _msg(row) if row else None

    def find_client_msg_no(
        self, channel_id: str, channel_type: int, client_msg_no: str
    ) -> StoredMessage | None:
        row = self.conn.execute(
            f"SELECT {_MSG_COLS} FROM messages WHERE channel_id = ? AND channel_type = ? AND client_msg_no = ?",
            (channel_id, channel_type, client_msg_no),
        ).fetchone()
        return _msg(row) if row else None

    def history(self, channel_id: str, channel_type: int, *, limit: int = 100) -> list[StoredMessage]:
        """The newest ``limit`` messages of a channel, ascending by seq."""
        rows = self.conn.execute(
            f"SELECT {_MSG_COLS} FROM messages WHERE channel_id = ? AND channel_type = ? "
            "ORDER BY message_seq DESC LIMIT ?",
            (channel_id, channel_type, limit),
        ).fetchall()
        return [_msg(r) for r in reversed(rows)]

    def count_messages(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM messages").fetchone()[0])

    # -- outbox ---------------------------------------------------------------------------------

    def outbox_add(
        self,
        channel_id: str,
        channel_type: int,
        payload: bytes,
        client_msg_no: str,
        *,
        now: float | None = None,
    ) -> OutboxEntry:
        """Queue a reply (durably, before anything is sent). Re-adding the same client_msg_no is a no-op."""
        st = self._channels.get((channel_id, channel_type))
        entry = OutboxEntry(
            client_msg_no=client_msg_no,
            channel_id=channel_id,
            channel_type=channel_type,
            payload=bytes(payload),
            created_at=time.time() if now is None else now,
            seq_hint=st[1] if st else 0,
        )
        with self._tx():
            self.conn.execute(
                f"INSERT OR IGNORE INTO outbox ({_OUT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.client_msg_no,
                    entry.channel_id,
                    entry.channel_type,
                    entry.payload,
                    entry.state,
                    entry.attempts,
                    entry.created_at,
                    entry.seq_hint,
                    entry.reason_code,
                ),
            )
        got = self.outbox_get(client_msg_no)
        assert got is not None
        return got

    def outbox_get(self, client_msg_no: str) -> OutboxEntry | None:
        row = self.conn.execute(
            f"SELECT {_OUT_COLS} FROM outbox WHERE client_msg_no = ?", (client_msg_no,)
        ).fetchone()
        return _out(row) if row else None

    def outbox_unacked(self) -> list[OutboxEntry]:
        """Entries still to deliver (pending or sent), oldest first."""
        rows = self.conn.execute(
            f"SELECT {_OUT_COLS} FROM outbox WHERE state IN ('pending', 'sent') ORDER BY created_at, rowid"
        ).fetchall()
        return [_out(r) for r in rows]

    def outbox_all(self) -> list[OutboxEntry]:
        rows = self.conn.execute(f"SELECT {_OUT_COLS} FROM outbox ORDER BY created_at, rowid").fetchall()
        return [_out(r) for r in rows]

    def outbox_attempt(self, client_msg_no: str) -> None:
        """Record that a SEND is about to be written (state ``sent``, attempts + 1)."""
        with self._tx():
            self.conn.execute(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1 WHERE client_msg_no = ?",
                (client_msg_no,),
            )

    def outbox_requeue(self) -> None:
        """After a connection is gone: every ``sent`` entry is ``pending`` again (ack unknown)."""
        with self._tx():
            self.conn.execute("UPDATE outbox SET state = 'pending' WHERE state = 'sent'")

    def outbox_acked(
        self, client_msg_no: str, *, message_id: int, message_seq: int, from_uid: str, timestamp: int
    ) -> StoredMessage | None:
        """The server stored the entry: remove it and record the message. Returns that message."""
        entry = self.outbox_get(client_msg_no)
        if entry is None:
            return None
        msg = StoredMessage(
            message_id=message_id,
            message_seq=message_seq,
            client_msg_no=client_msg_no,
            from_uid=from_uid,
            channel_id=entry.channel_id,
            channel_type=entry.channel_type,
            timestamp=timestamp,
            payload=entry.payload,
        )
        with self._tx():  # one transaction: the entry never leaves the outbox without its message
            self.conn.execute("DELETE FROM outbox WHERE client_msg_no = ?", (client_msg_no,))
            self.store_received([msg])
        return msg

    def outbox_failed(self, client_msg_no: str, reason_code: int) -> None:
        with self._tx():
            self.conn.execute(
                "UPDATE outbox SET state = 'failed', reason_code = ? WHERE client_msg_no = ?",
                (reason_code, client_msg_no),
            )

    def outbox_remove(self, client_msg_no: str) -> None:
        with self._tx():
            self.conn.execute("DELETE FROM outbox WHERE client_msg_no = ?", (client_msg_no,))

    # -- plumbing -------------------------------------------------------------------------------

    def atomic(self) -> AbstractContextManager[None]:
        """One transaction around several store calls (they join it): all of them or none.

        On any error (e.g. SQLITE_FULL, also in COMMIT) everything is rolled back and the seq cache is
        reloaded from the file, then the error propagates."""
        return self._tx()

    def _tx(self) -> _Tx:
        return _Tx(self.conn, self._load_channels)


class _Tx:
    """BEGIN IMMEDIATE … COMMIT (nested use joins the outer transaction).

    All or nothing, also under SQLITE_FULL / SQLITE_IOERR: an error inside the block *or in COMMIT*
    rolls the whole transaction back (if SQLite has not already done so itself) and reloads the
    in-memory seq cache from the file, so the cache never claims a seq whose rows were not written.
    The original error propagates (the caller must not acknowledge anything of the batch).
    """

    def __init__(self, conn: sqlite3.Connection, on_rollback: Callable[[], None]) -> None:
        self.conn = conn
        self.on_rollback = on_rollback
        self.outer = False

    def __enter__(self) -> None:
        self.outer = not self.conn.in_transaction
        if self.outer:
            self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self.outer:
            return
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self._undo()
                raise
        else:
            self._undo()

    def _undo(self) -> None:
        """Roll back whatever is left of the transaction and resynchronise the cache with the file."""
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.warning("ROLLBACK failed", exc_info=True)
        finally:
            self.on_rollback()
