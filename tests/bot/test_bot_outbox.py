"""The outbox across a crash: a send that already reached the server before the crash is found in the
channel's history by its client_msg_no and not sent again; one that did not is sent exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botkit import BOT, DESK, FAQ_QUESTION, WAIT, bot_config, visitor

from agentdesk.bot.router import client_msg_no
from agentdesk.bot.service import DeskBot
from agentdesk.bot.store import BotStore, Outgoing
from agentdesk.bot.turns import text_payload
from agentdesk.wukongim.rest import RestClient
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN


async def test_pending_sends_after_a_crash_go_out_exactly_once(
    devserver_factory: Any, tmp_path: Path
) -> None:
    server = await devserver_factory()
    v = visitor()
    cfg = bot_config(tmp_path, server.api_url)
    # The state a crash leaves: two sends were attempted (attempts = 1), only the first reached the server.
    store = BotStore.open(cfg.db_path)
    for n in (1, 2):
        store.add_outgoing(Outgoing("send", v, 10, text_payload(f"reply {n}"), f"deskbot-test-{n}"))
    store.attempt(1)
    store.attempt(2)
    store.close()
    async with RestClient(server.api_url, manager_token=DEVSERVER_MANAGER_TOKEN) as rest:
        await rest.message_send(v, 10, text_payload("reply 1"), from_uid=BOT, client_msg_no="deskbot-test-1")
        bot = DeskBot(cfg)
        await bot.start()
        try:
            await bot.wait_idle(WAIT)
        finally:
            await bot.stop()
        page = await rest.channel_messagesync(BOT, v, 10, limit=50)
        assert [m.client_msg_no for m in page.messages] == ["deskbot-test-1", "deskbot-test-2"]
        desk = await rest.channel_messagesync(BOT, DESK, 2, limit=50)
        assert desk.messages == []  # the desk channel exists (created at start) and holds nothing


async def test_catch_up_fills_a_gap_the_webhooks_left(devserver_factory: Any, tmp_path: Path) -> None:
    server = await devserver_factory()  # no webhooks at all: only the start-up catch-up can see seq 2
    v = visitor()
    cfg = bot_config(tmp_path, server.api_url)
    async with RestClient(server.api_url, manager_token=DEVSERVER_MANAGER_TOKEN) as rest:
        for _ in range(3):
            await rest.message_send(v, 10, text_payload(FAQ_QUESTION), from_uid=v)
        m1, m2, m3 = (await rest.channel_messagesync(BOT, v, 10, limit=10)).messages
        # A previous run saw seq 1 and 3 (the webhook with seq 2 was dropped) and processed them.
        store = BotStore.open(cfg.db_path)
        assert store.add_messages([m1, m3]) == 2
        with store.transaction():
            store.mark_processed(1)
            store.mark_processed(2)
        assert store.contiguous_seq(v, 10) == 1
        store.close()
        bot = DeskBot(cfg)
        await bot.start()
        try:
            await bot.wait_idle(WAIT)
        finally:
            await bot.stop()
        page = await rest.channel_messagesync(BOT, v, 10, start_message_seq=1, limit=50, pull_mode=1)
        replies = [m.client_msg_no for m in page.messages if m.from_uid == BOT]
        assert replies == [client_msg_no("reply", str(m2.message_id))]
