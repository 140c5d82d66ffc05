"""The queue: view tabs with live counts, filter as you type, one row per conversation.

Rows are sorted by the service (urgency, then waiting time). Each row shows unread, customer, waiting
time in its SLA colour, mode, assignee, urgency and the last-message preview; every untrusted string
goes through `safe_text.one_line`. A refresh keeps the highlighted conversation where it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from rich.cells import cell_len
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from agentdesk.tui.format import duration, sla_level
from agentdesk.tui.safe_text import one_line
from agentdesk.tui.services import QueueRow, View

VIEW_TITLES: Final[tuple[tuple[View, str], ...]] = (
    ("mine", "Mine"),
    ("unassigned", "Unassigned"),
    ("escalated", "Escalated"),
    ("ai", "AI sessions"),
    ("all", "All"),
)
MODE_LABELS: Final = {"ai": "AI", "assist": "assist", "human": "human"}
ROW_LIMIT: Final = 60
"""Rows drawn at most: the most urgent head of the view (a dozen screens of rows). Every redraw of an
`OptionList` re-measures all its options, so this bounds the cost of a refresh under a message burst;
the filter searches the whole view, and the view tabs show the full counts."""


class QueueList(Vertical):
    """View tabs, the filter input and the rows (`OptionList`, option id = channel id)."""

    class Selected(Message):
        """The operator opened a conversation (enter or click)."""

        def __init__(self, channel_id: str) -> None:
            super().__init__()
            self.channel_id = channel_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: View = "all"
        self.rows: list[QueueRow] = []
        self.counts: Mapping[View, int] = {}
        self._views_key: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="queue-views", markup=False)
        yield Input(placeholder="Filter…  (/)", id="queue-filter", compact=True)
        yield OptionList(id="queue-rows")

    @property
    def option_list(self) -> OptionList:
        return self.query_one("#queue-rows", OptionList)

    @property
    def filter_text(self) -> str:
        return self.query_one("#queue-filter", Input).value

    @property
    def highlighted(self) -> str | None:
        ol = self.option_list
        if ol.highlighted is None or ol.highlighted >= ol.option_count:
            return None
        return ol.get_option_at_index(ol.highlighted).id

    def show(self, view: View, counts: Mapping[View, int], rows: Sequence[QueueRow], now: float) -> None:
        """Show `rows`; only what changed is redrawn (same order: changed prompts; else a rebuild)."""
        del now  # rows carry their waiting time already
        old = self.rows[:ROW_LIMIT]
        self.view = view
        self.counts = counts
        self.rows = list(rows)
        self._render_views()
        new = self.rows[:ROW_LIMIT]
        ol = self.option_list
        colours = self.app.theme_variables
        if [r.channel_id for r in old] == [r.channel_id for r in new] and ol.option_count == len(new):
            for index, (before, after) in enumerate(zip(old, new, strict=True)):
                if _shown(before) != _shown(after):
                    ol.replace_option_prompt_at_index(index, row_content(after, colours))
            return
        keep = self.highlighted
        with self.app.batch_update():
            _set_options(ol, [Option(row_content(r, colours), id=r.channel_id) for r in new])
            if new:
                ids = [r.channel_id for r in new]
                ol.highlighted = ids.index(keep) if keep in ids else 0

    def _render_views(self) -> None:
        # `Static.update` lays out the whole screen again: only when the tabs' text changed
        key = (self.view, *(self.counts.get(view, 0) for view, _ in VIEW_TITLES))
        if key == self._views_key:
            return
        self._views_key = key
        parts: list[Content] = []
        for index, (view, title) in enumerate(VIEW_TITLES, 1):
            label = f"{index} {title} {self.counts.get(view, 0)}  "
            parts.append(Content.assemble((label, "reverse bold" if view == self.view else "")))
        self.query_one("#queue-views", Static).update(Content.assemble(*parts))

    def move(self, step: int) -> None:
        ol = self.option_list
        if not ol.option_count:
            return
        current = ol.highlighted if ol.highlighted is not None else -1
        ol.highlighted = max(0, min(ol.option_count - 1, current + step))

    def select_channel(self, channel_id: str) -> bool:
        ol = self.option_list
        for index in range(ol.option_count):
            if ol.get_option_at_index(index).id == channel_id:
                ol.highlighted = index
                return True
        return False

    @on(OptionList.OptionSelected, "#queue-rows")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Selected(event.option.id))


def _set_options(ol: OptionList, options: list[Option]) -> None:
    """`clear_options()` + `add_options(options)` without the empty list in between: that one sets the
    virtual size to zero and back, and each change lays out the whole screen again (~10 ms per frame
    under a message burst). The list is measured once, and laid out only if its height changed."""
    ol._options[:] = options
    ol._id_to_option.clear()
    ol._option_to_index.clear()
    for index, option in enumerate(options):
        ol._option_to_index[option] = index
        if option.id is not None:
            ol._id_to_option[option.id] = option
    ol._clear_caches()
    ol.highlighted = None
    ol.scroll_y = 0
    if ol.styles.auto_dimensions:
        ol.refresh(layout=True)
    ol._update_lines()


def row_content(row: QueueRow, colours: Mapping[str, str]) -> Content:
    """One queue row; untrusted name and preview are literal, one line each."""
    sla = colours.get(f"sla-{sla_level(row.waiting)}", "")
    urgency_style = colours.get(f"urgency-{row.urgency}", "") if row.urgency in ("urgent", "high") else ""
    mode_style = colours.get(f"mode-{row.mode}", "")
    unread = f"({row.unread})" if row.unread else ""
    name = one_line(row.customer_name or row.customer_uid, 18)
    flags = "!" if row.escalated else " "
    return Content.assemble(
        (f"{flags}{unread:>4} ", f"bold {colours.get('unread-badge', '')}".strip()),
        (_pad(name, 18), "bold"),
        (f"{duration(row.waiting):>5}", f"bold {sla}".strip()),
        "\n      ",
        (f"{MODE_LABELS.get(row.mode, row.mode):<6} ", mode_style),
        (_pad(one_line(row.assignee or "-", 10), 10), ""),
        (f"{row.urgency:<6} ", f"bold {urgency_style}".strip()),
        "\n      ",
        (one_line(row.preview, 34) or " ", "dim"),
    )


def _pad(text: str, width: int) -> str:
    return text + " " * max(1, width - cell_len(text) + 1)


def _shown(row: QueueRow) -> tuple[object, ...]:
    """What a row displays: a waiting time that only moved within the same minute redraws nothing."""
    return (
        row.unread,
        row.customer_name,
        row.customer_uid,
        duration(row.waiting),
        sla_level(row.waiting),
        row.mode,
        row.assignee,
        row.urgency,
        row.escalated,
        row.preview,
    )
