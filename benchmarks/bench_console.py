"""Console benchmarks (figures for the notes; not part of the test suite).

    .venv/bin/python benchmarks/bench_console.py [latency] [startup] [memory] [--conversations 2000]
        [--rate 200] [--seconds 10] [--cached 10000] [--messages 200000] [--no-snapshot]

1. latency: socket-to-screen. A devserver process, 2,000 desk conversations (opened + queued by desk
   facts), a blaster process sending customer messages at 200/s; the console core + app (headless) in
   this process. For every message: from the client's `MessageReceived` (stored, acked) to the end of
   the first screen refresh after the queue was redrawn. Prints p50/p99/max.
2. startup: 10,000 conversations in the desk cache (30,000 facts; the reducer snapshot saved by the
   previous start-up, unless --no-snapshot) and their messages in the message store; time from building
   the console core to the first frame with the queue drawn (the server is unreachable, as when
   offline), plus the import time of the UI in a fresh interpreter.
3. memory: 10,000 conversations and 200,000 cached messages; resident memory after start-up, after
   opening 50 conversations, and the peak.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from agentdesk.console.core import ConsoleConfig, ConsoleCore
from agentdesk.desk import protocol as p
from agentdesk.desk.cache import DeskCache
from agentdesk.desk.state import LogEntry
from agentdesk.tui.app import make_app
from agentdesk.tui.screens.main import MainScreen
from agentdesk.tui.themes import load_themes
from agentdesk.tui.widgets.queue_list import QueueList
from agentdesk.wukongim.events import MessageReceived
from agentdesk.wukongim.rest import RestClient
from agentdesk.wukongim.store import MessageStore, StoredMessage

MANAGER = "bench-manager-token"
BOT = "deskbot"
SIZE = (160, 45)

BLASTER = r"""
import asyncio, json, random, sys, time
from agentdesk.wukongim.rest import RestClient
cfg = json.loads(sys.argv[1])
async def main():
    async with RestClient(cfg["api"], manager_token=cfg["manager"]) as rest:
        chans, rate, n = cfg["channels"], cfg["rate"], cfg["count"]
        start = time.perf_counter()
        for i in range(n):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            c = random.choice(chans)
            await rest.message_send(c, 10, {"type": 1, "content": f"bench {i}"}, from_uid=c)
        print(json.dumps({"sent": n, "seconds": time.perf_counter() - start}), flush=True)
asyncio.run(main())
"""


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def themes() -> Any:
    found, _ = load_themes(user_dir=Path("/nonexistent-agentdesk-user-themes"))
    return found


def start_devserver(data: Path) -> tuple[subprocess.Popen[str], str, str]:
    env = {**os.environ, "AGENTDESK_MANAGER_TOKEN": MANAGER}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentdesk.cli",
            "devserver",
            "--api-port",
            "0",
            "--ws-port",
            "0",
            "--data",
            str(data),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    return proc, ready["api_url"], ready["ws_url"]


async def latency(args: argparse.Namespace, tmp: Path) -> None:
    server, api, ws = start_devserver(tmp / "server")
    try:
        rest = RestClient(api, manager_token=MANAGER)
        token = secrets.token_hex(8)
        await rest.user_token("alice", token)
        await rest.channel_create("desk", 2, subscribers=["alice", BOT])
        channels = [f"b{i:05d}___vstr" for i in range(args.conversations)]
        t0 = time.perf_counter()
        for start in range(0, len(channels), 50):
            await asyncio.gather(
                *(rest.channel_create(c, 10, subscribers=["alice"]) for c in channels[start : start + 50])
            )
        now = time.time()
        for start in range(0, len(channels), 50):
            facts: list[p.Fact] = []
            for c in channels[start : start + 50]:
                facts += [
                    p.Opened(
                        id=uuid.uuid4().hex,
                        channel=c,
                        at=now,
                        customer_uid=c,
                        customer_name=f"Customer {c[1:6]}",
                    ),
                    p.ModeChanged(id=uuid.uuid4().hex, channel=c, at=now, mode="assist"),
                    p.Queued(id=uuid.uuid4().hex, channel=c, at=now, reason="bench"),
                ]
            for fact in facts:  # in order: the desk log is sequential
                await rest.message_send("desk", 2, p.encode_bytes(fact), from_uid=BOT)
        print(f"setup: {len(channels)} conversations in {time.perf_counter() - t0:.1f} s", flush=True)

        core = ConsoleCore(
            ConsoleConfig(
                uid="alice",
                token=token,
                api_url=api,
                ws_url=ws,
                data_dir=tmp / "console",
                manager_token=MANAGER,
            )
        )
        arrivals: list[float] = []
        latencies: list[float] = []
        original = core._on_client_event

        def on_event(event: Any) -> None:
            if isinstance(event, MessageReceived) and event.message.channel_type == 10:
                arrivals.append(time.perf_counter())
            original(event)

        core.client._on_event = on_event
        app = make_app(core, themes=themes(), animations=False, tune_gc=True)
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            assert isinstance(screen, MainScreen)
            on_queue = screen.on_queue_changed

            def on_queue_changed() -> None:
                pending = len(arrivals)
                on_queue()

                def painted() -> None:
                    t = time.perf_counter()
                    done = len(latencies)
                    latencies.extend(t - a for a in arrivals[done:pending])

                screen.call_after_refresh(painted)

            screen.on_queue_changed = on_queue_changed  # type: ignore[method-assign]
            async with asyncio.timeout(120):
                while core.counts()["all"] < args.conversations:
                    await pilot.pause(0.1)
            count = int(args.rate * args.seconds)
            cfg = {"api": api, "manager": MANAGER, "channels": channels, "rate": args.rate, "count": count}
            blaster = await asyncio.create_subprocess_exec(
                sys.executable, "-c", BLASTER, json.dumps(cfg), stdout=asyncio.subprocess.PIPE
            )
            async with asyncio.timeout(args.seconds * 6 + 60):
                while len(latencies) < count:
                    await pilot.pause(0.05)
            out, _ = await blaster.communicate()
            sent = json.loads(out)
        await rest.aclose()
        ms = [x * 1000 for x in latencies]
        print(
            f"latency: {len(ms)} messages at {sent['sent'] / sent['seconds']:.0f}/s over {args.conversations} "
            f"conversations: p50 {pct(ms, 0.5):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, max {max(ms):.1f} ms, "
            f"mean {statistics.fmean(ms):.1f} ms",
            flush=True,
        )
    finally:
        server.terminate()
        server.wait(10)


def populate(data: Path, conversations: int, messages: int, *, snapshot: bool = True) -> None:
    """A console data dir as after a long day: desk facts and cached messages for every conversation."""
    data.mkdir(parents=True, exist_ok=True)
    cache = DeskCache.open(data / "desk-alice.sqlite", bot_uid=BOT, desk_channel="desk")
    now = time.time()
    entries: list[LogEntry] = []
    seq = 0
    for i in range(conversations):
        c = f"c{i:06d}___vstr"
        urgency: p.Urgency = "urgent" if i % 97 == 0 else "high" if i % 13 == 0 else "normal"
        for fact in (
            p.Opened(
                id=uuid.uuid4().hex, channel=c, at=now - i, customer_uid=c, customer_name=f"Customer {i}"
            ),
            p.ModeChanged(id=uuid.uuid4().hex, channel=c, at=now - i, mode="ai" if i % 4 == 0 else "assist"),
            p.Queued(id=uuid.uuid4().hex, channel=c, at=now - i, urgency=urgency, reason="r"),
        ):
            seq += 1
            entries.append(LogEntry(seq, BOT, p.encode_bytes(fact)))
    cache.append(entries)
    cache.close()
    if snapshot:  # the previous start-up folded the facts and saved the reducer snapshot
        DeskCache.open(data / "desk-alice.sqlite", bot_uid=BOT, desk_channel="desk").close()
    store = MessageStore.open(data / "messages-alice.sqlite")
    per = max(1, messages // conversations)
    batch: list[StoredMessage] = []
    mid = 1
    for i in range(conversations):
        c = f"c{i:06d}___vstr"
        for s in range(1, per + 1):
            body = json.dumps(
                {"type": 1, "content": f"message {s} of customer {i}: where is my parcel?"}
            ).encode()
            batch.append(StoredMessage(mid, s, uuid.uuid4().hex, c, c, 10, int(now) - per + s, body))
            mid += 1
        if len(batch) >= 20000:
            store.store_received(batch)
            batch = []
    if batch:
        store.store_received(batch)
    store.close()


async def first_frame(data: Path) -> tuple[float, ConsoleCore, Any]:
    t0 = time.perf_counter()
    core = ConsoleCore(
        ConsoleConfig(
            uid="alice", token="x", api_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9", data_dir=data
        )
    )
    app = make_app(core, themes=themes(), animations=False, tune_gc=True)
    return t0, core, app


async def startup(args: argparse.Namespace, tmp: Path, imports: float) -> None:
    data = tmp / "cached"
    t = time.perf_counter()
    populate(data, args.cached, args.messages, snapshot=not args.no_snapshot)
    print(
        f"populated {args.cached} conversations, {args.messages} messages in {time.perf_counter() - t:.1f} s"
    )
    t0, _core, app = await first_frame(data)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        frame = time.perf_counter() - t0
        queue = app.screen.query_one("#queue-rows")
        while queue.option_count == 0:  # type: ignore[attr-defined]
            await pilot.pause(0.01)
        drawn = time.perf_counter() - t0
        while not any(row.preview for row in app.screen.query_one(QueueList).rows):
            await pilot.pause(0.01)
        previews = time.perf_counter() - t0
        print(
            f"startup: {args.cached} cached conversations{' (no snapshot)' if args.no_snapshot else ''}: "
            f"first frame {frame * 1000:.0f} ms, queue drawn {drawn * 1000:.0f} ms, previews shown "
            f"{previews * 1000:.0f} ms (+ {imports * 1000:.0f} ms importing the UI and core in a fresh "
            "interpreter)",
            flush=True,
        )
        print(f"memory: after start-up RSS {rss_mb():.0f} MB", flush=True)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        for i in range(50):
            screen.open_conversation(f"c{i * 7:06d}___vstr")
            await pilot.pause()
        for worker in [w for w in app.workers if w.group != "connection"]:
            with contextlib.suppress(Exception):
                await worker.wait()
        print(
            f"memory: {args.cached} conversations, {args.messages} cached messages, 50 opened: "
            f"RSS {rss_mb():.0f} MB, peak {peak_mb():.0f} MB",
            flush=True,
        )


def import_seconds() -> float:
    """Import time of the UI and the core in a fresh interpreter."""
    code = (
        "import time; t = time.perf_counter(); import agentdesk.tui.app, agentdesk.console.core; "
        "print(time.perf_counter() - t)"
    )
    return float(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="*", default=["latency", "startup"])
    ap.add_argument("--conversations", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--cached", type=int, default=10000)
    ap.add_argument("--messages", type=int, default=200000)
    ap.add_argument("--no-snapshot", action="store_true", help="start-up without a saved desk snapshot")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if "latency" in args.what:
            asyncio.run(latency(args, Path(tmp)))
        if "startup" in args.what or "memory" in args.what:
            asyncio.run(startup(args, Path(tmp), import_seconds()))


if __name__ == "__main__":
    main()
