"""Commands (bindings, palette, help, keymap), themes that persist, the dashboard and the status bar,
over a frozen service."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette
from textual.widgets import Sparkline
from tui_fakeservice import FrozenService
from tui_pilotkit import SIZE, console_app, settle, until

from agentdesk.tui.help_screen import HelpScreen
from agentdesk.tui.keymap import keymap_from_mapping
from agentdesk.tui.screens.main import MainScreen
from agentdesk.tui.services import ConnectionInfo, StatusInfo
from agentdesk.tui.widgets.dashboard import DashboardScreen
from agentdesk.tui.widgets.status_bar import StatusBar, connection_text


async def test_help_screen_and_palette_run_commands_by_id() -> None:
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"next urgent")
        palette = app.screen
        await until(pilot, lambda: palette.query_one(CommandList).option_count > 0)
        await pilot.press("enter")
        await until(
            pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.current == "c-urgent___vstr"
        )


async def test_palette_hides_commands_that_need_a_conversation() -> None:
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert screen.check_action("claim", ()) is None
        assert screen.check_action("approve_draft", ()) is None
        await pilot.press("enter")
        await until(pilot, lambda: screen.current is not None)
        assert screen.check_action("claim", ()) is True


async def test_keymap_moves_a_command_and_ctrl_q_still_quits() -> None:
    fake = FrozenService()
    keymap = keymap_from_mapping({"claim": "x", "quit": "f10"}, "test")
    app = console_app(fake, keymap=keymap)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert fake.requests == []
        await pilot.press("x")
        await until(pilot, lambda: [a for _, a, _ in fake.requests] == ["claim"])
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0 and fake.closed


async def test_theme_cycles_and_the_choice_persists() -> None:
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == "agentdesk-dark"
        await pilot.press("f8")
        await until(pilot, lambda: fake.prefs.get("theme") == app.theme)
        chosen = app.theme
        assert chosen != "agentdesk-dark"
    again = console_app(fake)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert again.theme == chosen


async def test_dashboard_shows_figures_and_sparklines() -> None:
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        assert isinstance(app.screen, DashboardScreen)
        sparks = list(app.screen.query(Sparkline))
        assert [len(list(s.data or [])) for s in sparks] == [12, 12]
        summary = str(app.screen.query_one("#dashboard-summary").render())
        assert "Autopilot share (open): 25%" in summary and "Median wait: 3m" in summary
        await pilot.press("f2")
        assert isinstance(app.screen, MainScreen)


def test_status_texts() -> None:
    assert connection_text(StatusInfo(ConnectionInfo("reconnecting", 4.6))) == "reconnecting in 5 s"
    assert connection_text(StatusInfo(ConnectionInfo("auth_failed"))) == "authentication failed"
    assert connection_text(StatusInfo(ConnectionInfo("offline"))) == "offline"
    assert connection_text(StatusInfo(ConnectionInfo("online"))) == "online"


async def test_status_bar_shows_outbox_user_and_role() -> None:
    fake = FrozenService(connection=ConnectionInfo("reconnecting", 3.0, "connection refused"), outbox=2)
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = str(app.screen.query_one(StatusBar).render())
        for part in ("reconnecting in 3 s", "outbox 2", "alice (supervisor)", "connection refused"):
            assert part in text


async def test_reconnect_countdown_follows_the_service_clock() -> None:
    fake = FrozenService(connection=ConnectionInfo("reconnecting", 5.0))
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        bar = screen.query_one(StatusBar)
        assert "reconnecting in 5 s" in str(bar.render())
        fake.clock += 3
        screen._tick()
        await settle(pilot)
        assert "reconnecting in 2 s" in str(bar.render())
