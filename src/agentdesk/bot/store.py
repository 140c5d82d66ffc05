"""The desk bot's SQLite state: inbox (webhook messages), outbox (what it must send), facts, context.

One file, one connection, used only from the event loop thread (every statement is short).

* ``inbox``: every message the bot was told about (webhook or REST catch-up), keyed by ``message_id``
  and unique by ``(channel, from_uid, client_msg_no)`` (the server does not de-duplicate re-sent SENDs).
  A redelivered webhook batch inserts nothing new. Rows are processed in insertion order, one at a time.
* ``facts``: every desk fact the bot decided, in decision order. The reducer is rebuilt from them at start.
* ``outbox``: messages to post and subscriber changes to make, written in the same transaction that marks
  the triggering inbox row processed, then carried out in order and marked done. A crash between the two
  leaves pending rows that the next start carries out (a send that may already have gone out is first
  looked up in the channel's history by its deterministic ``client_msg_no``).
* ``context``: the recent turns of each conversation, for triage and drafting.
* ``answers``: a digest of every answer the autopilot sent, per conversation, and the FAQ entries it
  cited (kept for good, also after a hand back): the autopilot never sends the same text twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agentdesk.sqlite_db import Migration, open_db
from agentdesk.wukongim.rest import MessageResp

#: conversation turns kept per channel
CONTEXT_TURNS: Final = 30

_SCHEMA_V1: Final = """
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL UNIQUE,
    message_seq INTEGER NOT NULL,
    channel_id TEXT NOT NULL,
    channel_type INTEGER NOT NULL,
    from_uid TEXT NOT NULL,
    client_msg_no TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    payload BLOB,
    processed INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX inbox_client_msg_no ON inbox (channel_id, channel_type, from_uid, client_msg_no)
    WHERE client_msg_no != '';
CREATE INDEX inbox_pending ON inbox (processed, id);
CREATE INDEX inbox_channel_seq ON inbox (channel_id, channel_type, message_seq);
CREATE TABLE facts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fact_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    channel_type INTEGER NOT NULL,
    body BLOB NOT NULL,
    client_msg_no TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox (done, id);
CREATE TABLE context (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id TEXT NOT NULL,
    role TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX context_channel ON context (channel_id, id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: v2: the answers the autopilot sent, per conversation (it never sends the same text twice)
_SCHEMA_V2: Final = """
CREATE TABLE answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    faq_ids TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX answers_channel_digest ON answers (channel_id, digest);
"""

MIGRATIONS: Final[Sequence[Migration]] = (_SCHEMA_V1, _SCHEMA_V2)


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    message: MessageResp


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    action: str  # "send" | "sub_add" | "sub_remove"
    channel_id: str
    channel_type: int
    body: bytes  # send: the payload bytes; sub_*: JSON list of uids
    client_msg_no: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An outbox row to write (see :class:`OutboxRow`)."""

    action: str
    channel_id: str
    channel_type: int
    body: bytes
    client_msg_no: str = ""


class BotStore:
    def __init__(self, conn: sqlite3.Connection, path: Path, moved_aside: Path | None) -> None:
        self.conn = conn
        self.path = path
        #: where an unreadable file was moved before a fresh one was created
        self.moved_aside = moved_aside

    @classmethod
    def open(cls, path: Path | str) -> BotStore:
        # The bot's state is not rebuildable from the server (facts are, the inbox is not): a corrupt
        # file is still moved aside rather than crashing, and the catch-up refills what it can.
        opened = open_db(path, MIGRATIONS)
        return cls(opened.conn, opened.path, opened.moved_aside)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def ok(self) -> bool:
        try:
            self.conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    # --- inbox --------------------------------------------------------------------------------------

    def add_messages(self, messages: Sequence[MessageResp]) -> int:
        """Insert new messages (duplicates by message_id or client_msg_no are ignored); returns how many
        were new. One transaction: the caller answers the webhook only after it committed."""
        added = 0
        with self.transaction():
            for m in messages:
                cur = self.conn.execute(
                    "INSERT OR IGNORE INTO inbox (message_id, message_seq, channel_id, channel_type, "
                    "from_uid, client_msg_no, timestamp, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        m.message_id,
                        m.message_seq,
                        m.channel_id,
                        m.channel_type,
                        m.from_uid,
                        m.client_msg_no,
                        m.timestamp,
                        m.payload,
                    ),
                )
                added += cur.rowcount
        return added

    def next_pending(self) -> InboxRow | None:
        row = self.conn.execute(
            "SELECT id, message_id, message_seq, channel_id, channel_type, from_uid, client_msg_no, "
            "timestamp, payload FROM inbox WHERE processed = 0 ORDER BY id LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return InboxRow(
            row[0],
            MessageResp(
                message_id=row[1],
                message_seq=row[2],
                client_msg_no=row[6],
                from_uid=row[5],
                channel_id=row[3],
                channel_type=row[4],
                timestamp=row[7],
                payload=bytes(row[8] or b""),
            ),
        )

    def pending_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM inbox WHERE processed = 0").fetchone()[0])

    def mark_processed(self, inbox_id: int) -> None:
        """Inside a transaction: the row is done (its payload is dropped, its ids kept for de-duplication)."""
        self.conn.execute("UPDATE inbox SET processed = 1, payload = NULL WHERE id = ?", (inbox_id,))

    def contiguous_seq(self, channel_id: str, channel_type: int, floor: int = 0) -> int:
        """The highest seq s such that every seq in (floor, s] of the channel is in the inbox: where a
        catch-up must start (a webhook dropped in the middle leaves a gap that a max() would hide)."""
        last = floor
        for (seq,) in self.conn.execute(
            "SELECT message_seq FROM inbox WHERE channel_id = ? AND channel_type = ? AND message_seq > ? "
            "ORDER BY message_seq",
            (channel_id, channel_type, floor),
        ):
            if seq > last + 1:
                break
            last = max(last, int(seq))
        return last

    def visitor_channels(self) -> list[str]:
        return [
            r[0] for r in self.conn.execute("SELECT DISTINCT channel_id FROM inbox WHERE channel_type = 10")
        ]

    # --- facts --------------------------------------------------------------------------------------

    def add_fact(self, fact_id: str, body: bytes) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO facts (fact_id, body) VALUES (?, ?)", (fact_id, body.decode("utf-8"))
        )

    def facts(self) -> Iterator[str]:
        for (body,) in self.conn.execute("SELECT body FROM facts ORDER BY id"):
            yield body

    def fact_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM facts").fetchone()[0])

    # --- outbox -------------------------------------------------------------------------------------

    def add_outgoing(self, item: Outgoing) -> None:
        self.conn.execute(
            "INSERT INTO outbox (action, channel_id, channel_type, body, client_msg_no) VALUES (?, ?, ?, ?, ?)",
            (item.action, item.channel_id, item.channel_type, item.body, item.client_msg_no),
        )

    def next_outgoing(self) -> OutboxRow | None:
        row = self.conn.execute(
            "SELECT id, action, channel_id, channel_type, body, client_msg_no, attempts FROM outbox "
            "WHERE done = 0 ORDER BY id LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return OutboxRow(row[0], row[1], row[2], row[3], bytes(row[4]), row[5], row[6])

    def outbox_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM outbox WHERE done = 0").fetchone()[0])

    def attempt(self, outbox_id: int) -> None:
        """Recorded (and committed) before the request goes out, so a restart knows to check history."""
        self.conn.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (outbox_id,))

    def finish(self, outbox_id: int) -> None:
        self.conn.execute("UPDATE outbox SET done = 1, body = x'' WHERE id = ?", (outbox_id,))

    # --- context ------------------------------------------------------------------------------------

    def add_turn(self, channel_id: str, role: str, payload: bytes) -> None:
        self.conn.execute(
            "INSERT INTO context (channel_id, role, payload) VALUES (?, ?, ?)", (channel_id, role, payload)
        )
        self.conn.execute(
            "DELETE FROM context WHERE channel_id = ? AND id NOT IN "
            "(SELECT id FROM context WHERE channel_id = ? ORDER BY id DESC LIMIT ?)",
            (channel_id, channel_id, CONTEXT_TURNS),
        )

    def turns(self, channel_id: str) -> list[tuple[str, bytes]]:
        return [
            (r[0], bytes(r[1]))
            for r in self.conn.execute(
                "SELECT role, payload FROM context WHERE channel_id = ? ORDER BY id", (channel_id,)
            )
        ]

    def clear_turns(self, channel_id: str) -> None:
        self.conn.execute("DELETE FROM context WHERE channel_id = ?", (channel_id,))

    # --- answers ------------------------------------------------------------------------------------

    def add_answer(self, channel_id: str, digest: str, faq_ids: Sequence[str]) -> None:
        """Inside a transaction: the autopilot sent an answer with this text digest, citing `faq_ids`."""
        self.conn.execute(
            "INSERT OR IGNORE INTO answers (channel_id, digest, faq_ids) VALUES (?, ?, ?)",
            (channel_id, digest, json.dumps(list(faq_ids))),
        )

    def answers(self, channel_id: str) -> tuple[set[str], set[str]]:
        """The digests of the answers sent in a conversation, and the FAQ ids they cited."""
        digests: set[str] = set()
        cited: set[str] = set()
        for digest, ids in self.conn.execute(
            "SELECT digest, faq_ids FROM answers WHERE channel_id = ?", (channel_id,)
        ):
            digests.add(str(digest))
            try:
                decoded = json.loads(ids)
            except ValueError:
                continue
            if isinstance(decoded, list):
                cited.update(i for i in decoded if isinstance(i, str))
        return digests, cited

    # --- meta ---------------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: object) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )
