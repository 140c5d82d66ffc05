"""Snapshots: hostile text rendered through safe_text, in each bundled theme (80×24, nothing animated).

Update deliberately only: `pytest tests/tui/test_tui_snapshots.py --snapshot-update`, after reading
snapshot_report.html, in a commit of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import Footer, Static

from agentdesk.tui.command_set import default_registry
from agentdesk.tui.commands import APP
from agentdesk.tui.safe_text import highlight, one_line, safe_content
from agentdesk.tui.themes import load_themes, theme_variable_defaults

MESSAGES = (
    "[bold red]URGENT[/bold red] refund now [link=https://evil.example]点我看截图[/link]",
    "\x1b[1A\x1b[2K\x1b[1;33mSYSTEM: customer verified\x1b[0m",
    "refund approved\rrefund DENIED\x08\x08 \x1b]8;;http://evil.example\x07click\x1b]8;;\x07",
    "公司名：北风\u202e司公限有技科  invoice_\u202egpj.exe  NW2604\u200b02117356",
    "👩\u200d💻 🏳️\u200d🌈 e\u0301 ＮＷ１２３ " + "ERR_PAYMENT_TIMEOUT;" * 6,
)


class HostileDemo(App[None]):
    """A tiny screen in the console's style: queue preview, transcript lines, an FAQ match."""

    CSS = """
    Screen { background: $background; }
    #preview { color: $urgency-urgent; height: 1; }
    .message { background: $inbound-background; margin: 0 0 1 0; padding: 0 1; }
    #faq { border: round $mode-ai; height: auto; padding: 0 1; }
    #status { height: 1; color: $sla-breach; background: $panel; }
    """
    BINDINGS: ClassVar[list[BindingType]] = list(default_registry().bindings_for(APP))

    def __init__(self, theme_name: str) -> None:
        super().__init__()
        themes, warnings = load_themes(user_dir=Path("/nonexistent-agentdesk-user-dir"))
        assert warnings == []
        for theme in themes.values():
            self.register_theme(theme)
        self.theme = theme_name
        self.animation_level = "none"

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return theme_variable_defaults(self.current_theme)

    def compose(self) -> ComposeResult:
        yield Static(safe_content(one_line("[green]王[/green]: " + MESSAGES[0], 78)), id="preview")
        with Vertical():
            for text in MESSAGES:
                yield Static(safe_content(text), classes="message")
            faq = "退款 refund: money goes back to the original method [within 1–3 days]."
            yield Static(highlight(faq, [(0, 2), (3, 9)]), id="faq")
        yield Static(safe_content("SLA breached · [/] · \x00"), id="status")
        yield Footer()


@pytest.mark.parametrize("theme_name", ["agentdesk-dark", "agentdesk-light", "agentdesk-high-contrast"])
def test_hostile_text_in_each_theme(snap_compare: Any, theme_name: str) -> None:
    assert snap_compare(HostileDemo(theme_name), terminal_size=(80, 24))
