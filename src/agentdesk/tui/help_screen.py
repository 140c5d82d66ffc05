"""The help screen: every command, its current keys and what it does, generated from the registry."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from agentdesk.tui.commands import CommandRegistry, KeymapLike
from agentdesk.tui.safe_text import safe_content

HELP_COLUMNS = ("Keys", "Command", "Id", "What it does")


class HelpScreen(ModalScreen[None]):
    """A modal table of commands; `escape`, `f1` or `q` closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close", key_display="esc"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 90%; height: 90%;
        border: round $primary; background: $surface;
    }
    HelpScreen #help-title { padding: 0 1; color: $text-muted; }
    HelpScreen DataTable { height: 1fr; }
    """

    def __init__(self, registry: CommandRegistry, keymap: KeymapLike | None = None) -> None:
        super().__init__()
        self._registry = registry
        self._keymap = keymap

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                safe_content("Commands · esc closes · ctrl+p runs any of them by name"), id="help-title"
            )
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*HELP_COLUMNS)
        for row in self._registry.help_rows(self._keymap):
            table.add_row(
                safe_content(row.keys),
                safe_content(row.title),
                safe_content(row.id),
                safe_content(row.description),
                key=row.id,
            )
        table.focus()
