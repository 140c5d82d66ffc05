"""The bot in a longer conversation: the customer's display name on the desk, follow-up turns that never
get the same answer twice, and the service's public `running` flag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botkit import FAQ_QUESTION, WAIT, Desk, bot_config, start_desk, text_of, visitor, wait_for

from agentdesk.bot.service import DeskBot
from agentdesk.bot.turns import HANDOVER_TEXTS
from agentdesk.desk import protocol as p
from agentdesk.wukongim.rest import Unauthorized

#: Rich markup, ANSI colour and OSC title escapes, a right-to-left override, a zero-width space, a BEL
HOSTILE_NAME = "[bold red]Eve[/] \x1b[31mroot\x1b[0m\x1b]0;pwned\x07 \u202eexe.txt\u200b [link=x]y[/link]"
INVOICE_QUESTION = "电子发票在哪下载"
HANDOVERS = {text for texts in HANDOVER_TEXTS.values() for text in texts.values()}


async def _opened(desk: Desk, channel: str) -> p.Opened:
    opened = [f for f in await desk.facts() if f.channel == channel and isinstance(f, p.Opened)]
    assert len(opened) == 1, opened
    return opened[0]


async def _say(desk: Desk, v: str, text: str, **extra: object) -> None:
    await desk.rest.message_send(v, 10, {"type": 1, "content": text, **extra}, from_uid=v)
    await desk.settled()


async def test_hostile_display_name_arrives_byte_exact_in_opened(
    devserver_factory: Any, tmp_path: Path
) -> None:
    desk = await start_desk(devserver_factory, tmp_path)
    try:
        v = visitor()
        await _say(desk, v, FAQ_QUESTION, from_name=HOSTILE_NAME)
        await _say(desk, v, "thanks", from_name="Mallory")  # a later name does not replace the first
        opened = await _opened(desk, v)
        assert opened.customer_name == HOSTILE_NAME
        raw = [m.payload for m in await desk.history("desk", 2) if p.parse_payload(m.payload) == opened]
        assert len(raw) == 1 and json.loads(raw[0])["customer_name"] == HOSTILE_NAME  # as data, unchanged
        conv = (await desk.state()).get(v)
        assert conv is not None and conv.customer_name == HOSTILE_NAME
        # the name is data: the autopilot still answered the question as usual
        assert "99" in text_of((await desk.bot_replies(v))[0])

        # no name, a blank one, a non-string one: no customer_name; an oversized one is cut to 200
        for extra, expected in (
            ({}, ""),
            ({"from_name": " \t"}, ""),
            ({"from_name": ["Eve"]}, ""),
            ({"from_name": "é" * 300}, "é" * 199 + "…"),
        ):
            w = visitor()
            await _say(desk, w, FAQ_QUESTION, **extra)
            assert (await _opened(desk, w)).customer_name == expected, extra
    finally:
        await desk.close()


async def test_a_follow_up_never_gets_the_same_answer_again(devserver_factory: Any, tmp_path: Path) -> None:
    desk = await start_desk(devserver_factory, tmp_path)
    try:
        v = visitor()
        await _say(desk, v, FAQ_QUESTION)
        # a new question in the same conversation: answered for itself (the latest message counts most)
        await _say(desk, v, INVOICE_QUESTION)
        replies = [text_of(m) for m in await desk.bot_replies(v)]
        assert len(replies) == 2 and "99" in replies[0], replies
        assert "发票" in replies[1] and replies[1] != replies[0], replies
        conv = (await desk.state()).get(v)
        assert conv is not None and conv.mode == "ai"
        # the first question again and again: its answer was sent already, so the bot offers something
        # else (another confident entry, or the same entry once in its short form) and never the
        # identical text; when it has nothing new left, a person takes over ("no new answer")
        for asked in range(1, 6):
            await _say(desk, v, FAQ_QUESTION)
            replies = [text_of(m) for m in await desk.bot_replies(v)]
            assert len(replies) == 2 + asked, replies
            assert len(set(replies)) == len(replies), replies  # no text twice
            if replies[-1] in HANDOVERS:
                break
        else:
            raise AssertionError(f"asked 5 times and never handed over: {replies}")
        queued = [f for f in await desk.facts() if f.channel == v and isinstance(f, p.Queued)]
        assert len(queued) == 1 and queued[0].reason.startswith("no new answer: "), queued
        conv = (await desk.state()).get(v)
        assert conv is not None and conv.mode == "assist" and conv.waiting_since is not None
        await _say(desk, v, FAQ_QUESTION)  # people have it now: the bot stays silent
        assert len(await desk.bot_replies(v)) == len(replies)
    finally:
        await desk.close()


async def test_the_same_question_after_a_hand_back_is_not_answered_twice(
    devserver_factory: Any, tmp_path: Path
) -> None:
    desk = await start_desk(devserver_factory, tmp_path)
    try:
        v = visitor()
        await _say(desk, v, FAQ_QUESTION)
        sam = await desk.client("sam")
        await desk.answer(await desk.request(sam, "take_over", v))
        back = await desk.answer(await desk.request(sam, "hand_back", v))
        assert isinstance(back, p.ModeChanged) and back.mode == "ai"
        await desk.settled()
        await _say(desk, v, FAQ_QUESTION)  # the bot's context was cleared, its record of answers was not
        replies = [text_of(m) for m in await desk.bot_replies(v)]
        assert len(replies) == 2 and replies[0] != replies[1], replies
    finally:
        await desk.close()


async def test_running_flag_follows_the_worker(devserver_factory: Any, tmp_path: Path) -> None:
    desk = await start_desk(devserver_factory, tmp_path / "ok")
    try:
        assert desk.bot.running and desk.bot.failure is None
    finally:
        await desk.close()
    assert not desk.bot.running and desk.bot.failure is None

    server = await devserver_factory()
    (tmp_path / "bad").mkdir()
    bot = DeskBot(bot_config(tmp_path / "bad", server.api_url, manager_token="not-the-token"))
    assert not bot.running  # not started yet
    await bot.start()
    try:

        async def stopped() -> bool:
            return not bot.running

        await wait_for(stopped, WAIT, "the bot to stop on the refused token")
        assert isinstance(bot.failure, Unauthorized)
        assert (await bot.health())["worker_alive"] is False
    finally:
        await bot.stop()
    assert not bot.running
