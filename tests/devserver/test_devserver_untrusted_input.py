"""Untrusted input never crashes the server: random bytes on WebSocket connections (before and after
CONNECT) and malformed REST requests; afterwards the server still serves a normal exchange."""

from __future__ import annotations

import asyncio
import contextlib
import random

import httpx
from devserver_rawclient import Api, RawClient, connected

from agentdesk.devserver.server import DevServer
from agentdesk.wukongim import codec
from agentdesk.wukongim.packets import Ping, Pong, Recv, Sendack
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN

SEED = 20261121


def _garbage(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    n = rng.randrange(1, 64)
    body = bytes(rng.randrange(256) for _ in range(n))
    if kind == 0:
        return body
    if kind == 1:  # a plausible header with a lying length
        return bytes([rng.randrange(1, 13) << 4 | rng.randrange(16), rng.randrange(128)]) + body
    if kind == 2:  # a SEND whose body is random
        return bytes([0x32, len(body)]) + body
    return bytes([0x62, len(body)]) + body  # RECVACK with random body


async def test_random_websocket_bytes(devserver: DevServer, api: Api) -> None:
    rng = random.Random(SEED)
    for i in range(40):
        client = RawClient(devserver.ws_url, f"fuzz{i}___vstr")
        if i % 2:
            assert await client.connect() is not None
        else:
            await client.open()
        assert client.ws is not None
        await client.ws.send(_garbage(rng))
        # either the server closes the connection or it is still usable (e.g. RECVACK of unknown ids)
        if not client.closed.is_set():
            with contextlib.suppress(Exception):
                await client.ws.send(codec.encode(Ping(), 2))
        await client.close()
    await api.token("alice", "ta")
    await api.token("bob", "tb")
    alice = await connected(devserver.ws_url, "alice", "ta")
    bob = await connected(devserver.ws_url, "bob", "tb")
    await alice.send("bob", 1, {"type": 1, "content": "after the storm"})
    assert (await alice.expect(Sendack)).reason_code == 1
    assert bob.open_recv(await bob.expect(Recv))["content"] == "after the storm"
    await bob.send_raw(codec.encode(Ping(), 2))
    await bob.expect(Pong)
    await alice.close()
    await bob.close()


async def test_malformed_rest_requests(devserver: DevServer) -> None:
    port = int(devserver.api_url.rsplit(":", 1)[1])
    raw_requests = [
        b"GET\r\n\r\n",
        b"POST /user/token HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST /user/token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /user/token HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n",
        b"GET /health HTTP/2.0\r\n\r\n",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nbroken header line\r\n\r\n",
    ]
    for raw in raw_requests:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        await writer.drain()
        answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 4"), (raw[:40], answer[:60])
        writer.close()
        await writer.wait_closed()
    headers = {"token": DEVSERVER_MANAGER_TOKEN}
    not_json = [b"[", b"[[[[[[[[" * 20000, b"\xff\xfe", b""]
    odd_json = [b"null", b'{"uid": NaN}', b'{"channel_type": 1e400}', b'{"uid": "u", "channel_type": -1}']
    paths = [
        "/user/token",
        "/message/send",
        "/channel/messagesync",
        "/conversation/sync",
        "/channel",
        "/user/onlinestatus",
        "/conversations/setUnread",
    ]
    async with httpx.AsyncClient(base_url=devserver.api_url, headers=headers) as http:
        for path in paths:
            for body in not_json:
                resp = await http.post(path, content=body)
                assert resp.status_code == 400, (path, body[:20], resp.status_code, resp.text)
            for body in odd_json:  # a clean answer, never a server error
                resp = await http.post(path, content=body)
                assert resp.status_code in (200, 400), (path, body[:20], resp.status_code, resp.text)
            resp = await http.post(
                path,
                json={
                    "channel_id": "x",
                    "channel_type": 2,
                    "start_message_seq": 2**70,
                    "login_uid": "u",
                    "uid": "u",
                    "msg_count": 2**70,
                },
            )
            assert resp.status_code in (200, 400), (path, resp.status_code)
        assert (await http.get("/health")).json() == {"status": "ok"}
