"""SQLite persistence of the devserver: users/tokens, system uids, channels, messages, read positions
and the webhook queue, in one file.

All access happens on the event loop thread (a single writer). Writes open a transaction that is
committed at the end of the current loop iteration (`loop.call_soon`), so a burst of messages costs one
commit; with WAL + synchronous=NORMAL a commit does not fsync. Channel metadata, subscribers, tokens and
last sequence numbers are cached in memory; message bodies are read from SQLite on demand.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agentdesk.sqlite_db import open_db

from .ids import MessageIds

log = logging.getLogger(__name__)

_SCHEMA_V1 = """
CREATE TABLE users (
  uid TEXT NOT NULL, device_flag INTEGER NOT NULL, token TEXT NOT NULL, device_level INTEGER NOT NULL,
  PRIMARY KEY (uid, device_flag)
) WITHOUT ROWID;
CREATE TABLE system_uids (uid TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE channels (
  channel_id TEXT NOT NULL, channel_type INTEGER NOT NULL,
  ban INTEGER NOT NULL DEFAULT 0, disband INTEGER NOT NULL DEFAULT 0, send_ban INTEGER NOT NULL DEFAULT 0,
  large INTEGER NOT NULL DEFAULT 0, allow_stranger INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (channel_id, channel_type)
) WITHOUT ROWID;
CREATE TABLE subscribers (
  channel_id TEXT NOT NULL, channel_type INTEGER NOT NULL, uid TEXT NOT NULL,
  PRIMARY KEY (channel_id, channel_type, uid)
) WITHOUT ROWID;
CREATE TABLE messages (
  channel_id TEXT NOT NULL, channel_type INTEGER NOT NULL, message_seq INTEGER NOT NULL,
  message_id INTEGER NOT NULL, client_msg_no TEXT NOT NULL, from_uid TEXT NOT NULL,
  timestamp INTEGER NOT NULL, setting INTEGER NOT NULL, header INTEGER NOT NULL, expire INTEGER NOT NULL,
  topic TEXT NOT NULL, payload BLOB NOT NULL,
  PRIMARY KEY (channel_id, channel_type, message_seq)
) WITHOUT ROWID;
CREATE TABLE person_channels (uid TEXT NOT NULL, fake_id TEXT NOT NULL, PRIMARY KEY (uid, fake_id)) WITHOUT ROWID;
CREATE TABLE conversations (
  uid TEXT NOT NULL, channel_id TEXT NOT NULL, channel_type INTEGER NOT NULL,
  readed_to INTEGER NOT NULL DEFAULT 0, deleted_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (uid, channel_id, channel_type)
) WITHOUT ROWID;
CREATE TABLE webhook_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, body TEXT NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX webhook_queue_event ON webhook_queue (event, id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""

MIGRATIONS = [_SCHEMA_V1]

CHANNEL_FLAGS = ("ban", "disband", "send_ban", "large", "allow_stranger")

ChannelKey = tuple[str, int]


@dataclass(slots=True)
class StoredMessage:
    message_id: int
    message_seq: int
    client_msg_no: str
    #: the real sender (the system uid for REST sends without from_uid)
    from_uid: str
    #: storage id: the fake `A@B` id for person channels, `<id>____cmd` for sync_once messages
    channel_id: str
    channel_type: int
    timestamp: int
    setting: int
    #: header flags (no_persist / red_dot / sync_once) of the original send
    header: int
    expire: int
    topic: str
    payload: bytes


@dataclass(slots=True)
class Channel:
    channel_id: str
    channel_type: int
    flags: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNEL_FLAGS, 0))
    subscribers: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Token:
    token: str
    device_level: int


@dataclass(slots=True)
class QueuedWebhook:
    id: int
    event: str
    body: str
    failures: int


class Storage:
    def __init__(self, path: Path) -> None:
        opened = open_db(path, MIGRATIONS)
        if opened.moved_aside is not None:
            log.warning("devserver database was unreadable, moved to %s; starting empty", opened.moved_aside)
        self.path = opened.path
        self._db = opened.conn
        self._commit_scheduled = False
        self._closed = False
        self.tokens: dict[tuple[str, int], Token] = {}
        self.system_uids: set[str] = set()
        self.channels: dict[ChannelKey, Channel] = {}
        self.user_channels: dict[str, set[ChannelKey]] = {}
        self.person_channels: dict[str, set[str]] = {}
        self.last_seqs: dict[ChannelKey, int] = {}
        self._load()

    # -- lifecycle ---------------------------------------------------------------------------------

    def _load(self) -> None:
        db = self._db
        for uid, flag, token, level in db.execute("SELECT uid, device_flag, token, device_level FROM users"):
            self.tokens[(uid, flag)] = Token(token, level)
        self.system_uids = {row[0] for row in db.execute("SELECT uid FROM system_uids")}
        cols = ", ".join(CHANNEL_FLAGS)
        for row in db.execute(f"SELECT channel_id, channel_type, {cols} FROM channels"):
            self.channels[(row[0], row[1])] = Channel(
                row[0], row[1], dict(zip(CHANNEL_FLAGS, row[2:], strict=True))
            )
        for cid, ctype, uid in db.execute("SELECT channel_id, channel_type, uid FROM subscribers"):
            ch = self.channels.setdefault((cid, ctype), Channel(cid, ctype))
            ch.subscribers.add(uid)
            self.user_channels.setdefault(uid, set()).add((cid, ctype))
        for uid, fake in db.execute("SELECT uid, fake_id FROM person_channels"):
            self.person_channels.setdefault(uid, set()).add(fake)
        for cid, ctype, seq in db.execute(
            "SELECT channel_id, channel_type, max(message_seq) FROM messages GROUP BY channel_id, channel_type"
        ):
            self.last_seqs[(cid, ctype)] = seq
        row = db.execute("SELECT value FROM meta WHERE key = 'last_message_id'").fetchone()
        floor = row[0] if row else 0
        top = db.execute("SELECT max(message_id) FROM messages").fetchone()[0] or 0
        self.ids = MessageIds(max(floor, top))
        self._saved_id = self.ids.last

    def _write(self) -> sqlite3.Connection:
        """The connection, inside a transaction committed at the end of this loop iteration."""
        db = self._db
        if not db.in_transaction:
            db.execute("BEGIN")
        if not self._commit_scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return db  # no loop (tests, tools): the caller's commit() or close() commits
            self._commit_scheduled = True
            loop.call_soon(self.commit)
        return db

    def commit(self) -> None:
        self._commit_scheduled = False
        if self._closed:
            return
        db = self._db
        if self.ids.last != self._saved_id:
            if not db.in_transaction:
                db.execute("BEGIN")
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('last_message_id', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (self.ids.last,),
            )
            self._saved_id = self.ids.last
        if db.in_transaction:
            db.execute("COMMIT")

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.commit()
        finally:
            self._closed = True
            self._db.close()

    # -- users, tokens, system uids ----------------------------------------------------------------

    def set_token(self, uid: str, device_flag: int, token: str, device_level: int) -> None:
        self.tokens[(uid, device_flag)] = Token(token, device_level)
        self._write().execute(
            "INSERT INTO users (uid, device_flag, token, device_level) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(uid, device_flag) DO UPDATE SET token = excluded.token, "
            "device_level = excluded.device_level",
            (uid, device_flag, token, device_level),
        )

    def clear_token(self, uid: str, device_flag: int) -> None:
        """Forget the token of one device flag, or of all when device_flag is -1."""
        db = self._write()
        if device_flag == -1:
            for key in [k for k in self.tokens if k[0] == uid]:
                del self.tokens[key]
            db.execute("DELETE FROM users WHERE uid = ?", (uid,))
        else:
            self.tokens.pop((uid, device_flag), None)
            db.execute("DELETE FROM users WHERE uid = ? AND device_flag = ?", (uid, device_flag))

    def add_system_uids(self, uids: Iterable[str]) -> None:
        db = self._write()
        for uid in uids:
            self.system_uids.add(uid)
            db.execute("INSERT OR IGNORE INTO system_uids (uid) VALUES (?)", (uid,))

    def remove_system_uids(self, uids: Iterable[str]) -> None:
        db = self._write()
        for uid in uids:
            self.system_uids.discard(uid)
            db.execute("DELETE FROM system_uids WHERE uid = ?", (uid,))

    # -- channels and subscribers ------------------------------------------------------------------

    def upsert_channel(self, channel_id: str, channel_type: int, flags: dict[str, int]) -> Channel:
        key = (channel_id, channel_type)
        ch = self.channels.get(key)
        if ch is None:
            ch = self.channels[key] = Channel(channel_id, channel_type)
        ch.flags.update({k: int(v) for k, v in flags.items() if k in CHANNEL_FLAGS})
        cols = ", ".join(CHANNEL_FLAGS)
        marks = ", ".join("?" * len(CHANNEL_FLAGS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in CHANNEL_FLAGS)
        self._write().execute(
            f"INSERT INTO channels (channel_id, channel_type, {cols}) VALUES (?, ?, {marks}) "
            f"ON CONFLICT(channel_id, channel_type) DO UPDATE SET {updates}",
            (channel_id, channel_type, *(ch.flags[c] for c in CHANNEL_FLAGS)),
        )
        return ch

    def delete_channel(self, channel_id: str, channel_type: int) -> None:
        key = (channel_id, channel_type)
        ch = self.channels.pop(key, None)
        if ch is not None:
            for uid in ch.subscribers:
                self.user_channels.get(uid, set()).discard(key)
        db = self._write()
        db.execute("DELETE FROM channels WHERE channel_id = ? AND channel_type = ?", key)
        db.execute("DELETE FROM subscribers WHERE channel_id = ? AND channel_type = ?", key)

    def add_subscribers(
        self, channel_id: str, channel_type: int, uids: Iterable[str], *, reset: bool
    ) -> None:
        key = (channel_id, channel_type)
        ch = self.channels.get(key) or self.upsert_channel(channel_id, channel_type, {})
        db = self._write()
        if reset:
            self.remove_subscribers(channel_id, channel_type, list(ch.subscribers))
        for uid in uids:
            if uid in ch.subscribers:
                continue
            ch.subscribers.add(uid)
            self.user_channels.setdefault(uid, set()).add(key)
            db.execute(
                "INSERT OR IGNORE INTO subscribers (channel_id, channel_type, uid) VALUES (?, ?, ?)",
                (*key, uid),
            )

    def remove_subscribers(self, channel_id: str, channel_type: int, uids: Iterable[str]) -> None:
        key = (channel_id, channel_type)
        ch = self.channels.get(key)
        if ch is None:
            return
        db = self._write()
        for uid in uids:
            ch.subscribers.discard(uid)
            self.user_channels.get(uid, set()).discard(key)
            db.execute(
                "DELETE FROM subscribers WHERE channel_id = ? AND channel_type = ? AND uid = ?", (*key, uid)
            )

    # -- messages ----------------------------------------------------------------------------------

    def last_seq(self, channel_id: str, channel_type: int) -> int:
        return self.last_seqs.get((channel_id, channel_type), 0)

    def store_message(self, msg: StoredMessage) -> None:
        """Assign msg.message_seq (next in its channel) and write it."""
        key = (msg.channel_id, msg.channel_type)
        seq = self.last_seqs.get(key, 0) + 1
        msg.message_seq = seq
        self._write().execute(
            "INSERT INTO messages (channel_id, channel_type, message_seq, message_id, client_msg_no, from_uid, "
            "timestamp, setting, header, expire, topic, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                msg.channel_id,
                msg.channel_type,
                seq,
                msg.message_id,
                msg.client_msg_no,
                msg.from_uid,
                msg.timestamp,
                msg.setting,
                msg.header,
                msg.expire,
                msg.topic,
                msg.payload,
            ),
        )
        self.last_seqs[key] = seq

    def note_person_channel(self, uid: str, fake_id: str) -> None:
        known = self.person_channels.setdefault(uid, set())
        if fake_id not in known:
            known.add(fake_id)
            self._write().execute(
                "INSERT OR IGNORE INTO person_channels (uid, fake_id) VALUES (?, ?)", (uid, fake_id)
            )

    _COLS = (
        "message_id, message_seq, client_msg_no, from_uid, channel_id, channel_type, timestamp, setting, header, "
        "expire, topic, payload"
    )

    def _rows(self, where: str, params: tuple[object, ...], order: str, limit: int) -> list[StoredMessage]:
        sql = f"SELECT {self._COLS} FROM messages WHERE channel_id = ? AND channel_type = ? {where} ORDER BY message_seq {order} LIMIT ?"
        out = [StoredMessage(*row) for row in self._db.execute(sql, (*params, limit))]
        if order == "DESC":
            out.reverse()
        return out

    def load_last(self, channel_id: str, channel_type: int, limit: int) -> list[StoredMessage]:
        """The newest `limit` messages, ascending."""
        return self._rows("", (channel_id, channel_type), "DESC", limit)

    def load_next_range(
        self, channel_id: str, channel_type: int, start: int, end: int, limit: int
    ) -> list[StoredMessage]:
        """seq in [start, end) (end 0 = unbounded), the first `limit`, ascending."""
        if end:
            return self._rows(
                "AND message_seq >= ? AND message_seq < ?",
                (channel_id, channel_type, start, end),
                "ASC",
                limit,
            )
        return self._rows("AND message_seq >= ?", (channel_id, channel_type, start), "ASC", limit)

    def load_prev_range(
        self, channel_id: str, channel_type: int, start: int, end: int, limit: int
    ) -> list[StoredMessage]:
        """seq in (end, start] (end 0 = unbounded below), the newest `limit`, ascending."""
        return self._rows(
            "AND message_seq <= ? AND message_seq > ?", (channel_id, channel_type, start, end), "DESC", limit
        )

    # -- conversations (read positions) ------------------------------------------------------------

    def conversation(self, uid: str, channel_id: str, channel_type: int) -> tuple[int, int] | None:
        """(readed_to_msg_seq, deleted_at_msg_seq) of a user's conversation, if one was recorded."""
        row = self._db.execute(
            "SELECT readed_to, deleted_at FROM conversations WHERE uid = ? AND channel_id = ? AND channel_type = ?",
            (uid, channel_id, channel_type),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def set_readed_to(self, uid: str, channel_id: str, channel_type: int, seq: int) -> None:
        self._write().execute(
            "INSERT INTO conversations (uid, channel_id, channel_type, readed_to) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(uid, channel_id, channel_type) DO UPDATE SET readed_to = excluded.readed_to",
            (uid, channel_id, channel_type, seq),
        )

    def set_deleted_at(self, uid: str, channel_id: str, channel_type: int, seq: int) -> None:
        self._write().execute(
            "INSERT INTO conversations (uid, channel_id, channel_type, deleted_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(uid, channel_id, channel_type) DO UPDATE SET deleted_at = excluded.deleted_at",
            (uid, channel_id, channel_type, seq),
        )

    # -- webhook queue -----------------------------------------------------------------------------

    def enqueue_webhook(self, event: str, body: str) -> None:
        self._write().execute("INSERT INTO webhook_queue (event, body) VALUES (?, ?)", (event, body))

    def due_webhooks(self, event: str, limit: int) -> list[QueuedWebhook]:
        """The oldest `limit` queued items of one event (in order; retry timing is the caller's)."""
        rows = self._db.execute(
            "SELECT id, event, body, failures FROM webhook_queue WHERE event = ? ORDER BY id LIMIT ?",
            (event, limit),
        )
        return [QueuedWebhook(*row) for row in rows]

    def webhook_backlog(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM webhook_queue").fetchone()[0])

    def delete_webhooks(self, ids: Iterable[int]) -> None:
        self._write().executemany("DELETE FROM webhook_queue WHERE id = ?", [(i,) for i in ids])

    def fail_webhooks(self, ids: Iterable[int]) -> None:
        self._write().executemany(
            "UPDATE webhook_queue SET failures = failures + 1 WHERE id = ?", [(i,) for i in ids]
        )
