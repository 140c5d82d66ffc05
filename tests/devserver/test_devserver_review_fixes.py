"""Regression tests for what the protocol review of the devserver found (each failed before its fix)."""

from __future__ import annotations

import asyncio
import base64
import os

import httpx
import pytest
from devserver_rawclient import Api, connected, eventually

from agentdesk.devserver.hub import ClientConn
from agentdesk.devserver.server import DevServer
from agentdesk.wukongim.packets import Recv
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN, DevServerFactory


async def _post(api_url: str, path: str, body: object, token: str | None) -> httpx.Response:
    headers = {"token": token} if token is not None else {}
    async with httpx.AsyncClient(base_url=api_url, headers=headers) as http:
        return await http.post(path, json=body)


# -- /user/token and extra system uids -------------------------------------------------------------


async def test_extra_system_uid_can_register_a_token_and_connect(devserver: DevServer, api: Api) -> None:
    """WuKongIM refuses /user/token only for the configured systemUID; uids added with
    /user/systemuids_add (bots) still log in normally."""
    await api.post("/user/systemuids_add", {"uids": ["deskbot"]})
    assert await api.post("/user/token", {"uid": "deskbot", "token": "tb", "device_flag": 1}) == {
        "status": 200
    }
    bot = await connected(devserver.ws_url, "deskbot", "tb")
    assert bot.connack is not None and bot.connack.reason_code == 1
    await bot.close()
    token = devserver.config.manager_token
    resp = await _post(
        devserver.api_url, "/user/token", {"uid": devserver.config.system_uid, "token": "x"}, token
    )
    assert resp.status_code == 400 and resp.json()["msg"]


# -- /conversation/sync last_msg_seqs parsed like Go's strconv ---------------------------------------


@pytest.mark.parametrize(
    ("seq_text", "listed"),
    [
        ("3", False),  # up to date
        ("003", False),
        ("18446744073709551616", False),  # ParseUint range error → MaxUint64 → up to date
        pytest.param(
            "9" * 5000, False, id="5000-nines"
        ),  # same, and more digits than Python's int() accepts by default
        (" 3", True),  # ParseUint syntax error → 0 → not known → listed
        ("+3", True),
        ("3_0", True),
        ("\uff13", True),  # FULLWIDTH DIGIT THREE: not an ASCII digit for Go
        ("-3", True),
        ("", True),
    ],
)
async def test_last_msg_seqs_odd_seq_values(
    devserver: DevServer, api: Api, seq_text: str, listed: bool
) -> None:
    for i in range(3):
        await api.post(
            "/message/send",
            {
                "from_uid": "alice",
                "channel_id": "bob",
                "channel_type": 1,
                "payload": base64.b64encode(b"m%d" % i).decode(),
            },
        )
    body = {"uid": "alice", "msg_count": 1, "last_msg_seqs": f"bob:1:{seq_text}"}
    convs = await api.post("/conversation/sync", body)
    assert [c["channel_id"] for c in convs] == (["bob"] if listed else [])


@pytest.mark.parametrize(
    ("type_text", "matches"), [("1", True), ("+1", True), ("01", True), (" 1", False), ("\uff11", False)]
)
async def test_last_msg_seqs_odd_channel_types(
    devserver: DevServer, api: Api, type_text: str, matches: bool
) -> None:
    await api.post(
        "/message/send", {"from_uid": "alice", "channel_id": "bob", "channel_type": 1, "payload": "aGk="}
    )
    convs = await api.post(
        "/conversation/sync", {"uid": "alice", "msg_count": 1, "last_msg_seqs": f"bob:{type_text}:1"}
    )
    assert [c["channel_id"] for c in convs] == ([] if matches else ["bob"])


# -- uint8 channel types and typed arrays -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/channel/messagesync", {"login_uid": "a", "channel_id": "b", "channel_type": 300}),
        ("/channel/messagesync", {"login_uid": "a", "channel_id": "b", "channel_type": -1}),
        ("/channel/messagesync", {"login_uid": "a", "channel_id": "b", "channel_type": 2, "limit": -5}),
        ("/conversations/clearUnread", {"uid": "a", "channel_id": "b", "channel_type": 257}),
        ("/conversations/setUnread", {"uid": "a", "channel_id": "b", "channel_type": 2**40, "unread": 1}),
        ("/conversations/delete", {"uid": "a", "channel_id": "b", "channel_type": -2}),
        ("/conversation/sync", {"uid": "a", "msg_count": 1, "exclude_channel_types": ["x"]}),
        ("/conversation/sync", {"uid": "a", "msg_count": 1, "exclude_channel_types": [1, 999]}),
        ("/user/token", {"uid": "a", "token": "t", "device_flag": 1, "device_level": 300}),
        ("/message/send", {"channel_id": "g", "channel_type": 2, "payload": "aGk=", "expire": 2**32}),
        ("/message/send", {"channel_id": "g", "channel_type": 2, "payload": "aGk=", "expire": -1}),
    ],
)
async def test_out_of_range_fields_are_400(devserver: DevServer, path: str, body: dict[str, object]) -> None:
    resp = await _post(devserver.api_url, path, body, devserver.config.manager_token)
    assert resp.status_code == 400, resp.text
    assert resp.json()["status"] == 400 and resp.json()["msg"]


# -- /message/send must not accept what can never be delivered as a RECV -----------------------------


@pytest.mark.parametrize(
    "body",
    [
        # 800 000 plaintext bytes → 1 066 688 bytes of base64 ciphertext: no RECV can carry it (1 MiB)
        {"channel_id": "bob", "channel_type": 1, "payload": base64.b64encode(os.urandom(800_000)).decode()},
        {"channel_id": "bob", "channel_type": 1, "payload": "aGk=", "client_msg_no": "c" * 40_000},
        {"channel_id": "bob", "channel_type": 1, "payload": "aGk=", "from_uid": "f" * 40_000},
        {"channel_id": "b" * 40_000, "channel_type": 1, "payload": "aGk="},
    ],
)
async def test_undeliverable_rest_send_is_400_and_not_stored(
    devserver: DevServer, api: Api, body: dict[str, object]
) -> None:
    resp = await _post(
        devserver.api_url, "/message/send", {"from_uid": "alice", **body}, devserver.config.manager_token
    )
    assert resp.status_code == 400, resp.text[:200]
    assert resp.json()["msg"]
    sync = {"login_uid": "alice", "channel_id": "bob", "channel_type": 1, "limit": 5}
    assert (await api.post("/channel/messagesync", sync))["messages"] == []


async def test_large_rest_send_that_fits_is_delivered(devserver: DevServer, api: Api) -> None:
    await api.token("bob", "tb")
    bob = await connected(devserver.ws_url, "bob", "tb")
    payload = b'{"type":1,"content":"' + b"x" * 700_000 + b'"}'
    out = await api.post(
        "/message/send",
        {
            "from_uid": "alice",
            "channel_id": "bob",
            "channel_type": 1,
            "payload": base64.b64encode(payload).decode(),
        },
    )
    recv = await bob.expect(Recv)
    assert recv.message_id == out["data"]["message_id"]
    assert bob.session.decrypt_payload(recv.payload) == payload
    await bob.close()


# -- manager token ----------------------------------------------------------------------------------


async def test_manager_token_is_checked_before_routing(devserver: DevServer) -> None:
    """WuKongIM's auth middleware runs for every request, so an unknown path without the token is 401."""
    async with httpx.AsyncClient(base_url=devserver.api_url) as http:
        resp = await http.get("/no/such/path")
        assert resp.status_code == 401 and resp.content == b""
        resp = await http.get("/no/such/path", headers={"token": devserver.config.manager_token or ""})
        assert resp.status_code == 404


async def test_blank_manager_token_means_no_token(devserver_factory: DevServerFactory) -> None:
    """`strings.TrimSpace(managerToken) == ""` disables the check in WuKongIM."""
    server = await devserver_factory(manager_token="  ")
    resp = await _post(server.api_url, "/user/token", {"uid": "a", "token": "t"}, None)
    assert resp.status_code == 200 and resp.json() == {"status": 200}


# -- a client that stops reading ----------------------------------------------------------------------


def _closing(conn: ClientConn) -> bool:
    return conn.closing


async def test_client_that_stops_reading_is_dropped(devserver_factory: DevServerFactory) -> None:
    """max_outbound_queue must hold even while the writer is blocked on a full TCP connection: before the
    fix the queue (plus RECV retries) grew without bound and the connection stayed open forever."""
    server = await devserver_factory(max_outbound_queue=5)
    api = Api(server.api_url, DEVSERVER_MANAGER_TOKEN)
    try:
        await api.token("bob", "tb")
        await api.token("carol", "tc")
        bob = await connected(server.ws_url, "bob", "tb")
        assert bob.ws is not None
        bob.ws.transport.pause_reading()  # bob's process hangs: the kernel buffers fill up
        assert server.hub is not None
        hub = server.hub
        payload = base64.b64encode(os.urandom(400_000)).decode()
        for _ in range(60):  # ≈ 32 MB of RECVs: far more than loopback socket buffers hold
            if "bob" not in hub.by_uid:
                break
            await api.post(
                "/message/send",
                {"from_uid": "alice", "channel_id": "bob", "channel_type": 1, "payload": payload},
            )
        await eventually(lambda: "bob" not in hub.by_uid, what="the stuck connection dropped")
        assert all(c.queue.qsize() <= 6 for c in hub.conns.values())
        bob.ws.transport.resume_reading()
        await eventually(bob.closed.is_set, what="bob sees the connection closed")
        # everybody else is unaffected
        carol = await connected(server.ws_url, "carol", "tc")
        await api.post(
            "/message/send",
            {"from_uid": "alice", "channel_id": "carol", "channel_type": 1, "payload": "aGk="},
        )
        assert (await carol.expect(Recv)).from_uid == "alice"
        await carol.close()
    finally:
        await api.aclose()


async def test_retry_round_that_drops_a_stuck_client_does_not_fail(
    devserver_factory: DevServerFactory,
) -> None:
    """A RECV retry that overflows the queue drops the client, which clears its pending RECVs: the
    retry round used to die with "dictionary changed size during iteration" (skipping everyone else)."""
    server = await devserver_factory(max_outbound_queue=50, recv_retry_interval=600.0)
    api = Api(server.api_url, DEVSERVER_MANAGER_TOKEN)
    try:
        await api.token("bob", "tb")
        bob = await connected(server.ws_url, "bob", "tb")
        assert bob.ws is not None and server.hub is not None
        hub = server.hub
        bob.ws.transport.pause_reading()
        payload = base64.b64encode(os.urandom(400_000)).decode()
        for _ in range(45):  # ≈ 24 MB: fills the socket buffers; stays below the 50-packet queue limit
            await api.post(
                "/message/send",
                {"from_uid": "alice", "channel_id": "bob", "channel_type": 1, "payload": payload},
            )
        (conn,) = hub.by_uid["bob"]
        assert len(conn.pending) == 45 and not _closing(conn)
        for item in conn.pending.values():
            item.due = 0.0  # all due now: the round pushes 45 more packets onto a stuck queue
        hub._retry_due(600.0, 5)
        assert _closing(conn) and not conn.pending
        await eventually(lambda: "bob" not in hub.by_uid, what="the stuck connection dropped")
        bob.ws.transport.resume_reading()
    finally:
        await api.aclose()


# -- HTTP framing -----------------------------------------------------------------------------------


async def test_content_length_with_thousands_of_digits_is_413(devserver: DevServer) -> None:
    """It used to be answered 431 "line too long" (int() refuses > 4300 digits with a ValueError)."""
    port = int(devserver.api_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /user/token HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n{}")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]
    assert b"request body larger than" in answer
