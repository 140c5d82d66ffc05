"""Catch-up after an outage: messages missed across many channels while a client was offline.

    .venv/bin/python benchmarks/bench_catchup.py [--channels 500] [--messages 10000] [--json]

1. An `agentdesk devserver` process (encryption on, token auth off) and `--channels` group channels with
   the agent `agent` subscribed. A `WuKongIMClient` with a file-backed `MessageStore` connects, receives
   one message per channel live (so every channel is known) and closes: the agent goes offline.
2. While it is offline, `--messages` messages are posted over REST, round-robin across the channels
   (each with a unique client_msg_no).
3. The same client (same store) starts again. Measured: from `start()` to the moment every missed message
   is in the store (the `CaughtUp` event and the store count are both awaited). Then: lost = missed
   client_msg_nos not in the store, duplicated = client_msg_nos stored more than once, plus the number of
   `MessageReceived` events (a duplicate event would count as a duplicate delivery).

Target: ≤ 3 s, zero lost, zero duplicated. Prints a table (or one JSON object with --json) and writes
benchmarks/results/bench_catchup.json. Timings on a shared machine are indicative.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import CaughtUp, ClientEvent, MessageReceived
from agentdesk.wukongim.store import MessageStore
from benchkit import start_devserver

RESULTS = Path(__file__).parent / "results"
MANAGER = "bench-manager-token"
AGENT = "agent"
TARGET_S = 3.0


async def wait_until(check: Any, what: str, within: float = 300.0) -> None:
    """Bounded poll (a safety net, not a measurement)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_catchup: timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def post_all(http: httpx.AsyncClient, items: list[tuple[str, str]], concurrency: int = 16) -> None:
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for it in items:
        queue.put_nowait(it)

    async def worker() -> None:
        import base64

        while not queue.empty():
            channel, cmn = queue.get_nowait()
            body = json.dumps({"type": 1, "content": f"missed {cmn}"}).encode()
            r = await http.post(
                "/message/send",
                json={
                    "header": {"no_persist": 0, "red_dot": 1, "sync_once": 0},
                    "channel_id": channel,
                    "channel_type": 2,
                    "from_uid": "customer",
                    "client_msg_no": cmn,
                    "payload": base64.b64encode(body).decode(),
                },
            )
            r.raise_for_status()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def run(channels: int, messages: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-catchup-") as tmp:
        return await _run(Path(tmp), channels, messages)


async def _run(tmp: Path, n_channels: int, n_messages: int) -> dict[str, Any]:
    proc, ready = await start_devserver(tmp / "wk", manager_token=MANAGER)
    http = httpx.AsyncClient(base_url=ready["api_url"], headers={"token": MANAGER}, timeout=60)
    names = [f"c{i:04d}" for i in range(n_channels)]
    try:
        for name in names:
            r = await http.post(
                "/channel", json={"channel_id": name, "channel_type": 2, "subscribers": [AGENT, "customer"]}
            )
            r.raise_for_status()
        db_path = tmp / "agent.sqlite3"
        cfg = ClientConfig(
            uid=AGENT, token="t", api_url=ready["api_url"], ws_url=ready["ws_url"], manager_token=MANAGER
        )

        # -- 1. online: one message per channel, so every channel is known to the store ------------
        store = MessageStore.open(db_path)
        client = WuKongIMClient(cfg, store)
        await client.connect(within=30)
        await client.wait_caught_up(within=60)
        await post_all(http, [(name, f"warm-{name}") for name in names])
        await wait_until(lambda: store.count_messages() >= n_channels, "the warm-up messages")
        await client.close()
        store.close()

        # -- 2. offline: the outage ----------------------------------------------------------------
        missed = [(names[i % n_channels], f"missed-{i:06d}") for i in range(n_messages)]
        t0 = time.perf_counter()
        await post_all(http, missed)
        post_seconds = time.perf_counter() - t0

        # -- 3. reconnect and catch up -------------------------------------------------------------
        store = MessageStore.open(db_path)
        received: list[MessageReceived] = []
        caught: list[CaughtUp] = []

        def on_event(ev: ClientEvent) -> None:
            if isinstance(ev, MessageReceived):
                received.append(ev)
            elif isinstance(ev, CaughtUp):
                caught.append(ev)

        client = WuKongIMClient(cfg, store, on_event=on_event)
        before = store.count_messages()
        t0 = time.perf_counter()
        await client.start()
        await wait_until(lambda: bool(caught), "CaughtUp")
        t_caughtup = time.perf_counter() - t0
        await wait_until(
            lambda: len({ev.message.client_msg_no for ev in received}) >= n_messages, "every missed message"
        )
        t_all = time.perf_counter() - t0
        await client.close()
        store.close()

        con = sqlite3.connect(db_path)
        try:
            cmns = Counter(
                row[0]
                for row in con.execute(
                    "SELECT client_msg_no FROM messages WHERE client_msg_no LIKE 'missed-%'"
                )
            )
        finally:
            con.close()
        expected = {cmn for _, cmn in missed}
        lost = len(expected - set(cmns))
        duplicated = sum(c - 1 for c in cmns.values() if c > 1)
        event_counts = Counter(ev.message.client_msg_no for ev in received)
        dup_events = sum(c - 1 for c in event_counts.values() if c > 1)
        return {
            "benchmark": "catchup",
            "channels": n_channels,
            "missed": n_messages,
            "stored_before": before,
            "post_seconds": round(post_seconds, 3),
            "seconds_to_caughtup_event": round(t_caughtup, 3),
            "seconds_to_all_stored": round(t_all, 3),
            "messages_per_second": round(n_messages / t_all, 1),
            "caughtup_new_messages": caught[0].new_messages,
            "caughtup_channels": caught[0].channels,
            "caughtup_error": caught[0].error,
            "live_events": sum(1 for ev in received if ev.live),
            "lost": lost,
            "duplicated": duplicated,
            "duplicate_events": dup_events,
            "target_seconds": TARGET_S,
            "meets_target": t_all <= TARGET_S and lost == 0 and duplicated == 0 and dup_events == 0,
        }
    finally:
        await http.aclose()
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def table(r: dict[str, Any]) -> str:
    rows = [
        ("channels / missed messages", f"{r['channels']} / {r['missed']}"),
        ("reconnect → CaughtUp", f"{r['seconds_to_caughtup_event']:.3f} s"),
        (
            "reconnect → all stored",
            f"{r['seconds_to_all_stored']:.3f} s (target ≤ {r['target_seconds']:g} s)",
        ),
        ("throughput", f"{r['messages_per_second']:.0f} msg/s"),
        (
            "lost / duplicated / duplicate events",
            f"{r['lost']} / {r['duplicated']} / {r['duplicate_events']}",
        ),
        ("meets target", str(r["meets_target"])),
    ]
    width = max(len(a) for a, _ in rows)
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=500)
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    result = asyncio.run(run(args.channels, args.messages))
    result["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load": list(os.getloadavg()),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_catchup.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(json.dumps(result) if args.json else table(result))


if __name__ == "__main__":
    main()
