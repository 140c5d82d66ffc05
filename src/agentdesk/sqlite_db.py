"""Open a local SQLite file with schema migrations, and survive a corrupt one.

Every local cache (messages, outbox, desk log, draft records) is rebuildable from the server, so a file
that SQLite cannot read is moved aside (never deleted) and a fresh one is created; the caller gets the
path it was moved to and tells the user. A file written by a *newer* agentdesk is never touched.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

#: A migration is an SQL script or a function run inside the migration's transaction.
Migration = str | Callable[[sqlite3.Connection], None]


class DatabaseError(Exception):
    """A local database that cannot be used; the message says which file and what to do."""


@dataclass(slots=True)
class OpenedDb:
    conn: sqlite3.Connection
    path: Path
    #: where an unreadable file was moved before a fresh one was created, else None
    moved_aside: Path | None = None
    #: the schema version before migrations ran (0 = new file)
    from_version: int = 0


def open_db(
    path: Path | str,
    migrations: Sequence[Migration],
    *,
    rebuild_if_corrupt: bool = True,
    check_same_thread: bool = True,
    busy_timeout_ms: int = 5000,
) -> OpenedDb:
    """Open `path` (":memory:" works too), bring it to `len(migrations)` and return it.

    The schema version is `PRAGMA user_version`; migration *i* (0-based) moves it from i to i+1 in one
    transaction, so a crash mid-migration leaves the previous version intact.
    """
    p = Path(path)
    memory = str(path) == ":memory:"
    if not memory:
        p.parent.mkdir(parents=True, exist_ok=True)
    if not memory and p.exists() and not p.is_file():
        raise DatabaseError(f"{p}: is not a file; move it away or choose another path")
    moved: Path | None = None
    try:
        conn, version = _connect(str(path), check_same_thread, busy_timeout_ms)
    except sqlite3.DatabaseError as exc:
        if memory or not rebuild_if_corrupt or not _is_corruption(exc):
            # Locked, unreadable or unopenable files are not corrupt: never move them aside.
            raise DatabaseError(f"{p}: cannot read the database ({exc})") from exc
        moved = move_aside(p)
        conn, version = _connect(str(p), check_same_thread, busy_timeout_ms)
    if version > len(migrations):
        conn.close()
        raise DatabaseError(
            f"{p}: schema version {version} is newer than this agentdesk knows ({len(migrations)}); "
            "upgrade agentdesk or move the file away"
        )
    for index in range(version, len(migrations)):
        try:
            _migrate(conn, index, migrations[index])
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise DatabaseError(
                    f"{p}: another process is writing or upgrading this file; try again ({exc})"
                ) from exc
            raise
    return OpenedDb(conn=conn, path=p, moved_aside=moved, from_version=version)


def _connect(path: str, check_same_thread: bool, busy_timeout_ms: int) -> tuple[sqlite3.Connection, int]:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # Reading the schema forces SQLite to parse the header: garbage fails here, not later.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        row = conn.execute("PRAGMA quick_check(1)").fetchone()
        if row is None or row[0] != "ok":
            raise _IntegrityFailed(f"integrity check failed: {row[0] if row else 'no answer'}")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except BaseException:
        conn.close()
        raise
    return conn, version


class _IntegrityFailed(sqlite3.DatabaseError):
    pass


#: SQLITE_CORRUPT and SQLITE_NOTADB: the only errors that mean "this file is damaged".
_CORRUPTION_CODES = {11, 26}


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    if isinstance(exc, _IntegrityFailed):
        return True
    return getattr(exc, "sqlite_errorcode", None) in _CORRUPTION_CODES


def move_aside(path: Path) -> Path:
    """Rename an unreadable file (and its WAL/SHM/journal) to `<name>.corrupt-<time>`; never delete."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    path.replace(target)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.replace(target.with_name(target.name + suffix))
    return target


def _migrate(conn: sqlite3.Connection, index: int, migration: Migration) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if int(conn.execute("PRAGMA user_version").fetchone()[0]) > index:
            # another process ran this migration while we waited for the write lock
            conn.execute("COMMIT")
            return
        if isinstance(migration, str):
            for statement in _statements(migration):
                conn.execute(statement)
        else:
            migration(conn)
        conn.execute(f"PRAGMA user_version = {index + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split a script into complete statements (executescript would commit our transaction)."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n\t;"):
                out.append(buf.strip())
            buf = ""
    return out
