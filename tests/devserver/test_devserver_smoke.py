from __future__ import annotations

from devserver_rawclient import Api, connected

from agentdesk.devserver.server import DevServer
from agentdesk.wukongim.packets import Recv, Sendack


async def test_person_message_round_trip(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    await api.token("bob", "tb")
    alice = await connected(devserver.ws_url, "alice", "ta")
    bob = await connected(devserver.ws_url, "bob", "tb")
    sent = await alice.send("bob", 1, {"type": 1, "content": "hi bob"})
    ack = await alice.expect(Sendack)
    assert ack.client_seq == sent.client_seq and ack.reason_code == 1 and ack.message_seq == 1
    recv = await bob.expect(Recv)
    assert bob.open_recv(recv) == {"type": 1, "content": "hi bob"}
    assert recv.channel_id == "alice" and recv.from_uid == "alice" and recv.message_id == ack.message_id
    await bob.ack(recv)
    hist = await api.post(
        "/channel/messagesync",
        {"login_uid": "bob", "channel_id": "alice", "channel_type": 1, "limit": 10},
    )
    assert [m["message_seq"] for m in hist["messages"]] == [1]
    await alice.close()
    await bob.close()
