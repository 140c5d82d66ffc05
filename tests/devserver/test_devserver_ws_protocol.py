"""The binary WebSocket protocol over real loopback sockets (PROTOCOL.md §a, §b, §g)."""

from __future__ import annotations

import pytest
from devserver_rawclient import WAIT, Api, RawClient, connected, eventually

from agentdesk.devserver.server import DevServer
from agentdesk.wukongim import codec, crypto
from agentdesk.wukongim.packets import (
    Connack,
    Connect,
    Disconnect,
    HeaderFlag,
    Ping,
    Pong,
    Recv,
    Sendack,
)
from fixtures_devserver import DevServerFactory


@pytest.mark.parametrize("version", [2, 3, 4, 5])
async def test_connack_per_version(devserver: DevServer, api: Api, version: int) -> None:
    await api.token("alice", "ta")
    client = RawClient(devserver.ws_url, "alice", "ta", version=version)
    connack = await client.connect()
    assert connack is not None and connack.reason_code == 1
    assert (connack.server_version is not None) == (version > 3)
    if version > 3:
        assert connack.server_version == version
    assert len(connack.server_key) == 44 and len(connack.salt) == 16
    if version >= 4:
        assert connack.node_id == devserver.config.node_id
    # the connection works at that version: a message to itself from another device
    other = await connected(devserver.ws_url, "alice", "ta", device_id="dev-2", version=version)
    await client.send("alice", 1, {"type": 1, "content": f"v{version}"})
    assert (await client.expect(Sendack)).reason_code == 1
    recv = await other.expect(Recv)
    assert other.open_recv(recv)["content"] == f"v{version}"
    assert recv.flags & HeaderFlag.RED_DOT == 0  # own other device: red_dot cleared
    await client.close()
    await other.close()


async def test_version_above_five_is_capped(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    client = RawClient(devserver.ws_url, "alice", "ta", version=5)
    packet = Connect(6, 1, "d", "alice", "ta", 0, crypto.generate_keypair().public_b64)
    connack = await client.connect(raw_connect=codec.encode(packet, 5))
    assert connack is not None and connack.reason_code == 1 and connack.server_version == 5
    await client.close()


async def test_bad_token_gets_silence_and_close(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    for token in ("wrong", ""):
        client = RawClient(devserver.ws_url, "alice", token)
        assert await client.connect() is None
        assert client.closed.is_set()
    # unknown user, other device flag
    client = RawClient(devserver.ws_url, "alice", "ta", device_flag=0)
    assert await client.connect() is None


async def test_bad_token_connack_reason_2_option(devserver_factory: DevServerFactory) -> None:
    server = await devserver_factory(auth_fail_connack=True)
    client = RawClient(server.ws_url, "alice", "nope")
    connack = await client.connect()
    assert connack is not None and connack.reason_code == 2
    await client.closed.wait()


async def test_visitor_uid_needs_no_token(devserver: DevServer) -> None:
    client = await connected(devserver.ws_url, "v1___vstr", "")
    await client.send("v1___vstr", 10, {"type": 1, "content": "hello?"})
    ack = await client.expect(Sendack)
    assert ack.reason_code == 1 and ack.message_seq == 1
    await client.close()


@pytest.mark.parametrize("uid", ["", "a@b", "a#b", "a&b"])
async def test_invalid_uid_is_closed(devserver_factory: DevServerFactory, uid: str) -> None:
    server = await devserver_factory(token_auth=False)
    client = RawClient(server.ws_url, uid, "x")
    assert await client.connect() is None


async def test_token_auth_off_accepts_anything(devserver_factory: DevServerFactory) -> None:
    server = await devserver_factory(token_auth=False)
    client = await connected(server.ws_url, "anyone", "whatever")
    await client.close()


async def test_first_packet_must_be_connect(devserver: DevServer) -> None:
    client = RawClient(devserver.ws_url, "alice")
    await client.open()
    assert await client.connect(raw_connect=codec.encode(Ping(), 2)) is None


async def test_connect_timeout(devserver_factory: DevServerFactory) -> None:
    server = await devserver_factory(connect_timeout=0.2)
    client = RawClient(server.ws_url, "alice")
    ws = await client.open()
    await ws.send(b"\x10")  # the start of a CONNECT that never completes
    await ws.wait_closed()


async def test_bad_msg_key_gets_reason_9_and_is_dropped(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    await api.token("bob", "tb")
    alice = await connected(devserver.ws_url, "alice", "ta")
    bob = await connected(devserver.ws_url, "bob", "tb")
    await alice.send("bob", 1, {"type": 1, "content": "forged"}, bad_key=True)
    ack = await alice.expect(Sendack)
    assert ack.reason_code == 9 and ack.message_seq == 0
    # not stored, not delivered: the next good message is seq 1 and is the first thing bob sees
    await alice.send("bob", 1, {"type": 1, "content": "real"})
    assert (await alice.expect(Sendack)).message_seq == 1
    recv = await bob.expect(Recv)
    assert bob.open_recv(recv)["content"] == "real"
    await alice.close()
    await bob.close()


async def test_undecryptable_payload_gets_reason_9(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    alice = await connected(devserver.ws_url, "alice", "ta")
    packet = alice.build_send("bob", 1, b"{}")
    packet.payload = b"not base64 at all!"
    packet.msg_key = alice.session.send_msg_key(
        packet.client_seq, packet.client_msg_no, "bob", 1, packet.payload
    )
    await alice.send_raw(codec.encode(packet, 2))
    assert (await alice.expect(Sendack)).reason_code == 9
    await alice.close()


async def test_several_and_partial_packets_per_message(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    await api.token("bob", "tb")
    bob = await connected(devserver.ws_url, "bob", "tb")
    alice = RawClient(devserver.ws_url, "alice", "ta")
    assert await alice.connect() is not None
    data = b"".join(codec.encode(alice.build_send("bob", 1, {"n": i}), 2) for i in range(3))
    data += codec.encode(Ping(), 2)
    # three SENDs and a PING in one message, then one SEND split over two messages
    await alice.send_raw(data)
    split = codec.encode(alice.build_send("bob", 1, {"n": 3}), 2)
    await alice.send_raw(split[:5])
    await alice.send_raw(split[5:])
    acks = [await alice.expect(Sendack) for _ in range(3)]
    assert [a.client_seq for a in acks] == [1, 2, 3]
    await alice.expect(Pong)
    assert (await alice.expect(Sendack)).client_seq == 4
    seen = [bob.open_recv(await bob.expect(Recv))["n"] for _ in range(4)]
    assert seen == [0, 1, 2, 3]
    # the server wrote one packet per WebSocket message
    assert set(alice.packets_per_message) == {1} and set(bob.packets_per_message) == {1}
    await alice.close()
    await bob.close()


async def test_connect_and_send_in_one_message(devserver_factory: DevServerFactory) -> None:
    """A v3 SEND right behind the CONNECT in the same message is decoded at the connection's version
    (plaintext server: the client needs no keys before CONNACK)."""
    server = await devserver_factory(token_auth=False, encryption=False)
    bob = await connected(server.ws_url, "bob")
    alice = RawClient(server.ws_url, "alice", version=3)
    connect = codec.encode(Connect(3, 1, "d", "alice", "", 0, crypto.generate_keypair().public_b64), 3)
    send = codec.encode(alice.build_send("bob", 1, {"type": 1, "content": "early"}), 3)
    connack = await alice.connect(raw_connect=connect + send + codec.encode(Ping(), 3))
    assert connack is not None and connack.reason_code == 1
    assert (await alice.expect(Sendack)).reason_code == 1
    await alice.expect(Pong)
    assert bob.open_recv(await bob.expect(Recv))["content"] == "early"
    await bob.close()
    await alice.close()


async def test_garbage_closes_only_that_connection(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    await api.token("bob", "tb")
    alice = await connected(devserver.ws_url, "alice", "ta")
    bob = await connected(devserver.ws_url, "bob", "tb")
    # a SEND body far too short for its fields, then an unknown packet type, on two connections
    await alice.send_raw(b"\x32\x03\x00\x00\x00")
    await alice.closed.wait()
    mallory = await connected(devserver.ws_url, "v9___vstr")
    await mallory.send_raw(bytes([0xD0, 0x01, 0x00]))
    await mallory.closed.wait()
    text = await connected(devserver.ws_url, "v8___vstr")
    assert text.ws is not None
    await text.ws.send('{"jsonrpc":"2.0","method":"ping"}')
    await text.closed.wait()
    # the server and bob are fine
    await bob.send_raw(codec.encode(Ping(), 2))
    await bob.expect(Pong)
    again = await connected(devserver.ws_url, "alice", "ta")
    await again.send("bob", 1, {"type": 1, "content": "still here"})
    assert (await again.expect(Sendack)).reason_code == 1
    assert bob.open_recv(await bob.expect(Recv))["content"] == "still here"
    await again.close()
    await bob.close()


async def test_oversized_packet_closes(devserver: DevServer) -> None:
    client = await connected(devserver.ws_url, "v1___vstr")
    await client.send_raw(b"\x32\xff\xff\xff\x7f")  # remaining length ~256 MiB
    await client.closed.wait()


async def test_recv_retry_until_recvack(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    await api.token("bob", "tb")
    alice = await connected(devserver.ws_url, "alice", "ta")
    bob = await connected(devserver.ws_url, "bob", "tb")
    await alice.send("bob", 1, {"type": 1, "content": "ack me"})
    first = await bob.expect(Recv)
    again = await bob.expect(Recv)  # not acked → re-sent (identical bytes)
    assert again.message_id == first.message_id and again.msg_key == first.msg_key
    await bob.ack(again)
    # after the ack nothing more comes: a PING round trip proves the queue is empty afterwards
    hub = devserver.hub
    assert hub is not None
    await eventually(lambda: all(not c.pending for c in hub.conns.values()), what="pending cleared")
    await bob.send_raw(codec.encode(Ping(), 2))
    while True:
        packet = await bob.next_packet_or_close()
        if isinstance(packet, Pong):
            break
        assert isinstance(packet, Recv) and packet.message_id == first.message_id  # one in flight at most
    await alice.close()
    await bob.close()


async def test_recv_retry_gives_up_after_five(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    await api.token("bob", "tb")
    alice = await connected(devserver.ws_url, "alice", "ta")
    bob = await connected(devserver.ws_url, "bob", "tb")
    await alice.send("bob", 1, {"type": 1, "content": "never acked"})
    hub = devserver.hub
    assert hub is not None
    recvs = [await bob.expect(Recv, wait=WAIT)]
    await eventually(
        lambda: all(not c.pending for c in hub.conns.values()), wait=30, what="retries exhausted"
    )
    while not bob.packets.empty():
        recvs.append(bob.packets.get_nowait())  # type: ignore[arg-type]
    assert len(recvs) == 6 and len({r.message_id for r in recvs}) == 1  # 1 + 5 retries
    await alice.close()
    await bob.close()


async def test_no_persist_is_neither_stored_nor_retried(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    await api.token("bob", "tb")
    alice = await connected(devserver.ws_url, "alice", "ta")
    bob = await connected(devserver.ws_url, "bob", "tb")
    await alice.send("bob", 1, {"type": 1, "content": "typing"}, flags=HeaderFlag.NO_PERSIST)
    ack = await alice.expect(Sendack)
    assert ack.reason_code == 1 and ack.message_seq == 0 and ack.message_id > 0
    recv = await bob.expect(Recv)
    assert recv.flags & HeaderFlag.NO_PERSIST
    hub = devserver.hub
    assert hub is not None
    assert all(not c.pending for c in hub.conns.values())
    hist = await api.post(
        "/channel/messagesync", {"login_uid": "bob", "channel_id": "alice", "channel_type": 1}
    )
    assert hist["messages"] == []
    await alice.close()
    await bob.close()


async def test_ping_pong_and_idle_timeout(devserver_factory: DevServerFactory) -> None:
    server = await devserver_factory(token_auth=False, idle_timeout=0.3)
    client = await connected(server.ws_url, "idle")
    await client.send_raw(codec.encode(Ping(), 2))
    await client.expect(Pong)
    await client.closed.wait()  # then silence → closed by the idle timer


async def test_device_quit_kicks_with_disconnect(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    alice = await connected(devserver.ws_url, "alice", "ta")
    assert await api.post("/user/device_quit", {"uid": "alice", "device_flag": 1}) == {"status": 200}
    kick = await alice.expect(Disconnect)
    assert kick.reason_code == 12
    await alice.closed.wait()
    # the token is gone
    assert await RawClient(devserver.ws_url, "alice", "ta").connect() is None


async def test_master_device_kicks_other_device_ids(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta", device_level=1)
    first = await connected(devserver.ws_url, "alice", "ta", device_id="phone-a")
    second = await connected(devserver.ws_url, "alice", "ta", device_id="phone-b")
    kick = await first.expect(Disconnect)
    assert kick.reason_code == 12 and kick.reason == "login in other device"
    await first.closed.wait()
    assert not second.closed.is_set()
    await second.close()


async def test_slave_same_device_id_replaces_silently(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta", device_level=0)
    first = await connected(devserver.ws_url, "alice", "ta", device_id="same")
    other = await connected(devserver.ws_url, "alice", "ta", device_id="other")
    second = await connected(devserver.ws_url, "alice", "ta", device_id="same")
    await first.closed.wait()
    assert first.packets.empty()  # no DISCONNECT for the same device id
    assert not other.closed.is_set() and not second.closed.is_set()
    await other.close()
    await second.close()


async def test_token_with_master_level_kicks(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    alice = await connected(devserver.ws_url, "alice", "ta")
    await api.token("alice", "new", device_level=1)
    assert (await alice.expect(Disconnect)).reason_code == 12
    await alice.closed.wait()


async def test_encryption_off(devserver_factory: DevServerFactory) -> None:
    server = await devserver_factory(encryption=False)
    api = Api(server.api_url, server.config.manager_token)
    await api.token("alice", "ta")
    await api.token("bob", "tb")
    alice = await connected(server.ws_url, "alice", "ta")
    bob = await connected(server.ws_url, "bob", "tb")
    assert alice.connack is not None and alice.connack.server_key == "" and alice.connack.salt == ""
    await alice.send("bob", 1, {"type": 1, "content": "plain"})
    assert (await alice.expect(Sendack)).reason_code == 1
    recv = await bob.expect(Recv)
    assert recv.msg_key == "" and recv.payload == b'{"type": 1, "content": "plain"}'
    await alice.close()
    await bob.close()
    await api.aclose()


async def test_connack_has_no_server_version_for_v2(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    client = RawClient(devserver.ws_url, "alice", "ta", version=2)
    connack = await client.connect()
    assert isinstance(connack, Connack) and connack.server_version is None and connack.flags == 0
    await client.close()
