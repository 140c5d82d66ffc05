"""Fault (d): the desk bot (a process) is SIGKILLed mid-reply while a burst of customers waits, webhooks fail
while it is down (the devserver gives up on them), it restarts on the same database, and then the whole
window of `msg.notify` batches the devserver ever pushed is delivered again, twice, byte for byte (as a
WuKongIM whose acknowledgement got lost would).

Asserted: every customer question answered exactly once (autopilot reply or handover notice), no bot
message stored twice, every desk fact posted once, each conversation opened once, the bot idle and
healthy at the end."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from faultkit import (
    BOT,
    DESK,
    FAQ_QUESTIONS,
    MANAGER,
    BotProc,
    WebhookTap,
    dupes,
    free_port,
    history,
    visitor,
    wait_for,
)

from agentdesk.bot.router import client_msg_no
from agentdesk.desk import protocol as p
from agentdesk.wukongim.rest import RestClient

PURPOSES = ("reply", "handover", "urgent_handover")


async def test_bot_killed_mid_reply_then_the_whole_webhook_window_redelivered(
    devserver_factory: Any, tmp_path: Path
) -> None:
    bot_port = free_port()
    tap = WebhookTap(f"http://127.0.0.1:{bot_port}/webhook")
    await tap.start()
    server = await devserver_factory(webhook_url=tap.url)
    bot = BotProc(server.api_url, tmp_path, port=bot_port)
    rest = RestClient(server.api_url, manager_token=MANAGER)
    asked: dict[int, str] = {}  # message id of a question → its visitor

    async def ask(v: str, text: str) -> None:
        r = await rest.message_send(v, 10, {"type": 1, "content": text}, from_uid=v)
        asked[r.message_id] = v

    async def bot_messages() -> list[Any]:
        out = []
        for v in set(asked.values()):
            out += [m for m in await history(rest, BOT, v, 10) if m.from_uid == BOT]
        return out

    try:
        await bot.start()
        await wait_for(bot.idle, what="the bot to set up the desk")
        burst = [visitor("w") for _ in range(8)]
        for i, v in enumerate(burst):  # a burst; the bot is killed while it works through it
            await ask(v, FAQ_QUESTIONS[i % len(FAQ_QUESTIONS)])

        async def busy() -> bool:
            return len(await bot_messages()) >= 2

        await wait_for(busy, what="the bot to be replying")
        bot.kill()
        assert bot.proc is not None
        await bot.proc.wait()
        # while it is down, known conversations go on: the pushes fail and are dropped after a few tries
        # (a conversation that *starts* while the bot is down: the xfail test below)
        for v in burst[:3]:
            await ask(v, "另外，运费多少钱？")

        async def given_up() -> bool:
            assert server.webhooks is not None
            return bool(server.webhooks.dropped > 0 and server.storage.webhook_backlog() == 0)

        await wait_for(given_up, what="the devserver to give up on the webhooks")
        await bot.start()

        async def all_answered() -> bool:
            msgs = await bot_messages()
            got = {m.client_msg_no for m in msgs}
            return all(any(client_msg_no(k, str(mid)) in got for k in PURPOSES) for mid in asked)

        await wait_for(all_answered, what="every question to be answered after the restart")
        await wait_for(bot.idle, what="the bot to go idle")

        # the whole window again, twice: every batch the devserver ever pushed (acked or not)
        assert tap.bodies, "the tap saw no webhook"
        for _ in range(2):
            statuses = await tap.redeliver_all()
            assert set(statuses) == {200}, statuses
        await wait_for(bot.idle, what="the bot to go idle after the redelivery")

        msgs = await bot_messages()
        per_cmn = Counter(m.client_msg_no for m in msgs)
        assert dupes(per_cmn) == {}, f"a bot message was sent twice: {dupes(per_cmn)}"
        for mid, v in asked.items():
            answers = sum(per_cmn[client_msg_no(k, str(mid))] for k in PURPOSES)
            assert answers == 1, f"{v}: {answers} answers to {mid}"
        assert sum(per_cmn.values()) == len(asked)
        facts = [
            f
            for m in await history(rest, BOT, DESK, 2)
            if m.from_uid == BOT and isinstance(f := p.parse_payload(m.payload), p.Fact)
        ]
        assert dupes(Counter(f.id for f in facts)) == {}, "a fact was posted twice"
        opened = Counter(f.channel for f in facts if f.kind == "opened")
        assert opened == Counter(dict.fromkeys(burst, 1)), opened
        health = await bot.health()
        assert health is not None and health["status"] == "ok" and health["worker_alive"], health
    finally:
        await rest.aclose()
        await bot.stop()
        await tap.stop()


@pytest.mark.xfail(
    strict=True,
    reason=(
        "bug: a conversation that starts while the bot is down is never answered: the devserver drops the "
        "webhook after 5 failed pushes and the bot's start-up catch-up only pulls the desk channel and the "
        "visitors channels it already knows (bot/service.py catch-up; docs/bot.md 'Catch-up')"
    ),
)
async def test_a_conversation_started_while_the_bot_is_down_is_answered_after_its_restart(
    devserver_factory: Any, tmp_path: Path
) -> None:
    bot_port = free_port()
    server = await devserver_factory(webhook_url=f"http://127.0.0.1:{bot_port}/webhook")
    bot = BotProc(server.api_url, tmp_path, port=bot_port)
    rest = RestClient(server.api_url, manager_token=MANAGER)
    try:
        await bot.start()
        await wait_for(bot.idle, what="the bot to set up the desk")
        bot.kill()
        assert bot.proc is not None
        await bot.proc.wait()
        v = visitor("n")
        r = await rest.message_send(v, 10, {"type": 1, "content": FAQ_QUESTIONS[0]}, from_uid=v)

        async def given_up() -> bool:
            assert server.webhooks is not None
            return bool(server.webhooks.dropped > 0 and server.storage.webhook_backlog() == 0)

        await wait_for(given_up, what="the devserver to give up on the webhook")
        await bot.start()
        await wait_for(bot.idle, what="the bot to finish its start-up catch-up")

        async def answered() -> bool:
            got = {m.client_msg_no for m in await history(rest, BOT, v, 10) if m.from_uid == BOT}
            return any(client_msg_no(k, str(r.message_id)) in got for k in PURPOSES)

        await wait_for(answered, within=15, what="the new customer to be answered")
    finally:
        await rest.aclose()
        await bot.stop()
