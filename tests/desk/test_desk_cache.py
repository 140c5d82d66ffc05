"""The desk-log cache on a real SQLite file: round trip, catch-up position, and files it cannot use."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from deskkit import BOT, DeskSim, rid

from agentdesk.desk import protocol as p
from agentdesk.desk.cache import MIGRATIONS, DeskCache
from agentdesk.desk.state import LogEntry

V = "v1___vstr"


def scripted() -> DeskSim:
    sim = DeskSim()
    sim.customer(V, "needs_human", "refund", name="Eve \x1b[2J")
    sim.request("alice", p.Claim(id=rid(), channel=V))
    sim.request("bob", p.Claim(id=rid(), channel=V))  # rejected
    sim.request("alice", p.Label(id=rid(), channel=V, add=("vip",)))
    sim.customer("v2___vstr", "ai_ok")
    sim.post("alice", b"chatter that is not a desk event")
    return sim


def test_round_trip(tmp_path: Path) -> None:
    sim = scripted()
    path = tmp_path / "desk.sqlite"
    cache = DeskCache.open(path, bot_uid=BOT)
    assert (cache.last_seq, cache.notice, cache.moved_aside, cache.persistent) == (0, None, None, True)
    applied = cache.append(sim.log[:5])
    assert [f.kind for f in applied] == ["opened", "queued", "mode_changed", "assigned"]
    cache.append(sim.log[3:])  # overlapping catch-up
    expected = sim.console().snapshot()
    assert cache.reducer.snapshot() == expected
    cache.close()

    again = DeskCache.open(path, bot_uid=BOT)
    assert again.last_seq == len(sim.log)  # the trailing chatter still counts: catch up after it
    assert again.reducer.snapshot()["conversations"] == expected["conversations"]
    conv = again.reducer.get(V)
    assert conv is not None and conv.customer_name == "Eve \x1b[2J" and conv.labels == {"vip"}
    rows = again._conn.execute("SELECT count(*) FROM facts").fetchone()  # type: ignore[union-attr]
    assert rows == (sum(1 for e in sim.log if e.from_uid == BOT),)
    sim.request("sam", p.Resolve(id=rid(), channel=V))
    assert [f.kind for f in again.append(sim.log)] == ["resolved"]
    again.close()
    assert DeskCache.open(path, bot_uid=BOT).reducer.members("all") == {"v2___vstr"}


def test_decoded_payloads_are_stored_too(tmp_path: Path) -> None:
    opened = p.Opened(id=rid(), channel=V, at=1.0, customer_uid=V, customer_name="名字")
    cache = DeskCache.open(tmp_path / "d.sqlite", bot_uid=BOT)
    cache.append([LogEntry(4, BOT, p.encode(opened))])
    cache.close()
    again = DeskCache.open(tmp_path / "d.sqlite", bot_uid=BOT)
    conv = again.reducer.get(V)
    assert conv is not None and conv.customer_name == "名字" and again.last_seq == 4


def test_garbage_file_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "desk.sqlite"
    path.write_bytes(b"this is not a database\x00" * 400)
    cache = DeskCache.open(path, bot_uid=BOT)
    assert cache.moved_aside is not None and cache.moved_aside.exists()
    assert cache.moved_aside.read_bytes().startswith(b"this is not a database")
    assert cache.notice is not None and "unreadable and was rebuilt from the server" in cache.notice
    assert cache.last_seq == 0 and cache.persistent
    sim = scripted()
    cache.append(sim.log)
    cache.close()
    assert DeskCache.open(path, bot_uid=BOT).last_seq == len(sim.log)


def test_damaged_pages_are_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "desk.sqlite"
    cache = DeskCache.open(path, bot_uid=BOT)
    sim = DeskSim()
    for n in range(300):
        sim.request("bob", p.Note(id=rid(), channel=V, text="x" * 500 + str(n)))  # rejected: unknown
    cache.append(sim.log)
    cache._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    cache.close()
    data = bytearray(path.read_bytes())
    assert len(data) > 8 * 4096
    data[2 * 4096 : 6 * 4096] = b"\xa5" * (4 * 4096)  # smash b-tree pages, keep the header
    path.write_bytes(bytes(data))
    reopened = DeskCache.open(path, bot_uid=BOT)
    assert reopened.moved_aside is not None
    assert reopened.notice is not None and "rebuilt from the server" in reopened.notice
    assert reopened.last_seq == 0 and reopened.persistent


def test_another_desk_channel_or_bot_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "desk.sqlite"
    cache = DeskCache.open(path, bot_uid=BOT)
    cache.append(scripted().log)
    cache.close()
    other = DeskCache.open(path, bot_uid=BOT, desk_channel="desk-eu")
    assert other.last_seq == 0 and other.reducer.conversations == {}
    assert other.notice is not None and "changed" in other.notice
    assert other.moved_aside is None


def test_newer_schema_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "desk.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    cache = DeskCache.open(path, bot_uid=BOT)
    assert not cache.persistent and cache.moved_aside is None
    assert cache.notice is not None and "newer" in cache.notice and "in memory only" in cache.notice
    sim = scripted()
    assert [f.kind for f in cache.append(sim.log)][:1] == ["opened"]  # the console still works
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS) + 1,)


def test_unopenable_path_falls_back_to_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    cache = DeskCache.open(blocker / "desk.sqlite", bot_uid=BOT)
    assert not cache.persistent and cache.moved_aside is None
    assert cache.notice is not None and "in memory only" in cache.notice
    assert blocker.read_text() == "a file where the data directory should be"
    assert cache.append(scripted().log)


def test_a_failed_write_turns_the_cache_off_not_the_console(tmp_path: Path) -> None:
    path = tmp_path / "desk.sqlite"
    cache = DeskCache.open(path, bot_uid=BOT)
    cache._conn.execute("DROP TABLE facts")  # type: ignore[union-attr]
    sim = scripted()
    applied = cache.append(sim.log)
    assert applied and not cache.persistent
    assert cache.notice is not None and "could not be written" in cache.notice
    assert cache.reducer.get(V) is not None
