"""A minimal raw WuKongIM client for the devserver tests: websockets + codec + crypto, nothing else.

Deliberately not the production client. It records how many packets each inbound WebSocket message
carried, so tests can check the server never coalesces packets.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, TypeVar

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from agentdesk.wukongim import codec, crypto
from agentdesk.wukongim.packets import (
    Connack,
    Connect,
    HeaderFlag,
    Packet,
    Recv,
    Recvack,
    Send,
    UnknownPacket,
)

WAIT = 10.0  # generous safety timeout for anything that should happen "now"
P = TypeVar("P")


class RawClient:
    def __init__(
        self,
        ws_url: str,
        uid: str,
        token: str = "",
        *,
        device_flag: int = 1,
        device_id: str = "dev-1",
        version: int = 2,
    ) -> None:
        self.ws_url = ws_url
        self.uid = uid
        self.token = token
        self.device_flag = device_flag
        self.device_id = device_id
        self.version = version
        self.ws: ClientConnection | None = None
        self.session = crypto.Session.plaintext()
        self.packets: asyncio.Queue[Packet | UnknownPacket] = asyncio.Queue()
        self.packets_per_message: list[int] = []
        self.closed = asyncio.Event()
        self.connack: Connack | None = None
        self._decoder = codec.Decoder(version)
        self._reader: asyncio.Task[None] | None = None
        self._seq = 0

    async def open(self) -> ClientConnection:
        self.ws = await websockets.connect(self.ws_url, compression=None, max_size=None, ping_interval=None)
        return self.ws

    async def connect(self, *, raw_connect: bytes | None = None) -> Connack | None:
        """CONNECT; returns the CONNACK, or None if the server closed without one."""
        ws = self.ws or await self.open()
        keys = crypto.generate_keypair()
        packet = Connect(
            version=self.version,
            device_flag=self.device_flag,
            device_id=self.device_id,
            uid=self.uid,
            token=self.token,
            client_timestamp=int(time.time() * 1000),
            client_key=keys.public_b64,
        )
        await ws.send(raw_connect if raw_connect is not None else codec.encode(packet, self.version))
        self._reader = asyncio.create_task(self._read())
        first = await self.next_packet_or_close()
        if first is None:
            return None
        assert isinstance(first, Connack), first
        self.connack = first
        if first.server_key:
            self.session = crypto.derive_session(keys.private, first.server_key, first.salt)
        return first

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for message in self.ws:
                assert isinstance(message, bytes)
                packets = self._decoder.feed(message)
                self.packets_per_message.append(len(packets))
                for p in packets:
                    self.packets.put_nowait(p)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def next_packet_or_close(self, wait: float = WAIT) -> Packet | UnknownPacket | None:
        """The next packet, or None if the connection closed first."""
        get = asyncio.ensure_future(self.packets.get())
        closed = asyncio.ensure_future(self.closed.wait())
        done, _ = await asyncio.wait({get, closed}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        if get in done:
            closed.cancel()
            return get.result()
        get.cancel()
        closed.cancel()
        if closed in done:
            if not self.packets.empty():
                return self.packets.get_nowait()
            return None
        raise TimeoutError(f"{self.uid}: no packet within {wait} s")

    async def expect(self, kind: type[P], wait: float = WAIT) -> P:
        packet = await self.next_packet_or_close(wait)
        assert isinstance(packet, kind), f"{self.uid}: expected {kind.__name__}, got {packet!r}"
        return packet

    def build_send(
        self,
        channel_id: str,
        channel_type: int,
        content: dict[str, Any] | bytes,
        *,
        flags: int = HeaderFlag.RED_DOT,
        client_msg_no: str | None = None,
        bad_key: bool = False,
    ) -> Send:
        self._seq += 1
        plain = content if isinstance(content, bytes) else json.dumps(content).encode()
        wire = self.session.encrypt_payload(plain)
        cmn = client_msg_no or crypto.new_client_msg_no()
        key = self.session.send_msg_key(self._seq, cmn, channel_id, channel_type, wire)
        if bad_key:
            key = "0" * 32
        return Send(
            setting=0,
            client_seq=self._seq,
            client_msg_no=cmn,
            channel_id=channel_id,
            channel_type=channel_type,
            msg_key=key,
            payload=wire,
            flags=flags,
        )

    async def send(
        self, channel_id: str, channel_type: int, content: dict[str, Any] | bytes, **kw: Any
    ) -> Send:
        packet = self.build_send(channel_id, channel_type, content, **kw)
        await self.send_raw(codec.encode(packet, self._decoder.version))
        return packet

    async def send_raw(self, data: bytes) -> None:
        assert self.ws is not None
        await self.ws.send(data)

    def open_recv(self, recv: Recv) -> dict[str, Any]:
        """Verify the RECV's msg_key and return the decrypted JSON payload."""
        expected = self.session.recv_msg_key(
            recv.message_id,
            recv.message_seq,
            recv.client_msg_no,
            recv.timestamp,
            recv.from_uid,
            recv.channel_id,
            recv.channel_type,
            recv.payload,
        )
        assert recv.msg_key == expected, "RECV msg_key does not verify"
        data: dict[str, Any] = json.loads(self.session.decrypt_payload(recv.payload))
        return data

    async def ack(self, recv: Recv) -> None:
        await self.send_raw(
            codec.encode(Recvack(recv.message_id, recv.message_seq, flags=recv.flags), self.version)
        )

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=WAIT)


async def connected(ws_url: str, uid: str, token: str = "", **kw: Any) -> RawClient:
    client = RawClient(ws_url, uid, token, **kw)
    connack = await client.connect()
    assert connack is not None and connack.reason_code == 1, f"{uid}: login failed ({connack!r})"
    return client


class Api:
    """Tiny REST helper with the manager token header."""

    def __init__(self, base_url: str, token: str | None) -> None:
        headers = {"token": token} if token else {}
        self.http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=WAIT)

    async def post(self, path: str, body: object, status: int = 200) -> Any:
        resp = await self.http.post(path, json=body)
        assert resp.status_code == status, f"{path}: HTTP {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    async def get(self, path: str, status: int = 200, **params: Any) -> Any:
        resp = await self.http.get(path, params=params)
        assert resp.status_code == status, f"{path}: HTTP {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    async def token(self, uid: str, token: str, device_flag: int = 1, device_level: int = 0) -> None:
        body = {"uid": uid, "token": token, "device_flag": device_flag, "device_level": device_level}
        assert await self.post("/user/token", body) == {"status": 200}

    async def aclose(self) -> None:
        await self.http.aclose()


async def eventually(predicate: Any, wait: float = WAIT, what: str = "condition") -> None:
    """Wait (bounded) until predicate() is true; polls every 10 ms. Not a timed assertion: the timeout
    is only a safety net for a hung test."""
    deadline = asyncio.get_running_loop().time() + wait
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{what} not reached within {wait} s")
        await asyncio.sleep(0.01)
