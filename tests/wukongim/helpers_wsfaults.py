"""Fault injection over real loopback sockets.

* `WsProxy`: a WebSocket relay between a client and a real server; ``drop_s2c``/``drop_c2s`` can
  swallow packets (the server writes one packet per WebSocket message, so the first byte is the
  packet type), `drop_all()` aborts every TCP connection without a close frame, `stall` holds
  server→client traffic.
* `ScriptedServer`: a tiny WuKongIM server built on the codec that does what a scenario says
  (duplicate RECVs, no PONG, no SENDACK, silence after CONNECT, DISCONNECT kicks).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import Server, ServerConnection, serve

from agentdesk.wukongim import codec, crypto
from agentdesk.wukongim.packets import (
    Connack,
    Connect,
    Packet,
    Ping,
    Pong,
    Recv,
    UnknownPacket,
)

P = TypeVar("P")


class WsProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.url = ""
        self.drop_s2c: Callable[[bytes], bool] = lambda data: False
        #: client→server messages (may hold several packets); return True to swallow one
        self.drop_c2s: Callable[[bytes], bool] = lambda data: False
        self.stall = asyncio.Event()
        self.stall.set()
        self.dropped: list[bytes] = []
        self.connections = 0
        self._pairs: list[tuple[ServerConnection, ClientConnection]] = []
        self._server: Server | None = None

    async def start(self) -> str:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, compression=None, ping_interval=None, max_size=None
        )
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self.url

    async def _handle(self, down: ServerConnection) -> None:
        self.connections += 1
        try:
            up = await websockets.connect(self.upstream, compression=None, ping_interval=None, max_size=None)
        except OSError:
            return
        pair = (down, up)
        self._pairs.append(pair)

        async def c2s() -> None:
            async for data in down:
                raw = data if isinstance(data, bytes) else data.encode()
                if self.drop_c2s(raw):
                    self.dropped.append(raw)
                    continue
                await up.send(raw)

        async def s2c() -> None:
            async for data in up:
                await self.stall.wait()
                raw = data if isinstance(data, bytes) else data.encode()
                if self.drop_s2c(raw):
                    self.dropped.append(raw)
                    continue
                await down.send(raw)

        tasks = [asyncio.create_task(c2s()), asyncio.create_task(s2c())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await up.close()
            if pair in self._pairs:
                self._pairs.remove(pair)

    def drop_all(self) -> int:
        """Abort every relayed connection (both sides see a dead TCP connection, no close frame)."""
        n = len(self._pairs)
        for down, up in list(self._pairs):
            down.transport.abort()
            up.transport.abort()
        return n

    async def stop(self) -> None:
        self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def packet_type(data: bytes) -> int:
    return data[0] >> 4 if data else 0


class ScriptedConn:
    def __init__(self, ws: ServerConnection, connect: Connect, version: int, session: crypto.Session) -> None:
        self.ws = ws
        self.connect = connect
        self.version = version
        self.session = session
        self.answer_pings = True
        self.received: list[Packet | UnknownPacket] = []
        self.inbox: asyncio.Queue[Packet | UnknownPacket] = asyncio.Queue()

    async def send(self, packet: Packet) -> None:
        await self.ws.send(codec.encode(packet, self.version))

    async def expect(self, cls: type[P], within: float = 20.0) -> P:
        """The next packet of this type (others are skipped but kept in `received`)."""
        async with asyncio.timeout(within):
            while True:
                p = await self.inbox.get()
                if isinstance(p, cls):
                    return p

    def recv(self, message_id: int, message_seq: int, client_msg_no: str, payload: bytes, **kw: Any) -> Recv:
        """A RECV as the server would send it on this connection (encrypted, correct msg_key)."""
        from_uid = kw.pop("from_uid", "bob")
        channel_id = kw.pop("channel_id", "bob")
        channel_type = kw.pop("channel_type", 1)
        ts = kw.pop("timestamp", int(time.time()))
        wire = self.session.encrypt_payload(payload)
        key = self.session.recv_msg_key(
            message_id, message_seq, client_msg_no, ts, from_uid, channel_id, channel_type, wire
        )
        return Recv(
            setting=0,
            msg_key=kw.pop("msg_key", key),
            from_uid=from_uid,
            channel_id=channel_id,
            channel_type=channel_type,
            client_msg_no=client_msg_no,
            message_id=message_id,
            message_seq=message_seq,
            timestamp=ts,
            payload=wire,
            flags=kw.pop("flags", 0x02),
        )


Scenario = Callable[[ScriptedConn], Awaitable[None]]


class ScriptedServer:
    """Accepts CONNECT, answers CONNACK (unless ``connack=False``), then runs ``scenario(conn)``.

    The scenario returning keeps the connection open until the client goes away.
    """

    def __init__(self, scenario: Scenario, *, connack: bool = True) -> None:
        self.scenario = scenario
        self.connack = connack
        self.conns: list[ScriptedConn] = []
        self.connected = asyncio.Condition()
        self.url = ""
        self._server: Server | None = None

    async def start(self) -> str:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None, ping_interval=None)
        self.url = f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self.url

    async def wait_connects(self, n: int, within: float = 20.0) -> ScriptedConn:
        async with asyncio.timeout(within), self.connected:
            await self.connected.wait_for(lambda: len(self.conns) >= n)
        return self.conns[n - 1]

    async def _handle(self, ws: ServerConnection) -> None:
        decoder = codec.Decoder(5)
        first = await ws.recv()
        packets = decoder.feed(first if isinstance(first, bytes) else first.encode())
        connect = packets[0]
        assert isinstance(connect, Connect)
        version = min(connect.version, 5)
        decoder.version = version
        if not self.connack:
            # WuKongIM v2.x on a bad token: no CONNACK, the socket is closed
            await ws.close()
            return
        session, server_key, salt = crypto.server_handshake(connect.client_key)
        has_sv = connect.version > 3
        await ws.send(
            codec.encode(
                Connack(
                    0,
                    1,
                    server_key,
                    salt,
                    server_version=version if has_sv else None,
                    node_id=1,
                    flags=int(has_sv),
                ),
                version,
            )
        )
        conn = ScriptedConn(ws, connect, version, session)
        async with self.connected:
            self.conns.append(conn)
            self.connected.notify_all()

        async def reader() -> None:
            async for data in ws:
                for p in decoder.feed(data if isinstance(data, bytes) else data.encode()):
                    conn.received.append(p)
                    if isinstance(p, Ping):
                        if conn.answer_pings:
                            await conn.send(Pong())
                        continue
                    conn.inbox.put_nowait(p)

        task = asyncio.create_task(reader())
        try:
            await self.scenario(conn)
            await task
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
