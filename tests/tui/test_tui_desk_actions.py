"""Queue views, filter, next-urgent and the desk actions, through keys, against a scripted desk bot."""

from __future__ import annotations

import time

from consolekit import Desk, ScriptedBot, fid, open_conversation, visitor
from textual.widgets import Input
from tui_pilotkit import SIZE, console_app, until

from agentdesk.desk import protocol as p
from agentdesk.tui.screens.main import MainScreen
from agentdesk.tui.screens.modals import EscalateModal, LabelModal, TextModal
from agentdesk.tui.widgets.queue_list import QueueList
from agentdesk.tui.widgets.transcript import Transcript


async def test_views_counts_filter_and_next_urgent(desk: Desk) -> None:
    await desk.add_staff("alice")
    calm, angry, robot = visitor("calm"), visitor("angry"), visitor("robot")
    core = desk.core("alice")
    app = console_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: core.status().connection.state == "online")
        await open_conversation(desk, calm, "Calm Carl", reason="question")
        await open_conversation(desk, angry, "Angry Ann", urgency="urgent", reason="threatens to sue")
        await open_conversation(desk, robot, "Robo Rita", mode="ai")
        await desk.customer_says(robot, "hello bot")
        queue = app.screen.query_one(QueueList)
        await until(pilot, lambda: queue.counts.get("all") == 3)
        assert dict(queue.counts) == {"mine": 0, "unassigned": 2, "escalated": 1, "ai": 1, "all": 3}
        assert [r.channel_id for r in queue.rows][:2] == [angry, calm]  # urgency first
        await pilot.press("2")
        assert queue.view == "unassigned" and {r.channel_id for r in queue.rows} == {angry, calm}
        await pilot.press("4")
        assert [r.channel_id for r in queue.rows] == [robot]
        await pilot.press("5", "slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"carl")
        assert [r.channel_id for r in queue.rows] == [calm]
        await pilot.press("enter", "u")  # back to the queue, then next-urgent
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await until(pilot, lambda: screen.current == angry)
        assert screen.detail is not None and screen.detail.urgency == "urgent"


async def test_claim_note_label_escalate_resolve_and_a_rejection(desk: Desk) -> None:
    await desk.add_staff("alice")
    cust = visitor("dan")
    core = desk.core("alice")
    bot = ScriptedBot(desk, reject={"release": "you are not the assignee's supervisor"}).start()
    app = console_app(core)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: core.status().connection.state == "online")
            await open_conversation(desk, cust, "Dan")
            await desk.customer_says(cust, "hi")
            queue = app.screen.query_one(QueueList)
            await until(pilot, lambda: [r.channel_id for r in queue.rows] == [cust])
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, MainScreen)
            await pilot.press("escape", "c")
            await until(pilot, lambda: core.counts()["mine"] == 1)
            await pilot.press("n")
            assert isinstance(app.screen, TextModal)
            await pilot.press(*"VIP [b]careful[/b]", "enter")
            await pilot.press("l")
            assert isinstance(app.screen, LabelModal)
            await pilot.press(*"vip refund", "enter")
            await pilot.press("exclamation_mark")
            assert isinstance(app.screen, EscalateModal)
            await pilot.press(*"legal threat", "enter")
            await until(pilot, lambda: screen.detail is not None and screen.detail.escalated)
            await until(
                pilot, lambda: screen.detail is not None and screen.detail.labels == ("refund", "vip")
            )
            transcript = screen.query_one(Transcript)
            await until(pilot, lambda: any(i.text == "note: VIP [b]careful[/b]" for i in transcript.items))
            await pilot.press("C")  # release: the bot refuses
            await until(pilot, lambda: bool(screen.rejections))
            assert screen.rejections[-1] == "release refused: you are not the assignee's supervisor"
            assert core.counts()["mine"] == 1
            await pilot.press("s")
            await until(pilot, lambda: screen.detail is not None and screen.detail.status == "resolved")
            await pilot.press("O")
            await until(pilot, lambda: screen.detail is not None and screen.detail.status == "open")
            assert [r.kind for r in bot.seen] == [
                "claim",
                "note",
                "label",
                "escalate",
                "release",
                "resolve",
                "reopen",
            ]
    finally:
        await bot.stop()


async def test_supervisor_watches_an_ai_session_takes_over_and_hands_back(desk: Desk) -> None:
    await desk.add_staff("supsue")
    cust = visitor("ai")
    core = desk.core("supsue")
    bot = ScriptedBot(desk).start()
    app = console_app(core)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: core.status().connection.state == "online")
            await open_conversation(desk, cust, "Ada", mode="ai")
            await desk.customer_says(cust, "is my order shipped?")
            await desk.rest.message_send(
                cust, 10, {"type": 1, "content": "Yes, yesterday."}, from_uid="deskbot"
            )
            await pilot.press("4")
            queue = app.screen.query_one(QueueList)
            await until(pilot, lambda: [r.channel_id for r in queue.rows] == [cust])
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, MainScreen)
            transcript = screen.query_one(Transcript)
            await until(
                pilot, lambda: [i.role for i in transcript.items if i.role != "desk"] == ["customer", "bot"]
            )
            await desk.customer_says(cust, "thanks, and the invoice?")  # live
            await until(
                pilot,
                lambda: (
                    [i.text for i in transcript.items if i.role == "customer"][-1]
                    == "thanks, and the invoice?"
                ),
            )
            await pilot.press("t")
            await until(pilot, lambda: screen.detail is not None and screen.detail.mode == "human")
            assert screen.detail is not None and screen.detail.assignee == "supsue"
            await pilot.press("T")
            await until(pilot, lambda: screen.detail is not None and screen.detail.mode == "ai")
    finally:
        await bot.stop()


async def test_an_agent_cannot_take_over(desk: Desk) -> None:
    await desk.add_staff("alice")
    cust = visitor("ai")
    core = desk.core("alice")
    app = console_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: core.status().connection.state == "online")
        await open_conversation(desk, cust, "Ada", mode="ai")
        await desk.fact(p.Noted(id=fid(), channel=cust, at=time.time(), text="x"))
        queue = app.screen.query_one(QueueList)
        await until(pilot, lambda: queue.counts.get("ai") == 1)
        await pilot.press("4", "enter")
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert screen.current == cust
        assert screen.check_action("take_over", ()) is None
        assert screen.check_action("claim", ()) is True
