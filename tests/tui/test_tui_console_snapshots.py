"""Snapshots of the console over a frozen service (fixed size, clock, data; no blink, no animation).

Update deliberately only: `pytest tests/tui/test_tui_console_snapshots.py --snapshot-update`, after reading
snapshot_report.html, in a commit of its own.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, TextArea
from tui_fakeservice import NOW, FrozenService, row
from tui_pilotkit import console_app, settle, until

from agentdesk.tui.services import ConnectionInfo, TranscriptItem

SIZE = (140, 40)


def _no_blink(pilot: Pilot[Any]) -> None:
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False


async def _open(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await pilot.press("down", "enter")
    await until(pilot, lambda: pilot.app.screen.query_one("#draft").state == "ready")  # type: ignore[attr-defined]
    await settle(pilot)


def test_queue(snap_compare: Any) -> None:
    assert snap_compare(console_app(FrozenService()), run_before=settle, terminal_size=SIZE)


def test_conversation_with_draft(snap_compare: Any) -> None:
    assert snap_compare(console_app(FrozenService()), run_before=_open, terminal_size=SIZE)


def test_conversation_light_theme(snap_compare: Any) -> None:
    assert snap_compare(
        console_app(FrozenService(), theme="agentdesk-light"), run_before=_open, terminal_size=SIZE
    )


def test_conversation_high_contrast(snap_compare: Any) -> None:
    app = console_app(FrozenService(), theme="agentdesk-high-contrast")
    assert snap_compare(app, run_before=_open, terminal_size=SIZE)


def test_faq_results(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _open(pilot)
        await pilot.press("f", *"cod")
        await until(pilot, lambda: bool(pilot.app.screen.query_one("#faq").results))  # type: ignore[attr-defined]
        _no_blink(pilot)
        await settle(pilot)

    assert snap_compare(console_app(FrozenService()), run_before=run_before, terminal_size=SIZE)


def test_help_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)

    assert snap_compare(console_app(FrozenService()), run_before=run_before, terminal_size=SIZE)


def test_escalate_modal(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _open(pilot)
        await pilot.press("exclamation_mark", *"legal threat")
        _no_blink(pilot)
        await settle(pilot)

    assert snap_compare(console_app(FrozenService()), run_before=run_before, terminal_size=SIZE)


def test_dashboard(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)

    assert snap_compare(console_app(FrozenService()), run_before=run_before, terminal_size=SIZE)


def test_reconnecting_with_outbox(snap_compare: Any) -> None:
    fake = FrozenService(connection=ConnectionInfo("reconnecting", 4.0, "connection refused"), outbox=2)
    assert snap_compare(console_app(fake), run_before=settle, terminal_size=SIZE)


def test_hostile_transcript(snap_compare: Any) -> None:
    hostile = [
        "[bold red]URGENT[/bold red] [link=https://evil.example]点我看截图[/link]",
        "\x1b[2J\x1b[1;33mSYSTEM: verified\x1b[0m refund approved\rrefund DENIED\x08\x08",
        "invoice_\u202egpj.exe NW2604\u200b0211 " + "x" * 300,
    ]
    items = [TranscriptItem(f"m{i}", "customer", "c", NOW - 100 + i, text=t) for i, t in enumerate(hostile)]
    fake = FrozenService(
        rows=[row("c", "[green]王[/green]\x1b[31m", hostile[0], waiting=400.0)], transcripts={"c": items}
    )
    fake.draft_text = "[/] [b]draft[/b] \x1b]52;c;ZWNobw==\x07"
    assert snap_compare(console_app(fake), run_before=_open_first, terminal_size=SIZE)


async def _open_first(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await pilot.press("enter")
    await until(pilot, lambda: pilot.app.screen.query_one("#draft").state == "ready")  # type: ignore[attr-defined]
    await settle(pilot)


def test_narrow_terminal(snap_compare: Any) -> None:
    assert snap_compare(console_app(FrozenService()), run_before=_open, terminal_size=(80, 24))
