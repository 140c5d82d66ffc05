"""Faults over real loopback sockets: restarts, drops, duplicates, silent peers, lost acks, kill -9."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
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
    ws_address,
)
from helpers_wsfaults import ScriptedConn, ScriptedServer, WsProxy, packet_type

from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import (
    AuthFailed,
    ConnState,
    Kicked,
    MessageDropped,
    SendAcked,
    StateChanged,
)
from agentdesk.wukongim.packets import Disconnect, Event, PacketType, Recvack, Send, Sendack
from agentdesk.wukongim.store import MessageStore
from fixtures_devserver import DevServerFactory

__all__ = ["im_server"]

pytestmark = pytest.mark.realserver

HERE = Path(__file__).parent


def text(payload: bytes) -> str:
    return str(json.loads(payload)["content"])


async def history_cmns(srv: ImServer, login_uid: str, channel: str, ctype: int) -> Counter[str]:
    page = await srv.rest().channel_messagesync(
        login_uid, channel, ctype, start_message_seq=1, pull_mode=1, limit=1000
    )
    return Counter(m.client_msg_no for m in page.messages)


def make_client(url: str, **cfg: object) -> WuKongIMClient:
    config = ClientConfig(uid="alice", token="t", ws_url=url, backoff_base=0.01, backoff_cap=0.05)
    for k, v in cfg.items():
        setattr(config, k, v)
    return WuKongIMClient(config, MessageStore.open(":memory:"))


# -- scripted server: what the devserver cannot produce ---------------------------------------------


async def test_duplicate_and_forged_recvs() -> None:
    done = asyncio.Event()

    async def scenario(c: ScriptedConn) -> None:
        await c.send(Event("ev1", "stream.delta", 0, b"{}"))  # v2.2 servers send EVENTs: skipped
        await c.send(c.recv(1001, 1, "x", b'{"type":1,"content":"one"}'))
        await c.send(c.recv(1001, 1, "x", b'{"type":1,"content":"one"}'))  # a retried RECV
        await c.send(c.recv(1002, 2, "x", b'{"type":1,"content":"one"}'))  # a re-sent SEND stored twice
        await c.send(c.recv(1003, 3, "y", b'{"type":1,"content":"bad"}', msg_key="0" * 32))  # forged
        await c.send(c.recv(1004, 3, "z", b'{"type":1,"content":"two"}'))
        acks = [await c.expect(Recvack) for _ in range(4)]
        assert [a.message_id for a in acks] == [1001, 1001, 1002, 1004]
        assert all(a.flags == 0x02 for a in acks)  # the RECV's flags are echoed
        done.set()

    server = ScriptedServer(scenario)
    await server.start()
    client = make_client(server.url)
    try:
        with client.subscribe() as events:
            await client.connect(within=WAIT)
            got = await events.wait_messages(2, within=WAIT)
            assert [(g.message.message_id, text(g.message.payload)) for g in got] == [
                (1001, "one"),
                (1004, "two"),
            ]
            await asyncio.wait_for(done.wait(), WAIT)
        dropped = [p for p in server.conns[0].received if isinstance(p, Recvack) and p.message_id == 1003]
        assert dropped == []
        assert client.db.store.count_messages() == 2
        assert client.db.store.last_seqs() == {("bob", 1): 3}
    finally:
        await client.close()
        await server.stop()


async def test_forged_recv_is_reported() -> None:
    async def scenario(c: ScriptedConn) -> None:
        await c.send(c.recv(7, 1, "f", b"{}", msg_key="f" * 32))

    server = ScriptedServer(scenario)
    await server.start()
    client = make_client(server.url)
    try:
        with client.subscribe() as events:
            await client.connect(within=WAIT)
            ev = await events.wait_for(lambda e: isinstance(e, MessageDropped), within=WAIT)
            assert isinstance(ev, MessageDropped) and ev.message_id == 7 and "msg_key" in ev.reason
    finally:
        await client.close()
        await server.stop()


async def test_missed_pongs_cause_a_reconnect() -> None:
    async def scenario(c: ScriptedConn) -> None:
        c.answer_pings = len(server.conns) > 1

    server = ScriptedServer(scenario)
    await server.start()
    client = make_client(server.url, ping_interval=0.05, max_missed_pongs=2)
    try:
        with client.subscribe() as events:
            await client.connect(within=WAIT)
            ev = await events.wait_for(
                lambda e: isinstance(e, StateChanged) and e.state is ConnState.RECONNECTING, within=WAIT
            )
            assert isinstance(ev, StateChanged) and "no PONG" in ev.error
            await wait_state(events, ConnState.ONLINE)
        await server.wait_connects(2)
    finally:
        await client.close()
        await server.stop()


async def test_sendack_that_never_comes_is_resent_with_the_same_client_msg_no() -> None:
    async def scenario(c: ScriptedConn) -> None:
        send = await c.expect(Send)
        if len(server.conns) > 1:  # the first connection never answers
            await c.send(Sendack(555, send.client_seq, 9, 1))

    server = ScriptedServer(scenario)
    await server.start()
    client = make_client(server.url, ack_timeout=0.3)
    try:
        await client.connect(within=WAIT)
        result = await client.send("bob", 1, {"type": 1, "content": "hi"}, within=WAIT)
        assert result.ok and result.message_id == 555
        first = [p for p in server.conns[0].received if isinstance(p, Send)]
        second = [p for p in server.conns[1].received if isinstance(p, Send)]
        assert [p.client_msg_no for p in first] == [p.client_msg_no for p in second] == [result.client_msg_no]
        assert client.db.store.outbox_all() == []
    finally:
        await client.close()
        await server.stop()


async def test_silent_close_after_connect_is_an_auth_failure() -> None:
    async def scenario(c: ScriptedConn) -> None:
        return None

    server = ScriptedServer(scenario, connack=False)
    await server.start()
    client = make_client(server.url)
    try:
        with pytest.raises(AuthFailed, match="closed the connection without CONNACK: bad uid/token"):
            await client.connect(within=WAIT)
        assert client.state is ConnState.AUTH_FAILED
    finally:
        await client.close()
        await server.stop()


async def test_disconnect_kick_stops_reconnecting() -> None:
    async def scenario(c: ScriptedConn) -> None:
        await c.send(Disconnect(12, "login in other device"))

    server = ScriptedServer(scenario)
    await server.start()
    client = make_client(server.url)
    try:
        with client.subscribe() as events:
            await client.start()
            ev = await wait_state(events, ConnState.KICKED)
            assert "login in other device" in ev.error
        assert isinstance(client.last_error, Kicked) and client.last_error.reason_code == 12
        assert client._task is not None
        await asyncio.wait_for(client._task, WAIT)  # the loop ended: no reconnect
        assert len(server.conns) == 1
    finally:
        await client.close()
        await server.stop()


# -- the devserver with a proxy / restarts ----------------------------------------------------------


async def test_lost_sendack_is_resolved_from_history(im_server: ImServer) -> None:
    a, b = uid("alice"), uid("bob")
    proxy = WsProxy(await ws_address(im_server))
    await proxy.start()
    # only the first SENDACK is lost (the one of the first SEND)
    proxy.drop_s2c = lambda data: packet_type(data) == PacketType.SENDACK and not proxy.dropped
    try:
        _cb, eb = await new_client(im_server, b)
        ca, _ea = await new_client(im_server, a, ws_url=proxy.url, ack_timeout=0.5)
        sending = asyncio.create_task(ca.send(b, 1, {"type": 1, "content": "exactly once"}, within=WAIT))
        got = await messages(eb, 1)
        result = await sending
        assert result.ok and result.via == "history" and result.message_id == got[0].message.message_id
        assert await history_cmns(im_server, a, b, 1) == Counter({result.client_msg_no: 1})
        assert len(proxy.dropped) == 1
    finally:
        await proxy.stop()


async def test_send_lost_on_the_way_is_resent_after_the_history_check(im_server: ImServer) -> None:
    a, b = uid("alice"), uid("bob")
    proxy = WsProxy(await ws_address(im_server))
    await proxy.start()
    sends: list[bytes] = []

    def lose_first_send(data: bytes) -> bool:
        if packet_type(data) != PacketType.SEND:
            return False
        sends.append(data)
        return len(sends) == 1

    proxy.drop_c2s = lose_first_send
    try:
        _cb, eb = await new_client(im_server, b)
        ca, _ea = await new_client(im_server, a, ws_url=proxy.url, ack_timeout=0.5)
        result = await ca.send(b, 1, {"type": 1, "content": "lost once"}, within=WAIT)
        assert result.ok and result.via == "sendack"
        (got,) = await messages(eb, 1)
        assert got.message.client_msg_no == result.client_msg_no
        # the same client_msg_no went out twice; the server stored it once
        assert len(sends) == 2 and all(result.client_msg_no.encode() in s for s in sends)
        assert await history_cmns(im_server, a, b, 1) == Counter({result.client_msg_no: 1})
    finally:
        await proxy.stop()


async def test_a_recv_lost_while_online_is_pulled_from_history(im_server: ImServer) -> None:
    a, b = uid("alice"), uid("bob")
    lost = f"lost-{a}"
    proxy = WsProxy(await ws_address(im_server))
    await proxy.start()
    # every delivery of one message (retries included) vanishes on the way to b
    proxy.drop_s2c = lambda data: packet_type(data) == PacketType.RECV and lost.encode() in data
    rest = im_server.rest()
    try:
        cb, eb = await new_client(im_server, b, ws_url=proxy.url, gap_fill_delay=0.1)
        await rest.message_send(b, 1, {"type": 1, "content": "never pushed"}, from_uid=a, client_msg_no=lost)
        await rest.message_send(b, 1, {"type": 1, "content": "pushed"}, from_uid=a)
        first, second = await messages(eb, 2)
        assert (text(first.message.payload), first.live) == ("pushed", True)
        assert (second.message.client_msg_no, second.live) == (lost, False)
        assert cb.db.store.gaps(a, 1) == [] and cb.db.store.last_seqs()[(a, 1)] == 2
        assert proxy.dropped
    finally:
        await proxy.stop()


async def test_socket_drop_mid_conversation(im_server: ImServer) -> None:
    a, b = uid("alice"), uid("bob")
    proxy = WsProxy(await ws_address(im_server))
    await proxy.start()
    rest = im_server.rest()
    try:
        cb, eb = await new_client(im_server, b, ws_url=proxy.url)
        await rest.message_send(b, 1, {"type": 1, "content": "before"}, from_uid=a)
        await messages(eb, 1)
        proxy.stall.clear()  # traffic to b is held, then the socket dies
        await rest.message_send(b, 1, {"type": 1, "content": "during"}, from_uid=a)
        assert proxy.drop_all() == 1
        proxy.stall.set()
        await rest.message_send(b, 1, {"type": 1, "content": "after"}, from_uid=a)
        got = await messages(eb, 2)
        assert sorted(text(g.message.payload) for g in got) == ["after", "during"]
        assert cb.db.store.gaps(a, 1) == []
        assert cb.db.store.count_messages() == 3
    finally:
        await proxy.stop()


async def test_server_restart_mid_conversation(tmp_path: Path, devserver_factory: DevServerFactory) -> None:
    data = tmp_path / "server"
    dev = await devserver_factory(data_dir=data)
    api_port = int(dev.api_url.rsplit(":", 1)[1])
    ws_port = int(dev.ws_url.rsplit(":", 1)[1])
    srv = ImServer(dev.api_url, MANAGER_TOKEN, None, real=False, devserver=dev, data_dir=data)
    try:
        a, b = uid("alice"), uid("bob")
        ca, ea = await new_client(srv, a, backoff_base=0.05, backoff_cap=0.2)
        cb, eb = await new_client(srv, b, backoff_base=0.05, backoff_cap=0.2)
        assert (await ca.send(b, 1, {"type": 1, "content": "q1"})).ok
        await messages(eb, 1)

        await dev.stop()
        await wait_state(ea, ConnState.RECONNECTING)
        # replies approved while the server is down wait in the outbox
        queued = [await ca.enqueue(b, 1, {"type": 1, "content": f"r{i}"}) for i in range(3)]
        dev2 = await devserver_factory(data_dir=data, api_port=api_port, ws_port=ws_port)
        srv.devserver = dev2
        got = await messages(eb, 3)
        assert [text(g.message.payload) for g in got] == ["r0", "r1", "r2"]
        assert {g.message.client_msg_no for g in got} == {q.client_msg_no for q in queued}
        for q in queued:
            assert (await ca.wait_acked(q.client_msg_no, within=WAIT)).ok
        hist = await history_cmns(srv, a, b, 1)
        assert all(hist[q.client_msg_no] == 1 for q in queued) and len(hist) == 4
        assert cb.db.store.gaps(a, 1) == [] and cb.db.store.count_messages() == 4
    finally:
        for c in srv.clients:
            await c.close()
        for r in srv.rests:
            await r.aclose()


async def _read_until(proc: asyncio.subprocess.Process, event: str, seen: list[dict[str, str]]) -> None:
    assert proc.stdout is not None
    async with asyncio.timeout(WAIT):
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise AssertionError(f"helper exited before {event!r}: {seen}")
            obj = json.loads(line)
            seen.append(obj)
            if obj["event"] == event:
                return


async def test_client_killed_with_replies_in_the_outbox(im_server: ImServer, tmp_path: Path) -> None:
    a, b = uid("agent"), uid("cust")
    token_a = await register(im_server, a)
    _cb, eb = await new_client(im_server, b)
    proxy = WsProxy(await ws_address(im_server))
    await proxy.start()
    proxy.drop_s2c = lambda data: packet_type(data) == PacketType.SENDACK
    db = tmp_path / "agent.sqlite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    base = [sys.executable, str(HERE / "helpers_outbox_proc.py"), "--api", im_server.api_url, "--uid", a]
    base += ["--token", token_a, "--manager-token", im_server.manager_token or "", "--db", str(db)]
    try:
        # 1) three replies reach the server, their SENDACKs are lost, then the process is killed
        proc = await asyncio.create_subprocess_exec(
            *base,
            "--ws",
            proxy.url,
            *[f"--send={b}:reply{i}" for i in range(3)],
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        seen: list[dict[str, str]] = []
        await _read_until(proc, "online", seen)
        first = await messages(eb, 3)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert proc.stdout is not None
        after = [json.loads(line) for line in (await proc.stdout.read()).splitlines()]
        assert not any(o["event"] == "acked" for o in after)  # it died without a single SENDACK
        # 2) while it is down, two more replies are approved (written to the same outbox file)
        store = MessageStore.open(db)
        later = [
            store.outbox_add(b, 1, json.dumps({"type": 1, "content": f"later{i}"}).encode(), f"later-{a}-{i}")
            for i in range(2)
        ]
        assert len(store.outbox_unacked()) == 5
        store.close()
        # 3) restart: the three are found in history (not re-sent), the two are sent
        proc = await asyncio.create_subprocess_exec(
            *base, "--ws", await ws_address(im_server), stdout=asyncio.subprocess.PIPE, env=env
        )
        seen2: list[dict[str, str]] = []
        await _read_until(proc, "drained", seen2)
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0
        second = await messages(eb, 2)
        acked = {o["client_msg_no"]: o["via"] for o in seen2 if o["event"] == "acked"}
        queued = [o["client_msg_no"] for o in seen if o["event"] == "queued"]
        assert acked == {**dict.fromkeys(queued, "history"), **{e.client_msg_no: "sendack" for e in later}}
        received = Counter(g.message.client_msg_no for g in first + second)
        assert received == Counter({c: 1 for c in [*queued, *(e.client_msg_no for e in later)]})
        assert await history_cmns(im_server, b, a, 1) == received
    finally:
        await proxy.stop()


async def test_outbox_survives_in_process_restart(im_server: ImServer, tmp_path: Path) -> None:
    a, b = uid("agent"), uid("cust")
    token = await register(im_server, a)
    _cb, eb = await new_client(im_server, b)
    db = tmp_path / "a.sqlite"
    ca, _ea = await new_client(im_server, a, db, token=token, connect=False)
    entry = await ca.enqueue(b, 1, {"type": 1, "content": "queued offline"})
    await ca.close()
    ca2, ea2 = await new_client(im_server, a, db, token=token, connect=False)
    await ca2.connect(within=WAIT)
    ev = await ea2.wait_for(lambda e: isinstance(e, SendAcked), within=WAIT)
    assert isinstance(ev, SendAcked) and ev.result.client_msg_no == entry.client_msg_no
    (got,) = await messages(eb, 1)
    assert got.message.client_msg_no == entry.client_msg_no
    assert ca2.db.store.outbox_all() == []
