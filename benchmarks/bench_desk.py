"""Desk core timings: fold 100k facts over 10k conversations, query the queues, reopen the cache
(rebuilt from the facts, then from the saved snapshot).

    .venv/bin/python benchmarks/bench_desk.py [--conversations 10000] [--facts 100000]

Prints figures for the notes; asserts nothing about time (a shared machine makes timed assertions flaky).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from agentdesk.desk import protocol as p
from agentdesk.desk import views
from agentdesk.desk.cache import DeskCache
from agentdesk.desk.rules import Roster, decide
from agentdesk.desk.state import LogEntry, Reducer

BOT = "deskbot"
T0 = 1_800_000_000.0
STAFF = [f"agent{i}" for i in range(40)] + ["sup1", "sup2"]
T = TypeVar("T")


def timed(label: str, fn: Callable[[], T], repeat: int = 1) -> T:
    best = float("inf")
    result: T | None = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<58} {best * 1000:10.1f} ms")
    assert result is not None or repeat == 0
    return result  # type: ignore[return-value]


def make_log(conversations: int, facts: int, seed: int = 7) -> list[LogEntry]:
    rng = random.Random(seed)
    channels = [f"{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}___vstr" for _ in range(conversations)]
    out: list[p.Fact] = []
    now = T0
    for ch in channels:
        now += 0.01
        out.append(
            p.Opened(id=_id(rng), channel=ch, at=now, customer_uid=ch, customer_name=f"Customer {ch[:6]}")
        )
    while len(out) < facts:
        now += 0.01
        ch = rng.choice(channels)
        roll = rng.random()
        base = {"id": _id(rng), "channel": ch, "at": now}
        fact: p.Fact
        if roll < 0.25:
            fact = p.Queued(**base, urgency=rng.choice(p.URGENCIES), reason="needs_human")
        elif roll < 0.45:
            fact = p.Assigned(**base, re=_id(rng), by="sup1", assignee=rng.choice(STAFF))
        elif roll < 0.55:
            fact = p.ModeChanged(**base, mode=rng.choice(p.MODES))
        elif roll < 0.62:
            fact = p.Escalated(**base, urgency="high", reason="angry", note="see transcript")
        elif roll < 0.72:
            fact = p.Responded(**base, by="agent1", waited=rng.uniform(5, 900))
        elif roll < 0.80:
            fact = p.Released(**base)
        elif roll < 0.88:
            fact = p.Noted(**base, by="agent2", text="customer prefers email")
        elif roll < 0.94:
            fact = p.Labeled(**base, add=(rng.choice(["vip", "refund", "bug"]),))
        elif roll < 0.97:
            fact = p.Resolved(**base)
        else:
            fact = p.Reopened(**base)
        out.append(fact)
    return [LogEntry(i + 1, BOT, p.encode_bytes(f)) for i, f in enumerate(out)]


def _id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conversations", type=int, default=10_000)
    ap.add_argument("--facts", type=int, default=100_000)
    args = ap.parse_args()
    log = timed(f"generate + encode {args.facts} facts", lambda: make_log(args.conversations, args.facts))
    now = T0 + args.facts * 0.01 + 60

    state = Reducer(BOT)
    timed(f"fold {len(log)} facts (parse + apply), one chunk", lambda: state.apply_many(log))
    chunked = Reducer(BOT)

    def in_chunks() -> int:
        for i in range(0, len(log), 100):
            chunked.apply_many(log[i : i + 100])
        return chunked.last_seq

    timed("fold the same log in chunks of 100", in_chunks)
    assert chunked.snapshot() == state.snapshot(), "chunking changed the state"
    timed("replay the whole log again (all skipped)", lambda: state.apply_many(log) or 1)
    print(f"  conversations {len(state.conversations)}, counts {views.counts(state, 'agent1')}")

    timed("counts per view", lambda: views.counts(state, "agent1"), repeat=5)
    timed("queue 'all', first query after a change (sort)", lambda: views.queue(state, "all", "agent1", now))
    timed("queue 'all', cached order, all rows", lambda: views.queue(state, "all", "agent1", now), repeat=5)
    timed(
        "queue 'all', cached order, first 50 rows", lambda: views.queue(state, "all", None, now, limit=50), 5
    )
    timed("queue 'unassigned'", lambda: views.queue(state, "unassigned", "agent1", now), repeat=5)
    timed("queue 'all' filtered by 'vip'", lambda: views.queue(state, "all", "agent1", now, text="vip"), 5)
    timed("next_urgent", lambda: views.next_urgent(state, "agent1", now) or 1, repeat=5)
    timed("dashboard (last hour, 5-minute buckets)", lambda: views.dashboard(state, "sup1", now), repeat=5)

    roster = Roster.from_mapping(
        {"users": {s: ("supervisor" if s.startswith("sup") else "agent") for s in STAFF}}
    )
    ids = list(state.conversations)

    def decide_many() -> int:
        for i, ch in enumerate(ids):
            d = decide(state, p.Claim(id=uuid.uuid4().hex, channel=ch), STAFF[i % 40], roster, now)
            for f in d.facts:
                state.apply_fact(f)
        return len(ids)

    timed(f"decide + fold {len(ids)} claims", decide_many)
    timed("queue 'all' after those changes (re-sort)", lambda: views.queue(state, "all", "agent1", now))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "desk.sqlite"
        cache = DeskCache.open(path, bot_uid=BOT)
        timed(f"cache: store {len(log)} facts", lambda: cache.append(log))
        cache.close()
        reopened = timed(
            "cache: reopen, rebuild the state from the facts, save the snapshot",
            lambda: DeskCache.open(path, bot_uid=BOT),
        )
        reopened.close()
        reopened = timed("cache: reopen from the snapshot", lambda: DeskCache.open(path, bot_uid=BOT))
        size = path.stat().st_size + sum(f.stat().st_size for f in Path(tmp).glob("desk.sqlite-*"))
        print(f"  cache file {size / 1e6:.1f} MB, last_seq {reopened.last_seq}")
        reopened.close()


if __name__ == "__main__":
    main()
