"""Helpers for the cross-component fault matrix (tests/faults): real processes and sockets on 127.0.0.1.

* `DevServerProc`: `agentdesk devserver` as a subprocess on fixed ports, so it can be SIGKILLed and
  started again on the same data directory and addresses.
* `BotProc`: `agentdesk bot` as a subprocess (SIGKILL + restart on the same database).
* `TcpProxy`: a TCP relay between a client and a server that can pass, stall (one or both directions:
  bytes are held, sockets stay open) or drop (every relayed connection aborted, new ones cut at once),
  then heal.
* `WebhookTap`: an HTTP relay between the devserver's webhook pusher and the bot that records every
  batch body it forwarded, so a test can redeliver a whole window byte for byte.
* `wait_for`: a bounded poll (a safety net, never a timing assertion).

The helpers of other test directories are reused (tests/ has no __init__.py; their directories are put on
sys.path here): `botkit` (tests/bot), `helpers_wsfaults` (tests/wukongim), `helpers_llm_server` (tests/ai).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx

TESTS = Path(__file__).resolve().parents[1]
for _sub in ("bot", "wukongim", "ai"):
    if str(TESTS / _sub) not in sys.path:
        sys.path.append(str(TESTS / _sub))

from botkit import Desk, start_desk  # noqa: E402
from helpers_llm_server import ScriptedLLM, Step, json_answer, refused_url  # noqa: E402
from helpers_wsfaults import ScriptedConn, ScriptedServer  # noqa: E402

from agentdesk.desk import protocol as p  # noqa: E402
from agentdesk.wukongim.rest import MessageResp, RestClient  # noqa: E402
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN  # noqa: E402

#: safety net for waits on conditions (a failure, never a speed assertion)
WAIT = 45.0
BOT = "deskbot"
DESK = "desk"
MANAGER = DEVSERVER_MANAGER_TOKEN
#: FAQ questions the offline drafter answers confidently (the autopilot replies to each)
FAQ_QUESTIONS = ["运费怎么算？满多少包邮？", "满99元包邮吗？", "运费多少钱？"]
ROSTER_WATCH = """
[users]
alice = "agent"
sam = "supervisor"

[settings]
supervisors_watch_ai = true
"""

T = TypeVar("T")

__all__ = [
    "Desk",
    "ScriptedConn",
    "ScriptedLLM",
    "ScriptedServer",
    "Step",
    "json_answer",
    "refused_url",
    "start_desk",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def visitor(prefix: str = "f") -> str:
    return f"{prefix}{secrets.token_hex(4)}{p.VISITOR_SUFFIX}"


async def wait_for(check: Callable[[], Awaitable[T | None]], within: float = WAIT, what: str = "") -> T:
    """Poll `check` until it returns something truthy; bounded by `within` (a safety timeout)."""
    try:
        async with asyncio.timeout(within):
            while True:
                value = await check()
                if value:
                    return value
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what or check}") from None


async def history(rest: RestClient, login_uid: str, channel: str, channel_type: int) -> list[MessageResp]:
    """A channel's whole history over REST (pages followed, bounded)."""
    out: list[MessageResp] = []
    start = 1
    for _ in range(1000):
        page = await rest.channel_messagesync(
            login_uid, channel, channel_type, start_message_seq=start, limit=500, pull_mode=1
        )
        out.extend(page.messages)
        if not page.more or not page.messages:
            return out
        start = page.messages[-1].message_seq + 1
    raise AssertionError("history did not end")


def text_of(payload: bytes) -> str:
    try:
        obj = json.loads(payload)
    except ValueError:
        return ""
    return str(obj.get("content", "")) if isinstance(obj, dict) else ""


def dupes(counter: Counter[Any]) -> dict[Any, int]:
    return {k: v for k, v in counter.items() if v > 1}


async def stop_process(proc: asyncio.subprocess.Process | None, sig: int = signal.SIGTERM) -> int | None:
    if proc is None or proc.returncode is not None:
        return proc.returncode if proc else None
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        return await asyncio.wait_for(proc.wait(), 20)
    except TimeoutError:
        proc.kill()
        return await proc.wait()


async def read_json_line(proc: asyncio.subprocess.Process, within: float = WAIT) -> dict[str, Any]:
    assert proc.stdout is not None
    async with asyncio.timeout(within):
        line = await proc.stdout.readline()
    assert line, "the process exited before printing its ready line"
    obj = json.loads(line)
    assert isinstance(obj, dict)
    return obj


# -- devserver process ------------------------------------------------------------------------------


@dataclass
class DevServerProc:
    data_dir: Path
    webhook_url: str | None = None
    api_port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    extra: list[str] = field(default_factory=list)
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    async def start(self) -> None:
        args = [
            "--api-port",
            str(self.api_port),
            "--ws-port",
            str(self.ws_port),
            "--data",
            str(self.data_dir),
            "--recv-retry-interval",
            "0.5",
            *self.extra,
        ]
        if self.webhook_url:
            args += ["--webhook", self.webhook_url]
        # a port released by a SIGKILLed server can take a moment to be bindable again: bounded retries
        for attempt in range(40):
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "agentdesk.cli",
                "devserver",
                *args,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env={**os.environ, "AGENTDESK_MANAGER_TOKEN": MANAGER},
            )
            assert self.proc.stdout is not None
            async with asyncio.timeout(WAIT):
                line = await self.proc.stdout.readline()
            if line:
                ready = json.loads(line)
                assert ready["event"] == "ready", ready
                assert ready["api_url"] == self.api_url, ready
                self.starts += 1
                return
            await self.proc.wait()
            await asyncio.sleep(0.25 * (attempt + 1) / 4)
        raise AssertionError("the devserver could not start again on its ports")

    def kill(self) -> None:
        assert self.proc is not None and self.proc.returncode is None
        self.proc.send_signal(signal.SIGKILL)

    async def wait_dead(self) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), WAIT)

    async def stop(self) -> None:
        await stop_process(self.proc)


# -- bot process ----------------------------------------------------------------------------------


@dataclass
class BotProc:
    api_url: str
    tmp: Path
    port: int = field(default_factory=free_port)
    roster: str = ROSTER_WATCH
    extra: list[str] = field(default_factory=list)
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhook"

    async def start(self) -> None:
        roster = self.tmp / "roster.toml"
        roster.write_text(self.roster, "utf-8")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agentdesk.cli",
            "bot",
            "--api-url",
            self.api_url,
            "--listen",
            f"127.0.0.1:{self.port}",
            "--roster",
            str(roster),
            "--db",
            str(self.tmp / "bot.sqlite3"),
            *self.extra,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "AGENTDESK_MANAGER_TOKEN": MANAGER},
        )
        ready = await read_json_line(self.proc)
        assert ready["event"] == "ready" and ready["url"] == self.url, ready

    async def health(self) -> dict[str, Any] | None:
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                body = (await http.get(f"{self.url}/health")).json()
        except httpx.HTTPError:
            return None
        return body if isinstance(body, dict) else None

    async def idle(self) -> bool:
        h = await self.health()
        return bool(h and h.get("ready") and h["queue_depth"] == 0 and h["outbox_pending"] == 0)

    def kill(self) -> None:
        assert self.proc is not None and self.proc.returncode is None
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> int | None:
        return await stop_process(self.proc)


# -- TCP proxy ------------------------------------------------------------------------------------

Mode = Literal["pass", "stall", "stall_s2c", "drop"]


class TcpProxy:
    """client ⇄ proxy ⇄ upstream (host, port). Modes:

    * ``pass``: relay bytes both ways;
    * ``stall``: hold bytes in both directions (sockets stay open, nothing moves);
    * ``stall_s2c``: client → server passes, server → client is held (e.g. a SENDACK that never comes);
    * ``drop``: abort every relayed connection (no FIN, no close frame) and cut new ones at once.

    Held bytes are discarded when the connection is dropped (as a dead path would lose them).
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode: Mode = "pass"
        self.accepted = 0
        self._moved = asyncio.Condition()
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "drop":
            for down, up in list(self._pairs):
                for w in (down, up):
                    w.transport.abort()
            self._pairs.clear()
        async with self._moved:
            self._moved.notify_all()

    def _may_move(self, direction: str) -> bool:
        if self.mode == "pass":
            return True
        if self.mode == "stall_s2c":
            return direction == "c2s"
        return False

    async def _handle(self, down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "drop":
            down_w.transport.abort()
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            down_w.transport.abort()
            return
        pair = (down_w, up_w)
        self._pairs.append(pair)

        async def pump(r: asyncio.StreamReader, w: asyncio.StreamWriter, direction: str) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while True:
                    data = await r.read(65536)
                    if not data:
                        break
                    async with self._moved:
                        await self._moved.wait_for(lambda: self._may_move(direction) or self.mode == "drop")
                    if self.mode == "drop" or w.transport.is_closing():
                        break
                    w.write(data)
                    await w.drain()
            with contextlib.suppress(OSError):
                w.close()

        tasks = [
            asyncio.create_task(pump(down_r, up_w, "c2s")),
            asyncio.create_task(pump(up_r, down_w, "s2c")),
        ]
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if pair in self._pairs:
                self._pairs.remove(pair)
            for w in pair:
                w.transport.abort()

    async def stop(self) -> None:
        await self.set_mode("drop")
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


# -- webhook tap ----------------------------------------------------------------------------------


class WebhookTap:
    """devserver → tap → bot. Records every `msg.notify` body it forwarded (whatever the bot answered);
    answers 502 while the bot is unreachable, so the devserver retries as it would against a dead bot."""

    def __init__(self, target: str) -> None:
        self.target = target  # the bot's webhook URL
        self.bodies: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._http = httpx.AsyncClient(timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1]
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = await r.readexactly(length)
                query = target.partition("?")[2]
                status = await self.forward(query, body)
                w.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\n{{}}".encode())
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            w.close()

    async def forward(self, query: str, body: bytes, *, record: bool = True) -> int:
        try:
            resp = await self._http.post(
                f"{self.target}?{query}", content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError:
            return 502
        if record and "msg.notify" in query:
            self.bodies.append(body)
        return resp.status_code

    async def redeliver_all(self) -> list[int]:
        """POST every recorded msg.notify body to the bot again, in order (a whole window redelivered)."""
        out = []
        for body in list(self.bodies):
            out.append(await self.forward("event=msg.notify", body, record=False))
        return out

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await self._http.aclose()
