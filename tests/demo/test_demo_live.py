"""The live demo's machinery (what `agentdesk demo` runs beside the console), in-process: it starts on a
background thread, gives a working staff login, replays at its pace, and stops with nothing left."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from demokit import port_free

from agentdesk.demo import AGENT_UID, SUPERVISOR_UID, DemoOptions, LiveDemo
from agentdesk.sim.customer import Pace
from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.store import MessageStore


async def _staff_can_log_in(ws_url: str, uid: str, token: str) -> bool:
    store = MessageStore.open(":memory:")
    client = WuKongIMClient(ClientConfig(uid=uid, token=token, api_url=None, ws_url=ws_url), store)
    try:
        await client.connect(within=10)
        return True
    finally:
        await client.close()
        store.close()


def test_live_demo_starts_logs_in_and_stops(tmp_path: Path) -> None:
    lines: list[str] = []
    lock = threading.Lock()

    def sink(line: str) -> None:
        with lock:
            lines.append(line)

    quick = Pace(start_gap=0.05, think=0.0, reply_timeout=10.0)
    live = LiveDemo(DemoOptions(data=tmp_path / "demo", role="supervisor", pace=quick), on_log=sink)
    login = live.start(timeout=60)
    try:
        assert login.uid == SUPERVISOR_UID and login.role == "supervisor"
        assert login.data_dir == tmp_path / "demo"
        assert (login.data_dir / "roster.toml").read_text().count("=") >= 2
        # the token the console would get is registered on the demo's server (this thread has no loop)
        assert asyncio.run(_staff_can_log_in(login.ws_url, login.uid, login.token))
        assert not live.wait(0.5)  # still running: the live demo runs until stopped
    finally:
        live.stop(timeout=30)
    assert live.wait(0)
    ports = {int(url.rsplit(":", 1)[1]) for url in (login.api_url, login.ws_url)}
    assert all(port_free(p) for p in ports)
    assert login.data_dir.exists()  # --data is kept
    with lock:
        assert any(line.startswith("devserver") for line in lines)
    assert AGENT_UID != SUPERVISOR_UID
