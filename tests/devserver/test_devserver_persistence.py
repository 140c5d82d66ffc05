"""A restart on the same data dir keeps users, tokens, channels, subscribers, messages and seqs."""

from __future__ import annotations

from pathlib import Path

from devserver_rawclient import Api, RawClient, connected

from agentdesk.wukongim.packets import Recv, Sendack
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN, DevServerFactory


async def test_restart_keeps_everything(devserver_factory: DevServerFactory, tmp_path: Path) -> None:
    data = tmp_path / "wk"
    server = await devserver_factory(data_dir=data)
    api = Api(server.api_url, DEVSERVER_MANAGER_TOKEN)
    await api.token("alice", "ta")
    await api.token("bob", "tb")
    await api.post("/channel", {"channel_id": "g", "channel_type": 2, "subscribers": ["alice", "bob"]})
    await api.post("/user/systemuids_add", {"uids": ["bot"]})
    alice = await connected(server.ws_url, "alice", "ta")
    last_id = 0
    for i in range(3):
        await alice.send("g", 2, {"type": 1, "content": f"g{i}"})
        ack = await alice.expect(Sendack)
        assert ack.message_seq == i + 1
        last_id = ack.message_id
    await alice.send("bob", 1, {"type": 1, "content": "p"})
    await alice.expect(Sendack)
    await api.post("/conversations/clearUnread", {"uid": "bob", "channel_id": "g", "channel_type": 2})
    await alice.close()
    await api.aclose()
    await server.stop()

    server = await devserver_factory(data_dir=data)
    api = Api(server.api_url, DEVSERVER_MANAGER_TOKEN)
    assert await RawClient(server.ws_url, "alice", "wrong").connect() is None
    alice = await connected(server.ws_url, "alice", "ta")  # token kept
    bob = await connected(server.ws_url, "bob", "tb")
    await alice.send("g", 2, {"type": 1, "content": "after restart"})  # subscribers kept
    ack = await alice.expect(Sendack)
    assert ack.reason_code == 1 and ack.message_seq == 4 and ack.message_id > last_id
    assert bob.open_recv(await bob.expect(Recv))["content"] == "after restart"
    hist = await api.post("/channel/messagesync", {"login_uid": "bob", "channel_id": "g", "channel_type": 2})
    assert [m["message_seq"] for m in hist["messages"]] == [1, 2, 3, 4]
    assert await api.get("/channel/max_message_seq", channel_id="alice", channel_type=1, login_uid="bob") == {
        "message_seq": 1
    }
    assert await api.get("/user/systemuids") == ["bot"]
    conv = await api.post("/conversation/sync", {"uid": "bob", "msg_count": 1})
    by_id = {c["channel_id"]: c for c in conv}
    assert by_id["g"]["unread"] == 1 and by_id["g"]["readed_to_msg_seq"] == 3  # read position kept
    assert by_id["alice"]["unread"] == 1
    await alice.close()
    await bob.close()
    await api.aclose()


async def test_message_ids_never_repeat_even_if_clock_goes_back(
    devserver_factory: DevServerFactory, tmp_path: Path
) -> None:
    data = tmp_path / "wk"
    server = await devserver_factory(data_dir=data, token_auth=False)
    # pretend an id far in the future was handed out (e.g. a clock that was ahead)
    future = server.storage.ids.next() + (10**6 << 22)
    server.storage.ids.last = future
    client = await connected(server.ws_url, "alice")
    await client.send("alice", 1, {"type": 1, "content": "x"}, flags=0x01)  # no_persist: id only
    assert (await client.expect(Sendack)).message_id == future + 1
    await client.close()
    await server.stop()
    server = await devserver_factory(data_dir=data, token_auth=False)
    assert server.storage.ids.next() == future + 2
