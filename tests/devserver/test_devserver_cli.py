"""`agentdesk devserver` as a subprocess: ready line, serving, SIGTERM → exit 0, ports released."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
from devserver_rawclient import WAIT, connected


async def test_subprocess_ready_line_and_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "AGENTDESK_MANAGER_TOKEN": "cli-token"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentdesk.cli",
        "devserver",
        "--api-port",
        "0",
        "--ws-port",
        "0",
        "--data",
        str(tmp_path / "wk"),
        "--no-token-auth",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        ready = json.loads(line)
        assert ready["event"] == "ready" and ready["pid"] == proc.pid
        assert ready["data_dir"] == str(tmp_path / "wk")
        async with httpx.AsyncClient(base_url=ready["api_url"], timeout=WAIT) as http:
            assert (await http.get("/route")).status_code == 401
            route = (await http.get("/route", headers={"token": "cli-token"})).json()
            assert route["ws_addr"] == ready["ws_url"]
        client = await connected(ready["ws_url"], "someone")
        proc.send_signal(signal.SIGTERM)
        await client.closed.wait()
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        assert json.loads(out.decode().strip().splitlines()[-1]) == {"event": "stopped"}
        assert ready["api_url"] in err.decode() and ready["ws_url"] in err.decode()
        for url in (ready["api_url"], ready["ws_url"]):
            with socket.socket() as s:  # ports released
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_subprocess_warns_without_manager_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AGENTDESK_MANAGER_TOKEN"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentdesk.cli",
        "devserver",
        "--api-port",
        "0",
        "--ws-port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
        async with httpx.AsyncClient(base_url=ready["api_url"], timeout=WAIT) as http:
            assert (await http.get("/user/systemuids")).json() == []
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0
        assert "AGENTDESK_MANAGER_TOKEN is not set" in err.decode()
        assert not await asyncio.to_thread(Path(ready["data_dir"]).exists)  # the temp data dir is removed
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_subprocess_port_in_use_exits_1(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agentdesk.cli",
            "devserver",
            "--api-port",
            str(port),
            "--ws-port",
            "0",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1 and out == b""
    assert b"cannot start" in err
