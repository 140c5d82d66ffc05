"""Send permissions and recipients per channel type (PROTOCOL.md §d, §d.1, §d.2)."""

from __future__ import annotations

from devserver_rawclient import Api, connected

from agentdesk.devserver.server import DevServer
from agentdesk.wukongim import codec
from agentdesk.wukongim.packets import HeaderFlag, Ping, Pong, Recv, Sendack


async def _users(api: Api, *uids: str) -> None:
    for uid in uids:
        await api.token(uid, f"t-{uid}")


async def test_group_subscribers_only(devserver: DevServer, api: Api) -> None:
    await _users(api, "alice", "bob", "carol")
    await api.post("/channel", {"channel_id": "g1", "channel_type": 2, "subscribers": ["alice", "bob"]})
    alice = await connected(devserver.ws_url, "alice", "t-alice")
    bob = await connected(devserver.ws_url, "bob", "t-bob")
    carol = await connected(devserver.ws_url, "carol", "t-carol")
    await carol.send("g1", 2, {"type": 1, "content": "let me in"})
    assert (await carol.expect(Sendack)).reason_code == 3
    await carol.send("nope", 2, {"type": 1, "content": "?"})  # a group that does not exist: no subscribers
    assert (await carol.expect(Sendack)).reason_code == 3
    await alice.send("g1", 2, {"type": 1, "content": "hi group"})
    ack = await alice.expect(Sendack)
    assert ack.reason_code == 1 and ack.message_seq == 1
    recv = await bob.expect(Recv)
    assert recv.channel_id == "g1" and recv.channel_type == 2 and recv.from_uid == "alice"
    assert bob.open_recv(recv)["content"] == "hi group"
    # carol got nothing: her next packet is the PONG
    await carol.send_raw(codec.encode(Ping(), 2))
    await carol.expect(Pong)
    # removed subscribers may no longer send
    await api.post(
        "/channel/subscriber_remove", {"channel_id": "g1", "channel_type": 2, "subscribers": ["bob"]}
    )
    await bob.send("g1", 2, {"type": 1, "content": "bye"})
    assert (await bob.expect(Sendack)).reason_code == 3
    # system uids may send anywhere
    await api.post("/user/systemuids_add", {"uids": ["carol"]})
    await carol.send("g1", 2, {"type": 1, "content": "announcement"})
    assert (await carol.expect(Sendack)).reason_code == 1
    for c in (alice, bob, carol):
        await c.close()


async def test_group_flags(devserver: DevServer, api: Api) -> None:
    await _users(api, "alice")
    await api.post(
        "/channel", {"channel_id": "g2", "channel_type": 2, "subscribers": ["alice"], "send_ban": 1}
    )
    alice = await connected(devserver.ws_url, "alice", "t-alice")
    await alice.send("g2", 2, {"type": 1, "content": "x"})
    assert (await alice.expect(Sendack)).reason_code == 25
    await api.post("/channel/info", {"channel_id": "g2", "channel_type": 2, "send_ban": 0, "disband": 1})
    await alice.send("g2", 2, {"type": 1, "content": "x"})
    assert (await alice.expect(Sendack)).reason_code == 24
    await api.post("/channel/info", {"channel_id": "g2", "channel_type": 2, "ban": 1})
    await api.post("/user/systemuids_add", {"uids": ["alice"]})
    await alice.send("g2", 2, {"type": 1, "content": "x"})
    assert (await alice.expect(Sendack)).reason_code == 19  # channel flags stop system uids too
    await alice.send("x", 7, {"type": 1, "content": "x"})
    assert (await alice.expect(Sendack)).reason_code == 23
    await alice.close()


async def test_visitors_channel_rules(devserver: DevServer, api: Api) -> None:
    visitor = "cust1___vstr"
    await _users(api, "agent1", "agent2")
    v = await connected(devserver.ws_url, visitor)
    a1 = await connected(devserver.ws_url, "agent1", "t-agent1")
    a2 = await connected(devserver.ws_url, "agent2", "t-agent2")
    other = await connected(devserver.ws_url, "other___vstr")
    # before any agent is assigned the visitor can already write into its own channel
    await v.send(visitor, 10, {"type": 1, "content": "hello, anyone?"})
    assert (await v.expect(Sendack)).message_seq == 1
    # agents who are not subscribers and other visitors may not write
    await a1.send(visitor, 10, {"type": 1, "content": "hi"})
    assert (await a1.expect(Sendack)).reason_code == 3
    await other.send(visitor, 10, {"type": 1, "content": "spoof"})
    assert (await other.expect(Sendack)).reason_code == 3
    await api.post(
        "/channel/subscriber_add", {"channel_id": visitor, "channel_type": 10, "subscribers": ["agent1"]}
    )
    await a1.send(visitor, 10, {"type": 1, "content": "How can I help?"})
    ack = await a1.expect(Sendack)
    assert ack.reason_code == 1 and ack.message_seq == 2
    recv = await v.expect(Recv)
    assert (recv.channel_id, recv.channel_type, recv.from_uid) == (visitor, 10, "agent1")
    assert v.open_recv(recv)["content"] == "How can I help?"
    await v.send(visitor, 10, {"type": 1, "content": "my order"})
    assert (await v.expect(Sendack)).reason_code == 1
    recv = await a1.expect(Recv)
    assert (recv.channel_id, recv.from_uid) == (visitor, visitor)
    # agent2 (not subscribed) received nothing
    await a2.send_raw(codec.encode(Ping(), 2))
    await a2.expect(Pong)
    # a system uid (the bot) may write without being a subscriber
    await api.post("/user/systemuids_add", {"uids": ["agent2"]})
    await a2.send(visitor, 10, {"type": 1, "content": "bot here"})
    assert (await a2.expect(Sendack)).reason_code == 1
    assert v.open_recv(await v.expect(Recv))["content"] == "bot here"
    for c in (v, a1, a2, other):
        await c.close()


async def test_person_channel_ids_and_own_devices(devserver: DevServer, api: Api) -> None:
    await _users(api, "alice", "bob")
    alice1 = await connected(devserver.ws_url, "alice", "t-alice", device_id="a1")
    alice2 = await connected(devserver.ws_url, "alice", "t-alice", device_id="a2")
    bob = await connected(devserver.ws_url, "bob", "t-bob")
    await alice1.send("bob", 1, {"type": 1, "content": "hey"})
    ack = await alice1.expect(Sendack)
    to_bob = await bob.expect(Recv)
    to_alice2 = await alice2.expect(Recv)
    assert to_bob.channel_id == "alice" and to_bob.flags & HeaderFlag.RED_DOT
    assert to_alice2.channel_id == "bob" and not to_alice2.flags & HeaderFlag.RED_DOT
    assert to_bob.message_id == to_alice2.message_id == ack.message_id
    assert alice2.open_recv(to_alice2)["content"] == "hey"  # encrypted per connection
    assert to_bob.payload != to_alice2.payload
    # the pair shares one sequence
    await bob.send("alice", 1, {"type": 1, "content": "yo"})
    assert (await bob.expect(Sendack)).message_seq == 2
    for c in (alice1, alice2, bob):
        await c.close()


async def test_sync_once_goes_to_a_separate_cmd_channel(devserver: DevServer, api: Api) -> None:
    await _users(api, "alice", "bob")
    alice = await connected(devserver.ws_url, "alice", "t-alice")
    bob = await connected(devserver.ws_url, "bob", "t-bob")
    await alice.send("bob", 1, {"type": 99, "cmd": "typing"}, flags=HeaderFlag.SYNC_ONCE | HeaderFlag.RED_DOT)
    assert (await alice.expect(Sendack)).message_seq == 1
    recv = await bob.expect(Recv)
    assert recv.flags & HeaderFlag.SYNC_ONCE and recv.channel_id == "alice"
    await alice.send("bob", 1, {"type": 1, "content": "normal"})
    assert (await alice.expect(Sendack)).message_seq == 1  # the chat channel has its own seq
    conv = await api.post("/conversation/sync", {"uid": "bob", "msg_count": 5})
    assert [len(c["recents"]) for c in conv] == [1]
    await alice.close()
    await bob.close()
