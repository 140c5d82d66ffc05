"""Fault (b): a stalling, then dropping TCP path between a staff client and the devserver while customers
keep writing and the desk bot keeps answering. The staff client (the supervisor `sam`, subscribed to the
customers' channels) has replies in its durable outbox during the fault.

After the path heals: the client caught up by itself, holds every customer message exactly once with no
seq gap, and each of its replies is stored on the server exactly once (a SEND whose SENDACK was lost is
found in history, not re-sent; a SEND that never arrived is re-sent with the same client_msg_no)."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from faultkit import (
    BOT,
    FAQ_QUESTIONS,
    MANAGER,
    ROSTER_WATCH,
    WAIT,
    TcpProxy,
    dupes,
    history,
    start_desk,
    visitor,
    wait_for,
)

from agentdesk.desk.rules import Roster
from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import CaughtUp, ClientEvent, ConnState, StateChanged
from agentdesk.wukongim.store import MessageStore

CUSTOMERS = 3


async def test_stalling_and_dropping_path_to_a_staff_client(devserver_factory: Any, tmp_path: Path) -> None:
    desk = await start_desk(devserver_factory, tmp_path, roster=Roster.parse(ROSTER_WATCH))
    ws = urlsplit(desk.server.ws_url)
    proxy = TcpProxy(ws.hostname or "127.0.0.1", ws.port or 0)
    await proxy.start()
    store = MessageStore.open(tmp_path / "sam.sqlite3")
    states: list[StateChanged] = []
    caught: list[CaughtUp] = []

    def on_event(ev: ClientEvent) -> None:
        if isinstance(ev, StateChanged):
            states.append(ev)
        elif isinstance(ev, CaughtUp):
            caught.append(ev)

    token = secrets.token_hex(8)
    await desk.rest.user_token("sam", token)
    sam = WuKongIMClient(
        ClientConfig(
            uid="sam",
            token=token,
            api_url=desk.server.api_url,
            ws_url=proxy.ws_url,
            manager_token=MANAGER,
            ping_interval=0.5,
            max_missed_pongs=2,
            connack_timeout=1.5,
            ack_timeout=2.0,
            backoff_base=0.05,
            backoff_cap=0.5,
        ),
        store,
        on_event=on_event,
    )
    uids = [visitor("p") for _ in range(CUSTOMERS)]
    sent: dict[str, list[str]] = {u: [] for u in uids}
    replies: list[str] = []

    async def customers_write(round_: int) -> None:
        for u in uids:
            text = f"{FAQ_QUESTIONS[round_ % len(FAQ_QUESTIONS)]} (#{round_})"
            r = await desk.rest.message_send(u, 10, {"type": 1, "content": text}, from_uid=u)
            sent[u].append(r.client_msg_no)

    async def sam_replies(round_: int) -> None:
        for u in uids:
            entry = await sam.enqueue(u, 10, {"type": 1, "content": f"sam here, round {round_}"})
            replies.append(entry.client_msg_no)

    try:
        for u in uids:  # sam is subscribed to every customer channel (as after a claim)
            await desk.rest.channel_subscriber_add(u, 10, ["sam"])
        await sam.connect(within=WAIT)
        await sam.wait_caught_up(within=WAIT)
        await customers_write(0)

        def stored(n: int) -> bool:
            return all(Counter(m.from_uid for m in store.history(u, 10, limit=500))[u] >= n for u in uids)

        await wait_for(lambda: _true(stored(1)), what="the first messages to reach sam")

        # 1. server → client held: SENDs arrive, their SENDACKs and all RECVs/PONGs do not
        await proxy.set_mode("stall_s2c")
        await sam_replies(1)
        await customers_write(1)
        await asyncio.sleep(2.0)  # long enough for missed PONGs / ack timeouts to drop the socket
        # 2. nothing moves at all (new connections hang before CONNACK)
        await proxy.set_mode("stall")
        await sam_replies(2)
        await customers_write(2)
        await asyncio.sleep(1.5)
        # 3. the path is dead: every connection aborted, new ones cut
        await proxy.set_mode("drop")
        await sam_replies(3)
        await customers_write(3)
        await asyncio.sleep(1.0)
        assert sam.state is not ConnState.ONLINE or not stored(4)  # the fault was real
        # 4. healed
        await proxy.set_mode("pass")

        async def caught_up() -> bool:
            return stored(4) and not store.outbox_all() and sam.state is ConnState.ONLINE

        await wait_for(caught_up, what="sam to catch up and flush its outbox after the heal")
        await desk.settled()

        assert any(s.state is ConnState.RECONNECTING for s in states)  # it noticed and recovered alone
        for u in uids:
            rows = store.history(u, 10, limit=500)
            cmns = Counter(m.client_msg_no for m in rows if m.from_uid == u)
            assert cmns == Counter(sent[u]), f"{u}: customer messages at sam {cmns}"
            assert store.gaps(u, 10) == [], f"{u}: a seq gap is left"
            server_msgs = await history(desk.rest, BOT, u, 10)
            assert dupes(Counter(m.message_id for m in rows)) == {}
            # everything the server has for this channel is at sam (the bot's answers too), once
            assert {m.client_msg_no for m in server_msgs} == {m.client_msg_no for m in rows}
            assert max(m.message_seq for m in rows) == max(m.message_seq for m in server_msgs)
        on_server: Counter[str] = Counter()
        for u in uids:
            on_server.update(
                m.client_msg_no for m in await history(desk.rest, BOT, u, 10) if m.from_uid == "sam"
            )
        assert on_server == Counter(replies), f"sam's replies on the server: {on_server}"
        # the round-1 replies reached the server while their SENDACKs were held: found, not re-sent
        assert sum(c.found_in_history for c in caught) >= CUSTOMERS, caught
    finally:
        await sam.close()
        store.close()
        await proxy.stop()
        await desk.close()


def _true(value: bool) -> Any:
    async def check() -> bool:
        return value

    return check()
