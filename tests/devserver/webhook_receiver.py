"""A real local HTTP server that records webhook pushes (independent of the devserver's own HTTP code)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Push:
    event: str
    body: Any
    status: int


@dataclass
class WebhookReceiver:
    #: statuses to answer, in order; 200 once exhausted
    statuses: list[int] = field(default_factory=list)
    #: when set, the first request waits for it before answering
    hold_first: asyncio.Event | None = None
    pushes: list[Push] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/wk"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()

    def delivered(self, event: str) -> list[Any]:
        """Items of every successfully answered push of `event`, in order."""
        return [item for p in self.pushes if p.event == event and p.status == 200 for item in p.body]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                _, target, _ = line.decode().split(" ", 2)
                length = 0
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                body = json.loads(await reader.readexactly(length))
                event = parse_qs(urlsplit(target).query)["event"][0]
                if self.hold_first is not None and not self.pushes:
                    await self.hold_first.wait()
                status = self.statuses.pop(0) if self.statuses else 200
                self.pushes.append(Push(event, body, status))
                self.arrived.set()
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
