"""The REST subset (PROTOCOL.md §e) over a real loopback HTTP connection."""

from __future__ import annotations

import base64
import json

import httpx
from devserver_rawclient import Api, connected

from agentdesk.devserver.server import DevServer
from agentdesk.wukongim.packets import HeaderFlag, Recv, Sendack


def b64(obj: object) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


async def _fill(api: Api, channel: str, n: int) -> list[int]:
    ids = []
    for i in range(n):
        out = await api.post(
            "/message/send",
            {
                "header": {"red_dot": 1},
                "from_uid": "bot",
                "channel_id": channel,
                "channel_type": 2,
                "payload": b64({"type": 1, "content": f"m{i + 1}"}),
            },
        )
        ids.append(out["data"]["message_id"])
    return ids


async def test_manager_token_and_errors(devserver: DevServer) -> None:
    async with httpx.AsyncClient(base_url=devserver.api_url) as http:
        resp = await http.post("/user/token", json={"uid": "a", "token": "b"})
        assert resp.status_code == 401 and resp.content == b""
        resp = await http.post("/user/token", json={"uid": "a", "token": "b"}, headers={"token": "wrong"})
        assert resp.status_code == 401
        assert (await http.get("/health")).json() == {"status": "ok"}
        headers = {"token": devserver.config.manager_token or ""}
        resp = await http.get("/nope", headers=headers)
        assert resp.status_code == 404
        resp = await http.post("/user/token", content=b"{not json", headers=headers)
        assert resp.status_code == 400 and resp.json()["status"] == 400 and resp.json()["msg"]
        for body in (
            {"uid": "", "token": "t"},
            {"uid": "a@b", "token": "t"},
            {"uid": "a", "token": ""},
            {"uid": "____system", "token": "t"},
            {"uid": 5, "token": "t"},
            [1, 2],
        ):
            resp = await http.post("/user/token", json=body, headers=headers)
            assert resp.status_code == 400, body
        resp = await http.post(
            "/message/send", json={"channel_id": "g", "channel_type": 2, "payload": "%%%"}, headers=headers
        )
        assert resp.status_code == 400
        # raw garbage on the socket does not hurt the server
        reader_writer = await __import__("asyncio").open_connection(
            "127.0.0.1", int(devserver.api_url.rsplit(":", 1)[1])
        )
        reader, writer = reader_writer
        writer.write(b"\x00\xff garbage\r\n\r\n")
        await writer.drain()
        assert (await reader.read()).startswith(b"HTTP/1.1 400")
        writer.close()
        assert (await http.get("/health")).status_code == 200


async def test_users_route_and_systemuids(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    alice = await connected(devserver.ws_url, "alice", "ta")
    online = await api.post("/user/onlinestatus", ["alice", "bob"])
    assert online == [{"uid": "alice", "device_flag": 1, "online": 1}]
    route = await api.get("/route", intranet=0)
    assert route == {"tcp_addr": "", "ws_addr": devserver.ws_url, "wss_addr": ""}
    batch = await api.post("/route/batch", ["alice", "bob"])
    assert batch == [{"uids": ["alice", "bob"], "tcp_addr": "", "ws_addr": devserver.ws_url, "wss_addr": ""}]
    assert await api.post("/user/systemuids_add", {"uids": ["bot", "bot2"]}) == {"status": 200}
    assert await api.get("/user/systemuids") == ["bot", "bot2"]
    await api.post("/user/systemuids_remove", {"uids": ["bot2"]})
    assert await api.get("/user/systemuids") == ["bot"]
    await alice.close()


async def test_message_send_delivers_and_returns_ids(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    await api.token("bob", "tb")
    await api.post("/channel", {"channel_id": "g1", "channel_type": 2, "subscribers": ["alice", "bob"]})
    alice = await connected(devserver.ws_url, "alice", "ta")
    bob = await connected(devserver.ws_url, "bob", "tb")
    out = await api.post(
        "/message/send",
        {
            "header": {"red_dot": 1},
            "from_uid": "alice",
            "channel_id": "g1",
            "channel_type": 2,
            "client_msg_no": "cmn-1",
            "payload": b64({"type": 1, "content": "from backend"}),
        },
    )
    assert out["status"] == 200 and out["data"]["client_msg_no"] == "cmn-1"
    message_id = out["data"]["message_id"]
    assert isinstance(message_id, int) and message_id > 2**53
    to_bob = await bob.expect(Recv)
    to_alice = await alice.expect(Recv)  # the sender's own device gets it too, red_dot cleared
    assert to_bob.message_id == to_alice.message_id == message_id
    assert to_bob.flags & HeaderFlag.RED_DOT and not to_alice.flags & HeaderFlag.RED_DOT
    assert bob.open_recv(to_bob)["content"] == "from backend"
    # without from_uid: the system uid, seen as ""
    out = await api.post(
        "/message/send", {"channel_id": "bob", "channel_type": 1, "payload": b64({"type": 1})}
    )
    assert len(out["data"]["client_msg_no"]) == 33 and out["data"]["client_msg_no"].endswith("0")
    recv = await bob.expect(Recv)
    assert recv.from_uid == "" and recv.channel_type == 1
    await alice.close()
    await bob.close()


async def test_messagesync_pull_modes(devserver: DevServer, api: Api) -> None:
    await api.post("/channel", {"channel_id": "g", "channel_type": 2, "subscribers": ["me"]})
    ids = await _fill(api, "g", 10)

    async def sync(**kw: int) -> tuple[list[int], int]:
        body = {"login_uid": "me", "channel_id": "g", "channel_type": 2, **kw}
        out = await api.post("/channel/messagesync", body)
        assert out["start_message_seq"] == kw.get("start_message_seq", 0)
        assert out["end_message_seq"] == kw.get("end_message_seq", 0)
        return [m["message_seq"] for m in out["messages"]], out["more"]

    assert await sync(limit=3) == ([8, 9, 10], 1)
    assert await sync(limit=30) == (list(range(1, 11)), 0)
    # up: [start, end), end 0 = unbounded
    assert await sync(start_message_seq=4, limit=3, pull_mode=1) == ([4, 5, 6], 1)
    assert await sync(start_message_seq=8, limit=3, pull_mode=1) == ([8, 9, 10], 1)
    assert await sync(start_message_seq=9, limit=3, pull_mode=1) == ([9, 10], 0)
    assert await sync(start_message_seq=11, limit=3, pull_mode=1) == ([], 0)
    assert await sync(start_message_seq=2, end_message_seq=5, limit=10, pull_mode=1) == ([2, 3, 4], 0)
    assert await sync(start_message_seq=2, end_message_seq=4, limit=2, pull_mode=1) == ([2, 3], 1)
    # down: (end, start], newest first chosen, ascending order
    assert await sync(start_message_seq=6, limit=3, pull_mode=0) == ([4, 5, 6], 1)
    assert await sync(start_message_seq=6, end_message_seq=2, limit=10, pull_mode=0) == ([3, 4, 5, 6], 0)
    assert await sync(start_message_seq=6, end_message_seq=3, limit=3, pull_mode=0) == ([4, 5, 6], 1)
    assert await sync(start_message_seq=2, end_message_seq=5, limit=10, pull_mode=0) == ([], 0)
    out = await api.post(
        "/channel/messagesync", {"login_uid": "me", "channel_id": "g", "channel_type": 2, "limit": 1}
    )
    msg = out["messages"][0]
    assert msg["message_id"] == ids[-1] and msg["message_idstr"] == str(ids[-1])
    assert set(msg) == {
        "header",
        "setting",
        "message_id",
        "message_idstr",
        "client_msg_no",
        "message_seq",
        "from_uid",
        "channel_id",
        "channel_type",
        "expire",
        "timestamp",
        "payload",
    }
    assert msg["header"] == {"no_persist": 0, "red_dot": 1, "sync_once": 0}
    assert json.loads(base64.b64decode(msg["payload"])) == {"type": 1, "content": "m10"}
    # never used, errors, max seq
    out = await api.post(
        "/channel/messagesync",
        {"login_uid": "me", "channel_id": "none", "channel_type": 2, "start_message_seq": 5, "pull_mode": 1},
    )
    assert out == {"start_message_seq": 0, "end_message_seq": 0, "more": 0, "messages": []}
    await api.post("/channel/messagesync", {"channel_id": "g", "channel_type": 2}, status=400)
    assert await api.get("/channel/max_message_seq", channel_id="g", channel_type=2) == {"message_seq": 10}
    assert await api.get("/channel/max_message_seq", channel_id="zz", channel_type=2) == {"message_seq": 0}


async def test_person_history_channel_id_quirk(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    await api.token("bob", "tb")
    alice = await connected(devserver.ws_url, "alice", "ta")
    bob = await connected(devserver.ws_url, "bob", "tb")
    await alice.send("bob", 1, {"type": 1, "content": "1"})
    await alice.expect(Sendack)
    await bob.expect(Recv)
    await bob.send("alice", 1, {"type": 1, "content": "2"})
    await bob.expect(Sendack)
    for login, peer in (("alice", "bob"), ("bob", "alice")):
        out = await api.post(
            "/channel/messagesync", {"login_uid": login, "channel_id": peer, "channel_type": 1}
        )
        # channel_id = the uid of the pair that is not from_uid
        assert [(m["from_uid"], m["channel_id"]) for m in out["messages"]] == [
            ("alice", "bob"),
            ("bob", "alice"),
        ]
        assert await api.get(
            "/channel/max_message_seq", channel_id=peer, channel_type=1, login_uid=login
        ) == {"message_seq": 2}
    await api.get("/channel/max_message_seq", channel_id="bob", channel_type=1, status=400)
    await alice.close()
    await bob.close()


async def test_conversation_sync_and_unread(devserver: DevServer, api: Api) -> None:
    await api.token("agent", "ta")
    visitor = "v1___vstr"
    await api.post(
        "/channel/subscriber_add", {"channel_id": visitor, "channel_type": 10, "subscribers": ["agent"]}
    )
    v = await connected(devserver.ws_url, visitor)
    for i in range(3):
        await v.send(visitor, 10, {"type": 1, "content": f"q{i}"})
        await v.expect(Sendack)
    await api.post("/channel", {"channel_id": "desk", "channel_type": 2, "subscribers": ["agent", "bot"]})
    await _fill(api, "desk", 2)

    assert await api.post("/conversation/sync", {"uid": "agent", "msg_count": 0}) == []
    conv = await api.post("/conversation/sync", {"uid": "agent", "msg_count": 2})
    assert [(c["channel_id"], c["channel_type"]) for c in conv] == [("desk", 2), (visitor, 10)]
    vis = conv[1]
    assert vis["unread"] == 3 and vis["last_msg_seq"] == 3 and vis["readed_to_msg_seq"] == 0
    assert [m["message_seq"] for m in vis["recents"]] == [3, 2]  # newest first
    assert vis["version"] == vis["timestamp"] * 10**9 and vis["offset_msg_seq"] == 0
    assert vis["last_client_msg_no"] == vis["recents"][0]["client_msg_no"]
    # the client knows the visitor channel up to 3: not returned; up to 1: recents after 1
    conv = await api.post(
        "/conversation/sync",
        {"uid": "agent", "msg_count": 10, "last_msg_seqs": f"{visitor}:10:3|desk:2:x|bad"},
    )
    assert [c["channel_id"] for c in conv] == ["desk"]
    conv = await api.post(
        "/conversation/sync", {"uid": "agent", "msg_count": 10, "last_msg_seqs": f"{visitor}:10:1"}
    )
    assert [m["message_seq"] for m in conv[1]["recents"]] == [3, 2]
    # read positions
    assert await api.post(
        "/conversations/setUnread", {"uid": "agent", "channel_id": visitor, "channel_type": 10, "unread": 1}
    ) == {"status": 200}
    conv = await api.post("/conversation/sync", {"uid": "agent", "msg_count": 1})
    assert conv[1]["unread"] == 1 and conv[1]["readed_to_msg_seq"] == 2
    await api.post(
        "/conversations/clearUnread",
        {"uid": "agent", "channel_id": visitor, "channel_type": 10, "message_seq": 0},
    )
    conv = await api.post("/conversation/sync", {"uid": "agent", "msg_count": 1})
    assert conv[1]["unread"] == 0
    assert await api.post("/conversation/sync", {"uid": "agent", "msg_count": 1, "only_unread": 1}) == [
        conv[0]
    ]
    conv = await api.post(
        "/conversation/sync", {"uid": "agent", "msg_count": 1, "exclude_channel_types": [2]}
    )
    assert [c["channel_id"] for c in conv] == [visitor]
    await api.post("/conversations/delete", {"uid": "agent", "channel_id": visitor, "channel_type": 10})
    conv = await api.post("/conversation/sync", {"uid": "agent", "msg_count": 1})
    assert [c["channel_id"] for c in conv] == ["desk"]
    # the visitor sees its own channel; its own message is last → unread 0
    conv = await api.post("/conversation/sync", {"uid": visitor, "msg_count": 1})
    assert [(c["channel_id"], c["unread"]) for c in conv] == [(visitor, 0)]
    await v.close()


async def test_person_conversations(devserver: DevServer, api: Api) -> None:
    await api.token("alice", "ta")
    alice = await connected(devserver.ws_url, "alice", "ta")
    await alice.send("bob", 1, {"type": 1, "content": "hi"})
    await alice.expect(Sendack)
    await api.post("/message/send", {"channel_id": "bob", "channel_type": 1, "payload": b64({"type": 1})})
    conv = await api.post("/conversation/sync", {"uid": "bob", "msg_count": 1})
    # the system uid's person channel is never listed
    assert [(c["channel_id"], c["channel_type"], c["unread"]) for c in conv] == [("alice", 1, 1)]
    assert conv[0]["recents"][0]["channel_id"] == "bob"  # the quirk: peer's message → your own uid
    conv = await api.post("/conversation/sync", {"uid": "alice", "msg_count": 1})
    assert [(c["channel_id"], c["unread"]) for c in conv] == [("bob", 0)]
    await alice.close()


async def test_channel_endpoints(devserver: DevServer, api: Api) -> None:
    await api.post("/channel", {"channel_id": "g", "channel_type": 2, "subscribers": ["a", "b"]})
    await api.post("/channel/subscriber_add", {"channel_id": "g", "channel_type": 2, "subscribers": ["c"]})
    assert devserver.storage.channels[("g", 2)].subscribers == {"a", "b", "c"}
    await api.post(
        "/channel/subscriber_add", {"channel_id": "g", "channel_type": 2, "subscribers": ["d"], "reset": 1}
    )
    assert devserver.storage.channels[("g", 2)].subscribers == {"d"}
    await api.post("/channel/subscriber_remove", {"channel_id": "g", "channel_type": 2, "subscribers": ["d"]})
    assert devserver.storage.channels[("g", 2)].subscribers == set()
    await api.post("/channel", {"channel_id": "p", "channel_type": 1, "subscribers": ["a"]}, status=400)
    await api.post("/channel", {"channel_id": "a#b", "channel_type": 2}, status=400)
    await api.post(
        "/channel/subscriber_add", {"channel_id": "x", "channel_type": 1, "subscribers": ["a"]}, status=400
    )
    await api.post("/channel/delete", {"channel_id": "g", "channel_type": 2})
    assert ("g", 2) not in devserver.storage.channels
