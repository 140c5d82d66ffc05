"""The console with the real desk bot (agentdesk.bot.DeskBot, in process) and the devserver: a customer
writes, the bot queues the conversation, the agent opens it (history fetched), claims it and replies."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from consolekit import Desk, make_desk, visitor
from tui_pilotkit import SIZE, console_app, until

from agentdesk.bot.config import BotConfig
from agentdesk.bot.service import DeskBot
from agentdesk.desk.rules import Roster
from agentdesk.tui.screens.main import MainScreen
from agentdesk.tui.widgets.queue_list import QueueList
from agentdesk.tui.widgets.transcript import Transcript
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN

ROSTER = """
[users]
alice = "agent"
supsam = "supervisor"
"""


@pytest.fixture
async def bot_desk(devserver_factory: Any, tmp_path: Path) -> AsyncIterator[Desk]:
    bot = DeskBot(
        BotConfig(
            api_url="",
            roster=Roster.parse(ROSTER),
            db_path=tmp_path / "bot.sqlite3",
            manager_token=DEVSERVER_MANAGER_TOKEN,
            listen_port=0,
            default_mode="assist",
            retry_base=0.05,
            retry_max=0.5,
        )
    )
    await bot.listen()
    server = await devserver_factory(webhook_url=bot.webhook_url)
    bot.config.api_url = server.api_url
    await bot.start()
    desk = await make_desk(server, tmp_path)
    token = secrets.token_hex(8)
    await desk.rest.user_token("alice", token)
    desk.tokens["alice"] = token
    try:
        yield desk
    finally:
        await desk.close()
        await bot.stop()


async def test_queue_claim_and_reply_with_the_real_bot(bot_desk: Desk) -> None:
    desk = bot_desk
    core = desk.core("alice")
    app = console_app(core)
    cust = visitor("rb")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: core.status().sync == "synced")
        await desk.customer_says(cust, "我要投诉，转人工")
        queue = app.screen.query_one(QueueList)
        await until(pilot, lambda: queue.counts.get("unassigned") == 1)
        await pilot.press("2")
        await until(pilot, lambda: [r.channel_id for r in queue.rows] == [cust])
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, MainScreen)
        transcript = screen.query_one(Transcript)
        await until(pilot, lambda: any(i.text == "我要投诉，转人工" for i in transcript.items))  # from REST
        await pilot.press("escape", "c")
        await until(pilot, lambda: core.counts()["mine"] == 1)
        assert screen.detail is not None and screen.detail.assignee == "alice"
        await pilot.press("r", *"I am here to help.", "ctrl+s")
        await until(
            pilot,
            lambda: (
                [(i.text, i.status) for i in transcript.items if i.role == "me"][-1:]
                == [("I am here to help.", "sent")]
            ),
        )
        await until(pilot, lambda: any(i.text.startswith("first reply") for i in transcript.items))
