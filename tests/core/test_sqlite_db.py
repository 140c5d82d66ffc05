from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agentdesk.sqlite_db import DatabaseError, _migrate, open_db

V1 = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
V2 = "ALTER TABLE t ADD COLUMN w TEXT; CREATE INDEX t_w ON t(w);"


def test_new_file_gets_every_migration(tmp_path: Path) -> None:
    db = open_db(tmp_path / "a.sqlite", [V1, V2])
    assert db.from_version == 0
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == 2
    db.conn.execute("INSERT INTO t (v, w) VALUES ('x', 'y')")
    db.conn.close()


def test_reopen_runs_only_new_migrations(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    db = open_db(path, [V1])
    db.conn.execute("INSERT INTO t (v) VALUES ('kept')")
    db.conn.close()
    db = open_db(path, [V1, V2])
    assert db.from_version == 1
    assert db.conn.execute("SELECT v FROM t").fetchall() == [("kept",)]
    db.conn.close()


def test_failed_migration_keeps_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    open_db(path, [V1]).conn.close()
    with pytest.raises(sqlite3.OperationalError):
        open_db(path, [V1, "ALTER TABLE t ADD COLUMN w TEXT; SELECT * FROM missing;"])
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert [r[1] for r in conn.execute("PRAGMA table_info(t)")] == ["id", "v"]
    conn.close()


def test_corrupt_file_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    path.write_bytes(b"this is not a database, it is garbage" * 200)
    db = open_db(path, [V1])
    assert db.moved_aside is not None and db.moved_aside.exists()
    assert db.moved_aside.read_bytes().startswith(b"this is not a database")
    assert db.conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    db.conn.close()


def test_corrupt_file_raises_clearly_when_rebuild_is_off(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    path.write_bytes(b"\x00garbage" * 512)
    with pytest.raises(DatabaseError, match="cannot read the database"):
        open_db(path, [V1], rebuild_if_corrupt=False)
    assert path.read_bytes().startswith(b"\x00garbage")


def test_newer_schema_is_never_touched(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    open_db(path, [V1, V2]).conn.close()
    with pytest.raises(DatabaseError, match="newer than this agentdesk knows"):
        open_db(path, [V1])
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2


def test_directory_at_path_is_an_error_not_corruption(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    path.mkdir()
    with pytest.raises(DatabaseError, match="is not a file"):
        open_db(path, [V1])
    assert path.is_dir()
    assert not list(tmp_path.glob("a.sqlite.corrupt-*"))


def test_locked_file_is_never_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    open_db(path, [V1]).conn.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseError, match="locked"):
            open_db(path, [V1, V2], busy_timeout_ms=50)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not list(tmp_path.glob("a.sqlite.corrupt-*"))
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1


def test_a_write_lock_held_during_a_migration_is_a_clear_error(tmp_path: Path) -> None:
    """Another process writing (WAL: reading still works) while this one must migrate: a DatabaseError that
    says so, not a raw OperationalError; the file keeps its version."""
    path = tmp_path / "a.sqlite"
    open_db(path, [V1]).conn.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseError, match="another process is writing or upgrading"):
            open_db(path, [V1, V2], busy_timeout_ms=50)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1


def test_a_migration_another_process_finished_meanwhile_is_not_run_again(tmp_path: Path) -> None:
    """Two processes open a version-1 file; the second waits for the write lock while the first migrates.
    Once it has the lock it sees version 2 and skips the migration (a re-index is not done twice)."""
    path = tmp_path / "a.sqlite"
    open_db(path, [V1]).conn.close()
    runs: list[int] = []

    def v2(conn: sqlite3.Connection) -> None:
        runs.append(1)
        conn.execute("ALTER TABLE t ADD COLUMN w TEXT")

    waiting = sqlite3.connect(path, isolation_level=None)  # read version 1 before the other one migrated
    assert waiting.execute("PRAGMA user_version").fetchone()[0] == 1
    open_db(path, [V1, v2]).conn.close()
    _migrate(waiting, 1, v2)
    assert runs == [1]
    assert waiting.execute("PRAGMA user_version").fetchone()[0] == 2
    waiting.close()
