"""Draft panel (stream, approve/edit/regenerate/discard, every fate recorded), FAQ search and insert,
and replies while offline (composer works, the reply waits in the outbox)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consolekit import Desk, visitor
from textual.pilot import Pilot
from textual.widgets import TextArea
from tui_pilotkit import SIZE, console_app, until

from agentdesk.console.core import ConsoleCore
from agentdesk.tui.screens.main import MainScreen
from agentdesk.tui.widgets.draft_panel import DraftPanel
from agentdesk.tui.widgets.faq_panel import FaqPanel
from agentdesk.tui.widgets.queue_list import QueueList
from agentdesk.tui.widgets.status_bar import StatusBar, connection_text
from agentdesk.tui.widgets.transcript import Transcript


async def _open_with_draft(pilot: Pilot[Any], desk: Desk, core: ConsoleCore, text: str) -> MainScreen:
    cust = visitor("fa")
    await desk.open_visitor(cust)
    await until(pilot, lambda: core.status().connection.state == "online")
    await desk.customer_says(cust, text)
    queue = pilot.app.screen.query_one(QueueList)
    await until(pilot, lambda: [r.channel_id for r in queue.rows] == [cust])
    await pilot.press("enter")
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    await until(pilot, lambda: screen.query_one(DraftPanel).state == "ready")
    return screen


async def test_edit_regenerate_discard_record_every_fate(desk: Desk, faq_db: Path) -> None:
    await desk.add_staff("alice")
    core = desk.core("alice", faq_db=faq_db)
    app = console_app(core)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_with_draft(pilot, desk, core, "How do I return an item?")
        cust = screen.current
        assert cust is not None
        panel = screen.query_one(DraftPanel)
        first = panel.draft
        assert first is not None
        await pilot.press("F")  # redraft, friendlier
        await until(pilot, lambda: panel.state == "ready" and panel.draft is not first)
        assert panel.draft is not None and panel.draft.tone == "friendlier"
        await pilot.press("d")  # discard
        assert panel.state == "idle"
        await pilot.press("S")  # ask again, shorter
        await until(pilot, lambda: panel.state == "ready")
        await pilot.press("e")  # edit
        composer = screen.query_one("#composer", TextArea)
        assert app.focused is composer and composer.text == panel.draft.text  # type: ignore[union-attr]
        await pilot.press("end", *" Thanks!")
        await pilot.press("ctrl+s")
        transcript = screen.query_one(Transcript)
        await until(pilot, lambda: transcript.items[-1].status == "sent")
        assert transcript.items[-1].text.endswith("Thanks!")
        await until(pilot, lambda: len(core.drafting.fates.records(conversation_id=cust)) == 3)
        records = core.drafting.fates.records(conversation_id=cust)
        assert sorted(r.fate for r in records) == ["edited", "regenerated", "rejected"]
        [edited] = [r for r in records if r.fate == "edited"]
        assert edited.edit_distance is not None and edited.edit_distance > 0


async def test_cited_faq_and_faq_search_insert(desk: Desk, faq_db: Path) -> None:
    await desk.add_staff("alice")
    core = desk.core("alice", faq_db=faq_db)
    app = console_app(core)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_with_draft(pilot, desk, core, "How long does a refund take?")
        panel = screen.query_one(DraftPanel)
        assert panel.draft is not None and panel.draft.citations
        await pilot.press("f")
        await pilot.press(*"refund")
        faq = screen.query_one(FaqPanel)
        await until(pilot, lambda: faq.query_text == "refund" and bool(faq.results))
        answer = faq.results[0].answer
        await pilot.press("ctrl+g")
        composer = screen.query_one("#composer", TextArea)
        assert composer.text == answer and app.focused is composer


async def test_offline_composer_keeps_working_and_reply_waits(devserver_factory: Any, tmp_path: Path) -> None:
    from consolekit import make_desk

    server = await devserver_factory()
    desk = await make_desk(server, tmp_path)
    try:
        await desk.add_staff("alice")
        core = desk.core("alice")
        app = console_app(core)
        async with app.run_test(size=SIZE) as pilot:
            cust = visitor("off")
            await desk.open_visitor(cust)
            await until(pilot, lambda: core.status().connection.state == "online")
            await desk.customer_says(cust, "are you there?")
            queue = app.screen.query_one(QueueList)
            await until(pilot, lambda: [r.channel_id for r in queue.rows] == [cust])
            await pilot.press("enter")
            await server.stop()
            bar = app.screen.query_one(StatusBar)
            await until(pilot, lambda: bar.info.connection.state in ("reconnecting", "connecting"))
            assert connection_text(bar.info).startswith(("reconnecting", "connecting"))
            await pilot.press("r", *"back soon", "ctrl+s")
            transcript = app.screen.query_one(Transcript)
            await until(pilot, lambda: transcript.items[-1].text == "back soon")
            assert transcript.items[-1].status in ("pending", "retrying")
            await until(pilot, lambda: bar.info.outbox == 1)
    finally:
        await desk.close()
