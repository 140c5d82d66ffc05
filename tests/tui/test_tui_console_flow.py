"""The console end to end in-process: real console core, devserver, scripted desk bot and customers."""

from __future__ import annotations

from pathlib import Path

from consolekit import Desk, visitor
from tui_pilotkit import SIZE, console_app, until

from agentdesk.tui.widgets.draft_panel import DraftPanel
from agentdesk.tui.widgets.queue_list import QueueList
from agentdesk.tui.widgets.transcript import Transcript


async def test_customer_message_to_approved_reply(desk: Desk, faq_db: Path) -> None:
    await desk.add_staff("alice")
    cust = visitor("amy")
    await desk.open_visitor(cust)
    core = desk.core("alice", faq_db=faq_db)
    app = console_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: core.status().connection.state == "online")
        await desk.customer_says(cust, "How long does a refund take?")
        queue = app.screen.query_one(QueueList)
        await until(pilot, lambda: [r.channel_id for r in queue.rows] == [cust])
        await pilot.press("enter")
        panel = app.screen.query_one(DraftPanel)
        await until(pilot, lambda: panel.state == "ready")
        draft = panel.draft
        assert draft is not None and draft.text
        await pilot.press("ctrl+o")
        transcript = app.screen.query_one(Transcript)
        await until(pilot, lambda: [(i.role, i.status) for i in transcript.items][-1:] == [("me", "sent")])
        assert transcript.items[-1].text == draft.text
        assert [r.fate for r in core.drafting.fates.records(conversation_id=cust)] == ["approved"]


async def test_new_customer_message_starts_a_fresh_draft(desk: Desk, faq_db: Path) -> None:
    await desk.add_staff("alice")
    cust = visitor("bea")
    await desk.open_visitor(cust)
    core = desk.core("alice", faq_db=faq_db)
    app = console_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: core.status().connection.state == "online")
        await desk.customer_says(cust, "How long does a refund take?")
        queue = app.screen.query_one(QueueList)
        await until(pilot, lambda: [r.channel_id for r in queue.rows] == [cust])
        await pilot.press("enter")
        panel = app.screen.query_one(DraftPanel)
        await until(pilot, lambda: panel.state == "ready")
        await pilot.press("d")
        assert panel.state == "idle"
        await desk.customer_says(cust, "And can I pay cash on delivery?")
        await until(pilot, lambda: panel.state == "ready")
        assert [r.fate for r in core.drafting.fates.records(conversation_id=cust)] == ["rejected"]
