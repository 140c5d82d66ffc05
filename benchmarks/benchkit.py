"""Shared pieces of the benchmark scripts (imported as `benchkit`: scripts run from this folder)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any


async def start_devserver(
    data: Path, *, manager_token: str | None = None
) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
    """`agentdesk devserver` as a subprocess on free ports, token auth off, RECV retries out of the way;
    returns the process and its JSON ready line. Without `manager_token` the REST API is open."""
    env = {k: v for k, v in os.environ.items() if k != "AGENTDESK_MANAGER_TOKEN"}
    if manager_token is not None:
        env["AGENTDESK_MANAGER_TOKEN"] = manager_token
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentdesk.cli",
        "devserver",
        "--api-port",
        "0",
        "--ws-port",
        "0",
        "--no-token-auth",
        "--recv-retry-interval",
        "600",
        "--data",
        str(data),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None
    ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
    if ready.get("event") != "ready":
        raise RuntimeError(f"devserver did not start: {ready!r}")
    return proc, ready
