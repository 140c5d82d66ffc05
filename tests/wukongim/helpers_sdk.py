"""The official WuKongIM JS SDK (npm wukongimjssdk@1.0.4) driven through tests/sdk/sdk_client.mjs.

`wkjs_dir` (session fixture) installs the pinned package.json once into ``<repo>/.cache/wkjs`` with
npm; it skips only when node or npm is absent (CI has both), and fails when the install fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SDK_DIR = REPO / "tests" / "sdk"


@pytest.fixture(scope="session")
def wkjs_dir() -> Iterator[Path]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"the SDK conformance test needs node and npm on PATH (node={node}, npm={npm})")
    target = REPO / ".cache" / "wkjs"
    target.mkdir(parents=True, exist_ok=True)
    wanted = (SDK_DIR / "package.json").read_text("utf-8")
    pkg = target / "package.json"
    installed = target / "node_modules" / "wukongimjssdk" / "package.json"
    if not (pkg.exists() and pkg.read_text("utf-8") == wanted and installed.exists()):
        pkg.write_text(wanted, "utf-8")
        proc = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"],
            cwd=target,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(f"npm install of the pinned SDK failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    version = json.loads(installed.read_text("utf-8"))["version"]
    assert version == "1.0.4", f"expected wukongimjssdk 1.0.4, npm installed {version}"
    yield target


class SdkClient:
    """One sdk_client.mjs process: stdin JSON lines → SEND, stdout JSON lines → events."""

    def __init__(self, proc: asyncio.subprocess.Process, uid: str) -> None:
        self.proc = proc
        self.uid = uid
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, wkjs: Path, addr: str, uid: str, token: str) -> SdkClient:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(SDK_DIR / "sdk_client.mjs"),
            "--addr",
            addr,
            "--uid",
            uid,
            "--token",
            token,
            "--connect-timeout",
            "20",
            "--drain",
            "20",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "WKJS_DIR": str(wkjs)},
        )
        return cls(proc, uid)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            obj = json.loads(line)
            async with self.changed:
                self.events.append(obj)
                self.changed.notify_all()
        async with self.changed:
            self.events.append({"event": "eof"})
            self.changed.notify_all()

    async def wait(self, predicate: Any, within: float) -> list[dict[str, Any]]:
        """Wait until predicate(events) is true; returns the events. Fails on an early exit."""
        async with asyncio.timeout(within), self.changed:
            while not predicate(self.events):
                if self.events and self.events[-1]["event"] == "eof":
                    raise AssertionError(f"sdk_client {self.uid} exited: {self.events[-5:]}")
                await self.changed.wait()
        return self.events

    async def connected(self, within: float) -> None:
        await self.wait(
            lambda ev: any(e["event"] == "status" and e.get("status_code") == 1 for e in ev), within
        )

    def send(self, channel_id: str, channel_type: int, payload: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        line = json.dumps({"channel_id": channel_id, "channel_type": channel_type, "payload": payload})
        self.proc.stdin.write(line.encode() + b"\n")

    def messages(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "message"]

    def sendacks(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "sendack"]

    async def finish(self, within: float) -> int:
        """EOF on stdin: the harness waits for outstanding SENDACKs and exits (0 = all acked)."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            code = await asyncio.wait_for(self.proc.wait(), within)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
            await self._reader
        return code
