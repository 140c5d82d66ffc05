"""End-to-end ingest over loopback: RECV → stored → acked, with 1,000 channels (messages/s).

    .venv/bin/python benchmarks/bench_ingest.py [--channels 1000] [--messages 20000]

The receiver is always a `WuKongIMClient` in this process with a file-backed `MessageStore`: it
verifies each RECV's msg_key, decrypts, stores in SQLite (batched), RECVACKs, then emits
`MessageReceived`. Measured: first `MessageReceived` → last (each one already stored and acked).

1. The client alone (headline figure): a raw feeder *process* (this file with ``--feed``) pushes
   pre-encoded RECVs over 1,000 group channels, one packet per WebSocket message like WuKongIM.
2. End to end through the devserver: a blaster process (``--blast``: one raw connection pipelining
   pre-encrypted SENDs round-robin over the channels) → `agentdesk devserver` process → the client.
   Here the devserver is the bottleneck (the sender's SENDACK rate is printed next to it).

Results are printed and written to benchmarks/results/bench_ingest-<time>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection, serve

from agentdesk.wukongim import codec, crypto
from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import MessageReceived
from agentdesk.wukongim.packets import Connack, Connect, Recv, Recvack, Send, Sendack
from agentdesk.wukongim.rest import RestClient
from agentdesk.wukongim.store import MessageStore

MANAGER = "bench-manager"
ROOT = Path(__file__).resolve().parent


async def blast(
    ws_url: str, uid: str, token: str, channels: list[str], total: int, window: int
) -> dict[str, Any]:
    """Send `total` messages round-robin over `channels` as fast as the server acks them."""
    keys = crypto.generate_keypair()
    version = 5
    async with websockets.connect(ws_url, compression=None, ping_interval=None, max_size=None) as ws:
        await ws.send(
            codec.encode(
                Connect(
                    version, 1, crypto.new_device_id(), uid, token, int(time.time() * 1000), keys.public_b64
                ),
                version,
            )
        )
        dec = codec.Decoder(version)
        ack = next(p for p in dec.feed(await ws.recv()) if isinstance(p, Connack))  # type: ignore[arg-type]
        if ack.server_version is not None:
            version = dec.version = ack.server_version
        session = crypto.derive_session(keys.private, ack.server_key, ack.salt)
        acked = 0
        sent = 0
        can_send = asyncio.Event()
        can_send.set()
        done = asyncio.Event()

        async def reader() -> None:
            nonlocal acked
            async for data in ws:
                for p in dec.feed(data):  # type: ignore[arg-type]
                    if isinstance(p, Sendack):
                        acked += 1
                        if sent - acked < window:
                            can_send.set()
                if acked >= total:
                    done.set()
                    return

        task = asyncio.create_task(reader())
        start = time.perf_counter()
        while sent < total:
            await can_send.wait()
            chunk = []
            for _ in range(min(200, total - sent)):
                sent += 1
                channel = channels[sent % len(channels)]
                cmn = secrets.token_hex(16)
                wire = session.encrypt_payload(json.dumps({"type": 1, "content": f"message {sent}"}).encode())
                key = session.send_msg_key(sent, cmn, channel, 2, wire)
                chunk.append(codec.encode(Send(0, sent, cmn, channel, 2, key, wire), version))
            await ws.send(b"".join(chunk))
            if sent - acked >= window:
                can_send.clear()
        await asyncio.wait_for(done.wait(), 300)
        elapsed = time.perf_counter() - start
        task.cancel()
    return {"sent": total, "seconds": elapsed, "per_second": total / elapsed}


async def feed(channels: int, total: int) -> None:
    """A raw protocol server (own process) that pushes `total` pre-encoded RECVs over `channels` to the
    first client, one packet per WebSocket message like WuKongIM, and reports when all are acked."""
    done = asyncio.Event()
    stats: dict[str, Any] = {}

    async def handle(ws: ServerConnection) -> None:
        dec = codec.Decoder(5)
        connect = dec.feed(await ws.recv())[0]  # type: ignore[arg-type]
        assert isinstance(connect, Connect)
        version = dec.version = min(connect.version, 5)
        session, server_key, salt = crypto.server_handshake(connect.client_key)
        has_sv = connect.version > 3
        await ws.send(
            codec.encode(
                Connack(0, 1, server_key, salt, version if has_sv else None, 1, int(has_sv)), version
            )
        )
        now = int(time.time())
        packets = []
        for i in range(1, total + 1):
            channel = f"bench{i % channels:04d}"
            seq = i // channels + 1
            cmn = f"cmn-{i}"
            wire = session.encrypt_payload(json.dumps({"type": 1, "content": f"message {i}"}).encode())
            key = session.recv_msg_key(i, seq, cmn, now, "sender", channel, 2, wire)
            packets.append(
                codec.encode(Recv(0, key, "sender", channel, 2, cmn, i, seq, now, wire, flags=2), version)
            )
        acked = 0
        all_acked = asyncio.Event()

        async def reader() -> None:
            nonlocal acked
            async for data in ws:
                acked += sum(isinstance(p, Recvack) for p in dec.feed(data))  # type: ignore[arg-type]
                if acked >= total:
                    all_acked.set()

        task = asyncio.create_task(reader())
        start = time.perf_counter()
        for pkt in packets:
            await ws.send(pkt)
        await asyncio.wait_for(all_acked.wait(), 300)
        stats.update(seconds=time.perf_counter() - start, acked=acked)
        task.cancel()
        done.set()

    async with serve(handle, "127.0.0.1", 0, compression=None, ping_interval=None, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(json.dumps({"ws_url": f"ws://127.0.0.1:{port}"}), flush=True)
        await asyncio.wait_for(done.wait(), 600)
    print(json.dumps(stats), flush=True)


async def run_feed(channels: int, total: int) -> dict[str, Any]:
    """The client alone: RECV → stored → acked against the raw feeder (no REST, no catch-up)."""
    feeder = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--feed", "--channels", str(channels), "--messages", str(total),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert feeder.stdout is not None
    ws_url = json.loads(await asyncio.wait_for(feeder.stdout.readline(), 30))["ws_url"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    store = MessageStore.open(tmp / "receiver.sqlite")
    received = 0
    first = last = 0.0
    finished = asyncio.Event()

    def on_event(ev: object) -> None:
        nonlocal received, first, last
        if isinstance(ev, MessageReceived):
            received += 1
            last = time.perf_counter()
            if received == 1:
                first = last
            if received >= total:
                finished.set()

    client = WuKongIMClient(ClientConfig(uid="receiver", token="rt", ws_url=ws_url), store, on_event=on_event)
    await client.connect(within=30)
    await asyncio.wait_for(finished.wait(), 600)
    out = json.loads(await asyncio.wait_for(feeder.stdout.readline(), 60))
    await feeder.wait()
    await client.close()
    stored = store.count_messages()
    store.close()
    seconds = last - first
    return {
        "mode": "client alone (raw feeder process)",
        "messages": total,
        "stored": stored,
        "seconds": round(seconds, 3),
        "messages_per_second": round((total - 1) / seconds, 1),
        "feeder_first_send_to_last_ack_seconds": round(out["seconds"], 3),
        "feeder_messages_per_second": round(total / out["seconds"], 1),
    }


async def run(channels: int, total: int) -> dict[str, Any]:
    env = {**os.environ, "AGENTDESK_MANAGER_TOKEN": MANAGER}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentdesk.cli", "devserver", "--api-port", "0", "--ws-port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert server.stdout is not None
    ready = json.loads(await asyncio.wait_for(server.stdout.readline(), 30))
    api, ws_url = ready["api_url"], ready["ws_url"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        async with RestClient(api, manager_token=MANAGER) as rest:
            await rest.user_token("receiver", "rt")
            await rest.user_token("blaster", "bt")
            names = [f"bench{i:04d}" for i in range(channels)]
            for name in names:
                await rest.channel_create(name, 2, ["receiver", "blaster"])
        store = MessageStore.open(tmp / "receiver.sqlite")
        received = 0
        first = last = 0.0
        finished = asyncio.Event()

        def on_event(ev: object) -> None:
            nonlocal received, first, last
            if isinstance(ev, MessageReceived) and ev.live:
                received += 1
                last = time.perf_counter()
                if received == 1:
                    first = last
                if received >= total:
                    finished.set()

        client = WuKongIMClient(
            ClientConfig(uid="receiver", token="rt", api_url=api, ws_url=ws_url, manager_token=MANAGER),
            store,
            on_event=on_event,
        )
        await client.connect(within=30)
        await client.wait_caught_up(within=30)
        blaster = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--blast", ws_url, "--channels", str(channels), "--messages", str(total),
            stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(blaster.communicate(), 600)
        send_stats = json.loads(out)
        await asyncio.wait_for(finished.wait(), 120)
        await client.close()
        stored = store.count_messages()
        store.close()
    finally:
        server.terminate()
        await server.wait()
    seconds = last - first
    return {
        "mode": "end to end through the devserver (blaster process → devserver process → client)",
        "messages": total,
        "stored": stored,
        "seconds": round(seconds, 3),
        "messages_per_second": round((total - 1) / seconds, 1) if seconds > 0 else None,
        "sender_messages_per_second": round(send_stats["per_second"], 1),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--channels", type=int, default=1000)
    p.add_argument("--messages", type=int, default=20_000)
    p.add_argument("--window", type=int, default=2000)
    p.add_argument("--blast", metavar="WS_URL", help=argparse.SUPPRESS)
    p.add_argument("--feed", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    names = [f"bench{i:04d}" for i in range(args.channels)]
    if args.blast:
        stats = asyncio.run(blast(args.blast, "blaster", "bt", names, args.messages, args.window))
        print(json.dumps(stats))
        return 0
    if args.feed:
        asyncio.run(feed(args.channels, args.messages))
        return 0
    alone = asyncio.run(run_feed(args.channels, args.messages))
    print(
        f"client alone: {alone['messages']} RECVs over {args.channels} channels in {alone['seconds']} s = "
        f"{alone['messages_per_second']} msg/s (RECV → stored → acked)"
    )
    e2e = asyncio.run(run(args.channels, args.messages))
    print(
        f"through the devserver: {e2e['messages']} messages in {e2e['seconds']} s = {e2e['messages_per_second']} "
        f"msg/s at the client; the sender got {e2e['sender_messages_per_second']} SENDACKs/s"
    )
    result = {
        "benchmark": "ingest",
        "channels": args.channels,
        "results": [alone, e2e],
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out_dir = ROOT / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"bench_ingest-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
