"""Benchmark: `agentdesk devserver` with many connected clients — fan-out rate and server memory.

The server runs as a subprocess (`agentdesk devserver`, encryption on, token auth off, RECV retry 600 s)
so its RSS is measured alone (/proc/<pid>/status); the clients run in this process as raw protocol
clients (websockets + codec + crypto), one asyncio task each, and RECVACK every RECV they get.

Scenarios
* connect: N clients connect (X25519 handshake each) — connections/s.
* group: one group with all N clients subscribed; a sender posts M messages over its own connection
  (SEND, waits for each SENDACK); time until every subscriber got every RECV — deliveries/s.
* visitors: N*0.8 visitor uids, each with its own visitors channel (type 10) subscribed by 2 of the
  N*0.2 agents; every visitor sends K messages at once — SENDACKs and agent RECVs/s.

    .venv/bin/python benchmarks/bench_devserver.py [--clients 1000] [--group-messages 20] [--visitor-messages 5]

Prints a table and writes benchmarks/results/bench_devserver-<time>.json. Numbers depend on the
machine and its load (the server and the clients share the CPU); compare runs on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from agentdesk.wukongim import codec, crypto
from agentdesk.wukongim.packets import Connack, Connect, HeaderFlag, Recv, Recvack, Send, Sendack
from benchkit import start_devserver

RESULTS = Path(__file__).parent / "results"
TIMEOUT = 600.0


@dataclass
class Client:
    uid: str
    ws: ClientConnection
    session: crypto.Session
    version: int = 4
    recvs: int = 0
    sendacks: int = 0
    seq: int = 0
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        decoder = codec.Decoder(self.version)
        try:
            async for message in self.ws:
                assert isinstance(message, bytes)
                for packet in decoder.feed(message):
                    if isinstance(packet, Recv):
                        self.recvs += 1
                        ack = Recvack(packet.message_id, packet.message_seq, flags=packet.flags)
                        await self.ws.send(codec.encode(ack, self.version))
                    elif isinstance(packet, Sendack):
                        self.sendacks += 1
                    self.progress.set()
        except websockets.ConnectionClosed:
            pass

    async def send(self, channel_id: str, channel_type: int, text: str) -> None:
        self.seq += 1
        wire = self.session.encrypt_payload(json.dumps({"type": 1, "content": text}).encode())
        cmn = crypto.new_client_msg_no()
        key = self.session.send_msg_key(self.seq, cmn, channel_id, channel_type, wire)
        packet = Send(0, self.seq, cmn, channel_id, channel_type, key, wire, flags=HeaderFlag.RED_DOT)
        await self.ws.send(codec.encode(packet, self.version))


async def connect(ws_url: str, uid: str) -> Client:
    ws = await websockets.connect(
        ws_url, compression=None, ping_interval=None, max_size=None, open_timeout=60
    )
    keys = crypto.generate_keypair()
    hello = Connect(4, 1, f"bench-{uid}", uid, "x", int(time.time() * 1000), keys.public_b64)
    await ws.send(codec.encode(hello, 4))
    connack = codec.decode_one(await ws.recv(), 4)
    assert isinstance(connack, Connack) and connack.reason_code == 1, connack
    client = Client(uid, ws, crypto.derive_session(keys.private, connack.server_key, connack.salt))
    client.reader = asyncio.create_task(client.read())
    return client


async def connect_many(ws_url: str, uids: list[str], concurrency: int = 50) -> list[Client]:
    sem = asyncio.Semaphore(concurrency)

    async def one(uid: str) -> Client:
        async with sem:
            return await connect(ws_url, uid)

    return list(await asyncio.gather(*(one(u) for u in uids)))


async def wait_until(pred: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.005)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, value = line.split(":", 1)
            out[name] = int(value.split()[0])
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-devserver-") as tmp:
        return await _run(args, Path(tmp))


async def _run(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    proc, ready = await start_devserver(data)
    results: dict[str, Any] = {"clients": args.clients, "rss_kib": {}}
    try:
        results["rss_kib"]["idle"] = rss_kib(proc.pid)
        n = args.clients
        n_visitors = int(n * 0.8)
        n_agents = n - n_visitors
        agents = [f"agent{i}" for i in range(n_agents)]
        visitors = [f"v{i}___vstr" for i in range(n_visitors)]
        http = httpx.AsyncClient(base_url=ready["api_url"], timeout=60)
        await http.post(
            "/channel", json={"channel_id": "all", "channel_type": 2, "subscribers": agents + visitors}
        )
        for i, v in enumerate(visitors):
            subs = [agents[i % n_agents], agents[(i + 1) % n_agents]]
            await http.post(
                "/channel/subscriber_add", json={"channel_id": v, "channel_type": 10, "subscribers": subs}
            )

        t0 = time.perf_counter()
        clients = await connect_many(ready["ws_url"], agents + visitors)
        t_connect = time.perf_counter() - t0
        results["connect"] = {"connections": n, "seconds": t_connect, "per_second": n / t_connect}
        results["rss_kib"]["connected"] = rss_kib(proc.pid)

        # -- group fan-out ---------------------------------------------------------------------
        sender = clients[0]
        m = args.group_messages
        expected = m * (n - 1)
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        for i in range(m):
            before = sender.sendacks
            await sender.send("all", 2, f"broadcast {i}")
            await wait_until(lambda b=before: sender.sendacks > b, "group SENDACK")
        t_acked = time.perf_counter() - t0
        await wait_until(lambda: sum(c.recvs for c in clients[1:]) >= expected, "group fan-out")
        t_group = time.perf_counter() - t0
        results["group"] = {
            "subscribers": n,
            "messages": m,
            "deliveries": expected,
            "seconds": t_group,
            "deliveries_per_second": expected / t_group,
            "messages_per_second": m / t_group,
            "sendack_seconds": t_acked,
            "server_cpu_seconds": cpu_seconds(proc.pid) - cpu0,
        }
        results["group"]["server_cpu_us_per_delivery"] = (
            results["group"]["server_cpu_seconds"] / expected * 1e6
        )
        results["rss_kib"]["after_group"] = rss_kib(proc.pid)

        # -- visitors channels -----------------------------------------------------------------
        for c in clients:
            c.recvs = 0
            c.sendacks = 0
        k = args.visitor_messages
        vclients = clients[n_agents:]
        aclients = clients[:n_agents]
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        for round_ in range(k):
            await asyncio.gather(*(c.send(c.uid, 10, f"question {round_}") for c in vclients))
        await wait_until(lambda: sum(c.sendacks for c in vclients) >= k * n_visitors, "visitor SENDACKs")
        t_acks = time.perf_counter() - t0
        agent_expected = k * n_visitors * 2
        await wait_until(lambda: sum(c.recvs for c in aclients) >= agent_expected, "agent RECVs")
        t_vis = time.perf_counter() - t0
        results["visitors"] = {
            "visitor_channels": n_visitors,
            "agents": n_agents,
            "messages": k * n_visitors,
            "agent_deliveries": agent_expected,
            "seconds": t_vis,
            "messages_per_second": k * n_visitors / t_vis,
            "deliveries_per_second": agent_expected / t_vis,
            "all_sendacks_seconds": t_acks,
            "server_cpu_seconds": cpu_seconds(proc.pid) - cpu0,
        }
        results["visitors"]["server_cpu_us_per_message"] = (
            results["visitors"]["server_cpu_seconds"] / (k * n_visitors) * 1e6
        )
        results["rss_kib"]["after_visitors"] = rss_kib(proc.pid)
        for c in clients:
            await c.ws.close()
        await http.aclose()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
        results["server_exit_code"] = proc.returncode
    return results


def table(r: dict[str, Any]) -> str:
    rows = [
        ("connect", f"{r['connect']['connections']} clients", f"{r['connect']['per_second']:.0f} conn/s"),
        (
            "group fan-out",
            f"{r['group']['messages']} msgs x {r['group']['subscribers'] - 1} recipients",
            f"{r['group']['deliveries_per_second']:.0f} RECV/s ({r['group']['messages_per_second']:.1f} msg/s), "
            f"server CPU {r['group']['server_cpu_us_per_delivery']:.0f} us/RECV",
        ),
        (
            "visitor channels",
            f"{r['visitors']['messages']} msgs in {r['visitors']['visitor_channels']} channels",
            f"{r['visitors']['messages_per_second']:.0f} msg/s, {r['visitors']['deliveries_per_second']:.0f} RECV/s, "
            f"server CPU {r['visitors']['server_cpu_us_per_message']:.0f} us/msg",
        ),
    ]
    for stage, mem in r["rss_kib"].items():
        rows.append(
            (f"server RSS {stage}", "", f"{mem['VmRSS'] / 1024:.1f} MiB (peak {mem['VmHWM'] / 1024:.1f})")
        )
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join("  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)) for row in rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--group-messages", type=int, default=20)
    p.add_argument("--visitor-messages", type=int, default=5)
    args = p.parse_args()
    results = asyncio.run(run(args))
    results["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load": os.getloadavg(),
    }
    print(table(results))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench_devserver-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
