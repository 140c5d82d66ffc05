"""WuKongIMClient against a server over real loopback sockets (the devserver, or a real WuKongIM
when AGENTDESK_TEST_WUKONGIM_API is set)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_im import (
    MANAGER_TOKEN,
    WAIT,
    ImServer,
    im_server,
    messages,
    new_client,
    register,
    uid,
    wait_state,
)

from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import AuthFailed, CaughtUp, ConnState, Kicked, ServerUnreachable
from agentdesk.wukongim.store import MessageStore
from fixtures_devserver import DevServerFactory

__all__ = ["im_server"]

pytestmark = pytest.mark.realserver


def text(m: bytes) -> str:
    return str(json.loads(m)["content"])


async def test_person_messages_both_directions(im_server: ImServer) -> None:
    a, b = uid("alice"), uid("bob")
    ca, ea = await new_client(im_server, a)
    cb, eb = await new_client(im_server, b)
    r1 = await ca.send(b, 1, {"type": 1, "content": "你好 bob"})
    assert r1.ok and r1.message_id > 0 and r1.message_seq > 0
    (got,) = await messages(eb, 1)
    m = got.message
    assert got.live and (m.channel_id, m.channel_type, m.from_uid) == (a, 1, a)
    assert (m.message_id, m.client_msg_no, text(m.payload)) == (r1.message_id, r1.client_msg_no, "你好 bob")
    r2 = await cb.send(a, 1, {"type": 1, "content": "hi alice"})
    assert r2.ok and r2.message_seq == r1.message_seq + 1  # person seqs are shared by the pair
    (back,) = await messages(ea, 1)
    assert (back.message.channel_id, back.message.from_uid, text(back.message.payload)) == (b, b, "hi alice")
    # both stores hold both messages, contiguous, under the peer's uid
    assert [x.client_msg_no for x in ca.db.store.history(b, 1)] == [r1.client_msg_no, r2.client_msg_no]
    assert [x.client_msg_no for x in cb.db.store.history(a, 1)] == [r1.client_msg_no, r2.client_msg_no]
    assert ca.db.store.outbox_all() == []


async def test_group_and_visitors_channels(im_server: ImServer) -> None:
    a, b, c = uid("agent"), uid("agent"), uid("cust")
    visitor = c + "___vstr"
    group = uid("grp")
    rest = im_server.rest()
    await rest.channel_create(group, 2, [a, b])
    ca, ea = await new_client(im_server, a)
    _cb, eb = await new_client(im_server, b)
    r = await ca.send(group, 2, {"type": 1, "content": "team"})
    assert r.ok
    (g,) = await messages(eb, 1)
    assert (g.message.channel_id, g.message.channel_type, g.message.from_uid) == (group, 2, a)

    # a visitor writes to its own visitors channel; subscribed agents receive it and answer
    cv, ev = await new_client(im_server, visitor)
    await rest.channel_subscriber_add(visitor, 10, [a, b])
    rv = await cv.send(visitor, 10, {"type": 1, "content": "help, 我的订单"})
    assert rv.ok
    for events in (ea, eb):
        (m,) = await messages(events, 1)
        assert (m.message.channel_id, m.message.channel_type, m.message.from_uid) == (visitor, 10, visitor)
        assert text(m.message.payload) == "help, 我的订单"
    ra = await ca.send(visitor, 10, {"type": 1, "content": "on it"})
    assert ra.ok
    for events in (ev, eb):
        (m,) = await messages(events, 1)
        assert (m.message.channel_id, m.message.from_uid, text(m.message.payload)) == (visitor, a, "on it")


async def test_catch_up_fills_what_was_missed_while_offline(im_server: ImServer, tmp_path: Path) -> None:
    a, b = uid("alice"), uid("bob")
    group = uid("grp")
    rest = im_server.rest()
    await rest.channel_create(group, 2, [a, b])
    store = tmp_path / "b.sqlite"
    token = await register(im_server, b)
    cb, eb = await new_client(im_server, b, store, token=token)
    sent = [await rest.message_send(group, 2, {"type": 1, "content": f"m{i}"}, from_uid=a) for i in range(3)]
    live = await messages(eb, 3)
    assert [text(x.message.payload) for x in live] == ["m0", "m1", "m2"]
    await cb.close()

    # while b is away: 25 messages in the group, 2 in a person channel
    for i in range(25):
        await rest.message_send(group, 2, {"type": 1, "content": f"away{i}"}, from_uid=a)
    for i in range(2):
        await rest.message_send(b, 1, {"type": 1, "content": f"dm{i}"}, from_uid=a)

    cb2, eb2 = await new_client(im_server, b, store, token=token, connect=False, page_size=10)
    await cb2.connect(within=WAIT)
    got = await messages(eb2, 27)  # MessageReceived events come before CaughtUp
    done = await eb2.wait_for(lambda e: isinstance(e, CaughtUp), within=WAIT)
    assert isinstance(done, CaughtUp) and done.new_messages == 27
    assert all(not g.live for g in got)
    by_channel = {(g.message.channel_id, g.message.channel_type) for g in got}
    assert by_channel == {(group, 2), (a, 1)}
    assert [text(g.message.payload) for g in got if g.message.channel_id == group] == [
        f"away{i}" for i in range(25)
    ]
    store_ = cb2.db.store
    assert store_.gaps(group, 2) == [] and store_.gaps(a, 1) == []
    seqs = [m.message_seq for m in store_.history(group, 2, limit=100)]
    assert seqs == list(range(seqs[0], seqs[0] + 28))
    assert sent[0].message_id in {m.message_id for m in store_.history(group, 2, limit=100)}


async def test_bad_token_is_reported_as_auth_failure(im_server: ImServer) -> None:
    user = uid("eve")
    await register(im_server, user)
    client, events = await new_client(
        im_server, user, token="wrong-token", connect=False, connack_timeout=6.0
    )
    with pytest.raises(AuthFailed, match=r"without CONNACK: bad uid/token\?"):
        await client.connect(within=WAIT)
    assert client.state is ConnState.AUTH_FAILED
    await wait_state(events, ConnState.AUTH_FAILED)


async def test_unreachable_server_is_reported_quickly(tmp_path: Path) -> None:
    config = ClientConfig(uid="x", token="t", ws_url="ws://127.0.0.1:9", api_url=None, backoff_base=0.01)
    client = WuKongIMClient(config, MessageStore.open(":memory:"))
    try:
        with pytest.raises(ServerUnreachable, match=r"cannot connect to ws://127\.0\.0\.1:9"):
            await client.connect(within=WAIT)
    finally:
        await client.close()
    assert client.state is ConnState.OFFLINE


async def test_kicked_by_master_login_does_not_reconnect(im_server: ImServer) -> None:
    user = uid("dup")
    client, events = await new_client(im_server, user)
    # a master-level token for the same device flag kicks existing connections (§g.5)
    await im_server.rest().user_token(user, "new-token", device_flag=1, device_level=1)
    ev = await wait_state(events, ConnState.KICKED)
    assert "kicked" in ev.error
    assert isinstance(client.last_error, Kicked) and client.last_error.reason_code == 12
    with pytest.raises(Kicked):
        await client.wait_online(within=1)


async def test_route_lookup_and_dedupe_across_live_and_catch_up(im_server: ImServer) -> None:
    a, b = uid("alice"), uid("bob")
    ca, _ = await new_client(im_server, a)
    cb, eb = await new_client(im_server, b)
    assert im_server.ws_url is None  # both clients found the WebSocket through /route
    r = await ca.send(b, 1, {"type": 1, "content": "once"})
    (m,) = await messages(eb, 1)
    assert m.message.message_id == r.message_id
    # a reconnect re-runs catch-up over the same range: nothing is delivered twice
    cb.drop_connection("test")
    done = await eb.wait_for(lambda e: isinstance(e, CaughtUp), within=WAIT)
    assert isinstance(done, CaughtUp) and done.new_messages == 0
    assert cb.db.store.count_messages() == 1


@pytest.mark.parametrize("version", [2, 3, 4, 5])
async def test_every_protocol_version_the_server_accepts(im_server: ImServer, version: int) -> None:
    a, b = uid("alice"), uid("bob")
    ca, _ = await new_client(im_server, a, version=version)
    _cb, eb = await new_client(im_server, b, version=version)
    r = await ca.send(b, 1, {"type": 1, "content": f"v{version} 你好"})
    assert r.ok
    (m,) = await messages(eb, 1)
    assert text(m.message.payload) == f"v{version} 你好"


async def test_plaintext_server_and_connack_auth_failure(
    tmp_path: Path, devserver_factory: DevServerFactory
) -> None:
    dev = await devserver_factory(encryption=False, auth_fail_connack=True, data_dir=tmp_path / "plain")
    srv = ImServer(dev.api_url, MANAGER_TOKEN, None, real=False, devserver=dev)
    try:
        a, b = uid("alice"), uid("bob")
        ca, _ = await new_client(srv, a)
        _cb, eb = await new_client(srv, b)
        assert (await ca.send(b, 1, {"type": 1, "content": "in clear"})).ok
        (m,) = await messages(eb, 1)
        assert text(m.message.payload) == "in clear"
        # a v1.x-style server answers a bad token with CONNACK reason 2
        bad, _ = await new_client(srv, a, token="wrong", connect=False)
        with pytest.raises(AuthFailed, match="CONNACK reason 2") as exc:
            await bad.connect(within=WAIT)
        assert exc.value.reason_code == 2
    finally:
        for c in srv.clients:
            await c.close()
        for r in srv.rests:
            await r.aclose()
