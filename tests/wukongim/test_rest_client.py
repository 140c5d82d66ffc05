"""RestClient against the devserver (or a real WuKongIM): typed results and typed errors."""

from __future__ import annotations

import json

import pytest
from helpers_im import WAIT, ImServer, im_server, messages, new_client, register, uid

from agentdesk.wukongim.rest import (
    MessageResp,
    RestClient,
    ServerRejected,
    Timeouts,
    Unauthorized,
    Unreachable,
    encode_payload,
    format_last_msg_seqs,
)

__all__ = ["im_server"]

pytestmark = pytest.mark.realserver


async def test_history_conversations_and_seqs(im_server: ImServer) -> None:
    rest = im_server.rest()
    a, b = uid("alice"), uid("bob")
    group = uid("grp")
    await rest.channel_create(group, 2, [a, b])
    sent = [
        await rest.message_send(group, 2, {"type": 1, "content": f"第{i}条"}, from_uid=a) for i in range(5)
    ]
    assert all(s.message_id > 0 and s.client_msg_no for s in sent)
    dm = await rest.message_send(b, 1, {"type": 1, "content": "dm"}, from_uid=a, client_msg_no=f"dm-{a}")
    assert dm.client_msg_no == f"dm-{a}"

    page = await rest.channel_messagesync(b, group, 2, start_message_seq=2, limit=2, pull_mode=1)
    assert [m.message_seq for m in page.messages] == [2, 3] and page.more
    m = page.messages[0]
    assert isinstance(m, MessageResp) and m.message_id == sent[1].message_id
    assert (m.channel_id, m.channel_type, m.from_uid, json.loads(m.payload)) == (
        group,
        2,
        a,
        {"type": 1, "content": "第1条"},
    )
    rest_page = await rest.channel_messagesync(b, group, 2, start_message_seq=4, pull_mode=1)
    assert [m.message_seq for m in rest_page.messages] == [4, 5] and not rest_page.more
    newest = await rest.channel_messagesync(b, group, 2, limit=3)
    assert [m.message_seq for m in newest.messages] == [3, 4, 5]
    assert await rest.channel_max_message_seq(group, 2) == 5

    # person channel history from b's side: channel_id is the peer we asked for (§e quirk)
    (pm,) = (await rest.channel_messagesync(b, a, 1, start_message_seq=1, pull_mode=1)).messages
    assert (pm.channel_id, pm.from_uid, pm.client_msg_no) == (a, a, f"dm-{a}")
    assert await rest.channel_max_message_seq(a, 1, login_uid=b) == 1

    convs = {(c.channel_id, c.channel_type): c for c in await rest.conversation_sync(b, {(group, 2): 3})}
    assert convs[(group, 2)].last_msg_seq == 5 and convs[(a, 1)].last_msg_seq == 1
    assert convs[(group, 2)].recents and convs[(group, 2)].recents[0].message_seq == 5
    await rest.conversations_clear_unread(b, group, 2)


async def test_users_channels_and_admin_calls(im_server: ImServer) -> None:
    rest = im_server.rest()
    assert await rest.health()
    route = await rest.route()
    assert route.ws_addr.startswith("ws")
    a, b = uid("alice"), uid("bob")
    group = uid("grp")
    client, _events = await new_client(im_server, a)
    online = await rest.user_onlinestatus([a, b])
    assert [(o.uid, o.online) for o in online] == [(a, True)]
    await rest.channel_create(group, 2, [a])
    await rest.channel_subscriber_add(group, 2, [b])
    cb, eb = await new_client(im_server, b)
    assert (await client.send(group, 2, {"type": 1, "content": "x"})).ok
    await messages(eb, 1)
    await rest.channel_subscriber_remove(group, 2, [b])
    rejected = await cb.send(group, 2, {"type": 1, "content": "not a member any more"}, within=WAIT)
    assert not rejected.ok and rejected.reason_code != 1
    await rest.user_systemuids_add([uid("sys")])
    await rest.channel_delete(group, 2)
    await rest.user_device_quit(a)


async def test_typed_errors(im_server: ImServer) -> None:
    bad = RestClient(im_server.api_url, manager_token="not-the-token")
    try:
        if im_server.manager_token:
            with pytest.raises(Unauthorized) as unauth:
                await bad.route()
            assert unauth.value.status == 401
    finally:
        await bad.aclose()
    rest = im_server.rest()
    with pytest.raises(ServerRejected) as rejected:
        await rest.channel_create("bad@id", 2, [])
    assert rejected.value.status == 400 and rejected.value.msg
    assert rejected.value.msg in str(rejected.value)
    with pytest.raises(ServerRejected):
        await rest.user_token("", "t")
    dead = RestClient("http://127.0.0.1:9", timeout=Timeouts(connect=2.0))
    try:
        with pytest.raises(Unreachable, match=r"cannot reach http://127\.0\.0\.1:9"):
            await dead.health()
    finally:
        await dead.aclose()


async def test_login_token_is_used_by_the_connection(im_server: ImServer) -> None:
    user = uid("carol")
    token = await register(im_server, user)
    client, _ = await new_client(im_server, user, token=token)
    assert client.state.value == "online"


def test_helpers() -> None:
    assert encode_payload({"content": "你好", "type": 1}) == '{"content":"你好","type":1}'.encode()
    assert encode_payload(b"\x00raw") == b"\x00raw"
    assert format_last_msg_seqs({("peer", 1): 42, ("g", 2): 17}) == "peer:1:42|g:2:17"
    m = MessageResp.from_json(
        {"message_id": 1.8e18, "message_idstr": "1839520219870220288", "channel_type": 1, "payload": "e30="}
    )
    assert m.message_id == 1839520219870220288 and m.payload == b"{}"
