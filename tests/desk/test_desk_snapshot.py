"""The saved reducer state: a dump loads back to the same state, the cache opens from it instead of
parsing every fact, and falls back to the facts when it is absent, stale or damaged."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from deskkit import BOT, DeskSim, rid

from agentdesk.desk import cache as desk_cache
from agentdesk.desk import protocol as p
from agentdesk.desk.cache import SNAPSHOT_KEY, DeskCache
from agentdesk.desk.state import Reducer

V = "v1___vstr"


def busy() -> DeskSim:
    sim = DeskSim()
    sim.customer(V, "needs_human", "refund", name="Eve")
    sim.request("alice", p.Claim(id=rid(), channel=V))
    sim.request("bob", p.Claim(id=rid(), channel=V))  # rejected: an answer
    sim.request("alice", p.Label(id=rid(), channel=V, add=("vip", "refund")))
    sim.request("alice", p.Note(id=rid(), channel=V, text="called back"))
    sim.customer("v2___vstr", "ai_ok", name="Bo")
    sim.customer("v3___vstr", "needs_human", "angry", name="Cy")
    sim.request("sam", p.Escalate(id=rid(), channel="v3___vstr", reason="legal", urgency="urgent"))
    sim.staff_reply(V, "alice")
    sim.request("alice", p.Resolve(id=rid(), channel=V))
    sim.post("alice", b"chatter")
    return sim


def reload(state: Reducer) -> Reducer:
    return Reducer.load_state(BOT, json.loads(json.dumps(state.dump_state())))


def test_dump_loads_back_to_the_same_state() -> None:
    sim = busy()
    state = sim.console()
    again = reload(state)
    assert again.snapshot() == state.snapshot()
    for view in ("unassigned", "escalated", "ai", "all"):
        assert again.members(view) == state.members(view)
    assert again.members("mine", "alice") == state.members("mine", "alice")
    rejected = [d.facts[0] for d in sim.decisions if isinstance(d.facts[0], p.Rejected)]
    assert rejected and again.answer(rejected[0].re or "") == rejected[0]


def test_a_loaded_state_folds_on_like_the_original() -> None:
    sim = busy()
    half = len(sim.log)
    sim.request("alice", p.Reopen(id=rid(), channel=V))
    sim.request("sam", p.Claim(id=rid(), channel="v3___vstr"))
    loaded = Reducer(BOT)
    loaded.apply_many(sim.log[:half])
    loaded = reload(loaded)
    loaded.apply_many(sim.log)  # overlapping: the old entries change nothing
    for entry in sim.log[:half]:
        fact = p.parse_payload(entry.payload)
        if isinstance(fact, p.Fact):
            assert not loaded.apply_fact(fact)  # applied once, even by id
    assert loaded.snapshot() == sim.console().snapshot()


@pytest.mark.parametrize(
    "damage",
    [
        {"format": 99},
        {"bot_uid": "someone"},
        {"conversations": [["v1___vstr"]]},
        {"conversations": [[V, V, "n", True, 1.0, "gone", "ai", None, "normal", False, [], [], []]]},
    ],
)
def test_load_refuses_other_formats_and_shapes(damage: dict[str, object]) -> None:
    data = {**busy().console().dump_state(), **damage}
    with pytest.raises((ValueError, TypeError, KeyError)):
        Reducer.load_state(BOT, data)


def _saved(path: Path) -> dict[str, Any]:
    """The saved snapshot, read without opening the cache (which may save one)."""
    conn = sqlite3.connect(path)
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (SNAPSHOT_KEY,)).fetchone()
    conn.close()
    return dict(json.loads(row[0])) if row else {}


def test_open_saves_a_snapshot_and_then_uses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(desk_cache, "SNAPSHOT_EVERY", 1)
    sim = busy()
    path = tmp_path / "desk.sqlite"
    cache = DeskCache.open(path, bot_uid=BOT)
    cache.append(sim.log)
    cache.close()
    assert _saved(path) == {}  # appends do not save one: a session mixes in messages
    DeskCache.open(path, bot_uid=BOT).close()  # the next start-up folds the facts and saves it
    saved = _saved(path)
    expected = sim.console().snapshot()
    assert saved and saved["facts"] == sum(1 for e in sim.log if e.from_uid == BOT)
    # the facts are no longer parsed on open: damage them, the state stays
    conn = DeskCache.open(path, bot_uid=BOT)._conn
    assert conn is not None
    conn.execute("UPDATE facts SET payload = x'00'")
    conn.close()
    again = DeskCache.open(path, bot_uid=BOT)
    assert again.reducer.snapshot() == expected and again.last_seq == len(sim.log)
    again.close()


def test_facts_after_the_snapshot_are_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(desk_cache, "SNAPSHOT_EVERY", 1)
    sim = busy()
    path = tmp_path / "desk.sqlite"
    cache = DeskCache.open(path, bot_uid=BOT)
    cache.append(sim.log)
    cache.close()
    DeskCache.open(path, bot_uid=BOT).close()  # saves the snapshot
    sim.request("alice", p.Reopen(id=rid(), channel=V))
    later = DeskCache.open(path, bot_uid=BOT)
    later.append(sim.log)
    later.close()
    again = DeskCache.open(path, bot_uid=BOT)
    assert again.reducer.snapshot() == sim.console().snapshot()
    conv = again.reducer.get(V)
    assert conv is not None and conv.status == "open"
    again.close()
    assert _saved(path)["state"]["last_seq"] == len(sim.log)  # saved again with the new fact


@pytest.mark.parametrize("how", ["garbage", "stale", "other-format"])
def test_a_bad_snapshot_is_rebuilt_from_the_facts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setattr(desk_cache, "SNAPSHOT_EVERY", 1)
    sim = busy()
    path = tmp_path / "desk.sqlite"
    cache = DeskCache.open(path, bot_uid=BOT)
    cache.append(sim.log)
    cache.close()
    DeskCache.open(path, bot_uid=BOT).close()
    conn = DeskCache.open(path, bot_uid=BOT)._conn
    assert conn is not None
    if how == "garbage":
        conn.execute("UPDATE meta SET value = '{not json' WHERE key = ?", (SNAPSHOT_KEY,))
    elif how == "stale":  # a fact it was folded from is gone: the snapshot no longer matches the facts
        conn.execute("DELETE FROM facts WHERE seq = (SELECT min(seq) FROM facts)")
    else:
        data = json.loads(conn.execute("SELECT value FROM meta WHERE key = ?", (SNAPSHOT_KEY,)).fetchone()[0])
        data["state"]["format"] = 0
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(data), SNAPSHOT_KEY))
    conn.close()
    expected = Reducer(BOT)
    again = DeskCache.open(path, bot_uid=BOT)
    assert again._conn is not None
    for seq, from_uid, payload in again._conn.execute(
        "SELECT seq, from_uid, payload FROM facts ORDER BY seq"
    ):
        expected.apply(desk_cache.LogEntry(seq, from_uid, payload))
    assert again.reducer.snapshot()["conversations"] == expected.snapshot()["conversations"]
    if how == "stale":
        assert again.reducer.get(V) is None  # rebuilt: the opened fact of V was the deleted one
    again.close()
    facts = sum(1 for e in sim.log if e.from_uid == BOT) - (1 if how == "stale" else 0)
    assert _saved(path)["facts"] == facts  # and a good one saved in its place


def test_restored_messages_are_not_news() -> None:
    state = busy().console()
    conv = state.get("v3___vstr")
    assert conv is not None
    before = (conv.unread, conv.waiting_since)
    at = conv.last_activity + 50
    assert state.restore_message("v3___vstr", sender="customer", at=at, text="a\nb", seq=7)
    assert (conv.preview, conv.preview_from, conv.last_msg_seq, conv.last_activity) == (
        "a b",
        "customer",
        7,
        at,
    )
    assert (conv.unread, conv.waiting_since) == before
    assert not state.restore_message("v3___vstr", sender="staff", at=0, text="older", seq=7)
    assert not state.apply_message("v3___vstr", sender="customer", at=0, text="replayed", seq=7)
    assert conv.preview == "a b" and conv.unread == before[0]
    assert not state.restore_message("v9___vstr", sender="customer", at=1, text="unknown", seq=1)
    assert "v9___vstr" not in state.conversations
