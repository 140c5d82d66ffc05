"""Fault (a): the devserver is SIGKILLed and restarted mid-conversation, with the desk bot (a process),
simulated customers (`agentdesk.sim`, the real binary protocol) and a staff client (the supervisor `sam`,
who watches every AI conversation) attached.

Asserted afterwards: every customer message reached the desk exactly once (the bot answered each one
once; the staff client stored each once), every autopilot reply reached its customer exactly once, each
conversation was opened once on the desk, and everything recovered without help (customers finished,
the staff client is online and caught up, the bot is idle and healthy)."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from pathlib import Path

from faultkit import (
    BOT,
    DESK,
    FAQ_QUESTIONS,
    MANAGER,
    WAIT,
    BotProc,
    DevServerProc,
    TcpProxy,
    dupes,
    free_port,
    history,
    visitor,
    wait_for,
)

from agentdesk.bot.router import client_msg_no
from agentdesk.desk import protocol as p
from agentdesk.sim.customer import CustomerResult, Pace, SimCustomer
from agentdesk.sim.desk_watch import DeskWatch, stop_task
from agentdesk.sim.script import Script
from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import ConnState
from agentdesk.wukongim.rest import MessageResp, RestClient
from agentdesk.wukongim.store import MessageStore

CUSTOMERS = 4
PURPOSES = ("reply", "handover", "urgent_handover")
TURNS = 3
#: bounded waits of the simulated customers (generous: they ride out the outage)
PACE = Pace(reply_timeout=15, send_timeout=WAIT, connect_timeout=WAIT)


async def test_devserver_sigkill_and_restart_mid_conversation(tmp_path: Path) -> None:
    bot_port = free_port()
    server = DevServerProc(tmp_path / "wk", webhook_url=f"http://127.0.0.1:{bot_port}/webhook")
    await server.start()
    bot = BotProc(server.api_url, tmp_path, port=bot_port)
    rest = RestClient(server.api_url, manager_token=MANAGER)
    staff: WuKongIMClient | None = None
    store = MessageStore.open(tmp_path / "sam.sqlite3")
    tasks: list[asyncio.Task[CustomerResult]] = []
    watch_task: asyncio.Task[None] | None = None
    try:
        await bot.start()
        await wait_for(bot.idle, what="the bot to set up the desk")
        token = secrets.token_hex(8)
        await rest.user_token("sam", token)
        staff = WuKongIMClient(
            ClientConfig(
                uid="sam",
                token=token,
                api_url=server.api_url,
                ws_url=server.ws_url,
                manager_token=MANAGER,
                backoff_base=0.05,
                backoff_cap=0.5,
            ),
            store,
        )
        await staff.connect(within=WAIT)

        # what the customers' "people have it now" probe reads, as the demo does (tolerates the outage)
        watch = DeskWatch(rest, desk_channel=DESK, bot_uid=BOT, login_uid=BOT)
        watch_task = asyncio.create_task(watch.run(0.1))
        uids = [visitor() for _ in range(CUSTOMERS)]
        customers = [
            SimCustomer(
                Script(id=f"c{i}", customer_uid=uid, customer_name="", turns=list(FAQ_QUESTIONS[:TURNS])),
                uid,
                ws_url=server.ws_url,
                api_url=server.api_url,  # catch-up after the reconnect (PROTOCOL.md g.4)
                manager_token=MANAGER,
                pace=PACE,
                handed_over=watch.with_people,
            )
            for i, uid in enumerate(uids)
        ]
        tasks = [asyncio.create_task(c.run()) for c in customers]

        async def got_answers(n: int) -> bool:
            return sum(len(c.result.received) for c in customers) >= n

        await wait_for(lambda: got_answers(2), what="the first autopilot answers")
        server.kill()  # mid-conversation: customers are waiting for answers, more turns to come
        await server.wait_dead()
        await asyncio.sleep(0.5)  # the outage (not measured, not asserted)
        await server.start()

        async def customers_back() -> bool:
            online = {s.uid for s in await rest.user_onlinestatus(uids) if s.online}
            return all(c.uid in online or t.done() for c, t in zip(customers, tasks, strict=True))

        await wait_for(customers_back, what="every customer to reconnect")
        results = await asyncio.wait_for(asyncio.gather(*tasks), WAIT * 3)

        # -- recovery --------------------------------------------------------------------------------
        for r in results:
            assert r.finished and r.sent == TURNS, r
            assert all("no reply and no handover" in e for e in r.errors), r.errors
        await wait_for(bot.idle, what="the bot to go idle after the restart")
        health = await bot.health()
        assert health is not None and health["status"] == "ok" and health["worker_alive"], health

        # -- every customer message at the desk exactly once; every reply delivered exactly once -------
        for c in customers:
            msgs = await history(rest, BOT, c.uid, 10)
            mine = [m for m in msgs if m.from_uid == c.uid]
            by_cmn = Counter(m.client_msg_no for m in mine)
            assert len(by_cmn) == TURNS, f"{c.uid}: customer messages on the server {by_cmn}"
            # the first stored copy of each (a blind re-send after the outage may be stored twice)
            firsts: dict[str, MessageResp] = {}
            for m in mine:
                firsts.setdefault(m.client_msg_no, m)
            bot_msgs = Counter(m.client_msg_no for m in msgs if m.from_uid == BOT)
            assert dupes(bot_msgs) == {}, f"{c.uid}: a bot message was stored twice: {bot_msgs}"
            # each customer message got exactly one answer (autopilot reply or handover notice) until
            # people had the conversation; after a handover the bot stays quiet by design
            answers = [
                sum(bot_msgs[client_msg_no(kind, str(m.message_id))] for kind in PURPOSES)
                for m in firsts.values()
            ]
            answered = sum(answers)
            assert answered == sum(bot_msgs.values()), f"{c.uid}: unexplained bot messages {bot_msgs}"
            assert answers == [1] * answered + [0] * (TURNS - answered), answers
            if answered < TURNS:
                assert watch.with_people(c.uid), f"{c.uid}: left without an answer or a handover"
            # delivered to the customer at most once; every one stored after the restart delivered
            got = Counter(x.message_seq for x in c.result.received if x.from_uid == BOT)
            assert dupes(got) == {}, f"{c.uid}: a bot message was delivered twice"
            # (a handover notice may arrive after the customer left: it stops waiting once people have it)
            replies = {client_msg_no("reply", str(m.message_id)) for m in firsts.values()}
            for m in msgs:
                if m.from_uid == BOT and m.client_msg_no in replies:
                    # every reply, also one in flight when the server died (pulled by the catch-up)
                    assert m.message_seq in got, (
                        f"{c.uid}: reply {m.message_seq} not delivered; received {sorted(got)}, errors {c.result.errors}, "
                        f"history {[(x.from_uid[:4], x.message_seq, x.client_msg_no[:14]) for x in msgs]}"
                    )
            assert c.result.errors == [], c.result.errors

        async def staff_has_all() -> bool:
            for uid in uids:
                rows = store.history(uid, 10, limit=100)
                if Counter(r.from_uid for r in rows)[uid] != TURNS:
                    return False
            return True

        await wait_for(staff_has_all, what="the staff client to hold every message once")
        for uid in uids:
            rows = store.history(uid, 10, limit=100)
            assert dupes(Counter(r.client_msg_no for r in rows)) == {}
            assert store.gaps(uid, 10) == []
        assert staff.state is ConnState.ONLINE

        facts = [
            f
            for m in await history(rest, BOT, DESK, 2)
            if m.from_uid == BOT and isinstance(f := p.parse_payload(m.payload), p.Fact)
        ]
        assert dupes(Counter(f.id for f in facts)) == {}, "a fact was posted twice"
        opened = Counter(f.channel for f in facts if f.kind == "opened")
        assert opened == Counter(dict.fromkeys(uids, 1)), opened
        assert server.starts == 2
    finally:
        await stop_task(watch_task)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if staff is not None:
            await staff.close()
        store.close()
        await rest.aclose()
        await bot.stop()
        await server.stop()


async def test_a_reply_in_flight_when_the_devserver_dies_reaches_the_customer(tmp_path: Path) -> None:
    bot_port = free_port()
    server = DevServerProc(tmp_path / "wk", webhook_url=f"http://127.0.0.1:{bot_port}/webhook")
    await server.start()
    bot = BotProc(server.api_url, tmp_path, port=bot_port)
    rest = RestClient(server.api_url, manager_token=MANAGER)
    proxy = TcpProxy("127.0.0.1", server.ws_port)
    await proxy.start()
    task: asyncio.Task[CustomerResult] | None = None
    try:
        await bot.start()
        await wait_for(bot.idle, what="the bot to set up the desk")
        uid = visitor()
        customer = SimCustomer(
            Script(id="c", customer_uid=uid, customer_name="", turns=[FAQ_QUESTIONS[0]]),
            uid,
            ws_url=proxy.ws_url,
            # the REST address: after the reconnect its client pulls what it missed (PROTOCOL.md g.2/g.4)
            api_url=server.api_url,
            manager_token=MANAGER,
            # it thinks 1 s before its turn, so the proxy stalls before the question goes out
            pace=Pace(think=1.0, max_think=1.0, reply_timeout=10, send_timeout=WAIT, connect_timeout=WAIT),
        )
        task = asyncio.create_task(customer.run())
        await wait_for(lambda: _online(rest, uid), what="the customer to connect")
        await proxy.set_mode("stall_s2c")  # the customer's SEND reaches the server; nothing comes back

        async def reply_stored() -> bool:
            return any(m.from_uid == BOT for m in await history(rest, BOT, uid, 10))

        await wait_for(reply_stored, what="the autopilot reply to be stored")
        server.kill()
        await server.wait_dead()
        await proxy.set_mode("drop")
        await server.start()
        await proxy.set_mode("pass")
        result = await asyncio.wait_for(task, WAIT * 2)
        assert result.sent == 1, result
        # the question reached the desk once and was answered once (these hold) ...
        msgs = await history(rest, BOT, uid, 10)
        assert len({m.client_msg_no for m in msgs if m.from_uid == uid}) == 1
        assert len([m for m in msgs if m.from_uid == BOT]) == 1
        # ... and the answer reaches the customer, once (pulled by its catch-up after the reconnect)
        assert [x.from_uid for x in result.received] == [BOT], result.errors
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await proxy.stop()
        await rest.aclose()
        await bot.stop()
        await server.stop()


async def _online(rest: RestClient, uid: str) -> bool:
    return any(s.online for s in await rest.user_onlinestatus([uid]))
