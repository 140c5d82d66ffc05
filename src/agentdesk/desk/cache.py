"""The console's desk-log cache: the bot's facts with their message_seq, and the last applied seq.

On open the reducer state is loaded from a saved snapshot (the fold of the facts up to a seq, in the meta
table) and only the facts after it are applied; without a usable snapshot (absent, of another format,
stale or unreadable) it is rebuilt from all the stored facts and saved again. So the console shows the
desk at once and catches up with ``/channel/messagesync`` from ``last_seq + 1``. The cache is only a copy
of the server's log: a file SQLite cannot read is moved aside and a fresh one is started (everything is
fetched again from the server), a file written by a newer agentdesk is left alone and an in-memory cache
is used instead, and a write that fails turns the cache off for the session (a snapshot that cannot be
saved is only skipped). None of these stops the console; :attr:`notice` says what happened in one
sentence for the status bar.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from agentdesk.desk import protocol as p
from agentdesk.desk.state import LogEntry, Reducer
from agentdesk.sqlite_db import DatabaseError, Migration, move_aside, open_db

MIGRATIONS: Final[tuple[Migration, ...]] = (
    """
    CREATE TABLE facts (
        seq INTEGER PRIMARY KEY,
        from_uid TEXT NOT NULL,
        payload BLOB NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
)


SNAPSHOT_KEY: Final = "snapshot"
"""The meta row holding the reducer state folded from the facts up to a seq (JSON, versioned by
`state.STATE_FORMAT`), so that opening is O(state) instead of parsing every fact again."""
SNAPSHOT_EVERY: Final = 500
"""Facts applied on open beyond the snapshot before it is written again."""


class DeskCache:
    """Open with :meth:`open`; feed it desk-channel messages with :meth:`append`."""

    def __init__(
        self,
        conn: sqlite3.Connection | None,
        reducer: Reducer,
        *,
        path: Path,
        moved_aside: Path | None = None,
        notice: str | None = None,
    ) -> None:
        self._conn = conn
        self.reducer = reducer
        self.path = path
        #: where an unreadable cache file was moved (the console says so), else None
        self.moved_aside = moved_aside
        #: one sentence for the user when the cache was rebuilt or is not persistent, else None
        self.notice = notice

    @classmethod
    def open(
        cls, path: Path | str, *, bot_uid: str, desk_channel: str = "desk", check_same_thread: bool = True
    ) -> DeskCache:
        """Open (or create) the cache at `path` for the given desk channel and bot; never raises for a
        bad file."""
        path = Path(path)
        try:
            return cls._open(path, bot_uid, desk_channel, check_same_thread)
        except sqlite3.OperationalError as exc:  # locked, I/O, permissions: not the file's fault
            return cls._memory(path, bot_uid, exc)
        except sqlite3.DatabaseError:  # unreadable beyond the header check: move it aside, rebuild once
            try:
                moved = move_aside(path)
                cache = cls._open(path, bot_uid, desk_channel, check_same_thread)
            except (DatabaseError, OSError, sqlite3.Error) as exc:
                return cls._memory(path, bot_uid, exc)
            cache.moved_aside = moved
            cache.notice = _rebuilt(moved)
            return cache
        except (DatabaseError, OSError, sqlite3.Error) as exc:
            return cls._memory(path, bot_uid, exc)

    @classmethod
    def _memory(cls, path: Path, bot_uid: str, exc: BaseException) -> DeskCache:
        notice = f"the desk cache cannot be used ({exc}); desk state is kept in memory only"
        return cls(None, Reducer(bot_uid), path=path, notice=notice)

    @classmethod
    def _open(cls, path: Path, bot_uid: str, desk_channel: str, check_same_thread: bool) -> DeskCache:
        db = open_db(path, MIGRATIONS, check_same_thread=check_same_thread)
        conn = db.conn
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            identity = {"bot_uid": bot_uid, "desk_channel": desk_channel}
            notice = _rebuilt(db.moved_aside) if db.moved_aside is not None else None
            if meta and any(meta.get(k) != v for k, v in identity.items()):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM facts")
                conn.execute("DELETE FROM meta")
                conn.execute("COMMIT")
                notice = "the desk channel or bot changed; the desk cache is being rebuilt from the server"
                meta = {}
            if not meta:
                conn.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    [*identity.items(), ("last_seq", "0")],
                )
            reducer = _load_snapshot(conn, bot_uid, meta.get(SNAPSHOT_KEY))
            base = reducer.applied
            for seq, from_uid, payload in conn.execute(
                "SELECT seq, from_uid, payload FROM facts WHERE seq > ? ORDER BY seq", (reducer.last_seq,)
            ):
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                reducer.apply(LogEntry(int(seq), str(from_uid), data))
            if reducer.applied - base >= SNAPSHOT_EVERY:
                _save_snapshot(conn, reducer)
            reducer.last_seq = max(reducer.last_seq, int(meta.get("last_seq", "0")))
        except BaseException:
            conn.close()
            raise
        return cls(conn, reducer, path=path, moved_aside=db.moved_aside, notice=notice)

    @property
    def last_seq(self) -> int:
        """The highest desk-log seq applied: catch up from ``last_seq + 1``."""
        return self.reducer.last_seq

    @property
    def persistent(self) -> bool:
        return self._conn is not None

    def append(self, entries: Iterable[LogEntry]) -> list[p.Fact]:
        """Apply desk-log entries (in seq order) and store the bot's facts among them in one transaction.
        Returns the facts that changed state."""
        before = self.reducer.last_seq
        rows: list[tuple[int, str, bytes]] = []
        applied: list[p.Fact] = []
        for entry in entries:
            fact = self.reducer.apply(entry)
            if fact is not None:
                applied.append(fact)
                rows.append((entry.seq, entry.from_uid, _raw(entry)))
        if self._conn is not None and self.reducer.last_seq != before:
            try:
                self._write(rows)
            except sqlite3.Error as exc:
                self._disable(
                    f"the desk cache could not be written ({exc}); desk state is kept in memory only"
                )
        return applied

    def _write(self, rows: list[tuple[int, str, bytes]]) -> None:
        assert self._conn is not None
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR IGNORE INTO facts (seq, from_uid, payload) VALUES (?, ?, ?)", rows)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (str(self.reducer.last_seq),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _disable(self, notice: str) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.notice = notice

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _load_snapshot(conn: sqlite3.Connection, bot_uid: str, text: str | None) -> Reducer:
    """The reducer saved by `_save_snapshot`, if it is usable: same format and bot, and the facts it was
    folded from are all still there (its last seq and how many facts up to it). Otherwise a fresh one."""
    if not text:
        return Reducer(bot_uid)
    try:
        data = json.loads(text)
        reducer = Reducer.load_state(bot_uid, data["state"])
        (count,) = conn.execute("SELECT count(*) FROM facts WHERE seq <= ?", (reducer.last_seq,)).fetchone()
        if int(data["facts"]) != count or reducer.applied > count:
            return Reducer(bot_uid)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return Reducer(bot_uid)
    return reducer


def _save_snapshot(conn: sqlite3.Connection, reducer: Reducer) -> None:
    """Save the state folded from the facts table alone (call it before any message is applied)."""
    try:
        (count,) = conn.execute("SELECT count(*) FROM facts WHERE seq <= ?", (reducer.last_seq,)).fetchone()
    except sqlite3.Error:
        return
    text = json.dumps(
        {"facts": count, "state": reducer.dump_state()}, ensure_ascii=False, separators=(",", ":")
    )
    with contextlib.suppress(sqlite3.Error):  # only an optimisation: the facts are still there
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (SNAPSHOT_KEY, text))


def _raw(entry: LogEntry) -> bytes:
    if isinstance(entry.payload, bytes):
        return entry.payload
    if isinstance(entry.payload, str):
        return entry.payload.encode()
    return json.dumps(dict(entry.payload), ensure_ascii=False, separators=(",", ":")).encode()


def _rebuilt(moved: Path) -> str:
    return f"the desk cache was unreadable and was rebuilt from the server (the old file is kept as {moved.name})"
