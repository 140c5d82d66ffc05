"""The supervisor dashboard: counts per view, autopilot share, median wait, and sparklines of the queue
length and the first-response time over the last hour."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Sparkline, Static

from agentdesk.tui.format import duration
from agentdesk.tui.services import Dashboard
from agentdesk.tui.widgets.queue_list import VIEW_TITLES


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def summary(d: Dashboard) -> Content:
    counts = "   ".join(f"{title}: {d.counts.get(view, 0)}" for view, title in VIEW_TITLES)
    lines: list[str | tuple[str, str]] = [
        (counts + "\n", "bold"),
        f"Resolved: {d.resolved}    Waiting for a person: {d.waiting}    Median wait: {duration(d.median_wait)}\n",
        f"Autopilot share (open): {_pct(d.autopilot_share)}    "
        f"Resolved without a person: {_pct(d.autopilot_resolved_share)}",
    ]
    return Content.assemble(*lines)


class DashboardScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f2,q", "dismiss", "Close", key_display="esc")]

    def __init__(self, data: Dashboard) -> None:
        super().__init__()
        self.data = data

    def compose(self) -> ComposeResult:
        d = self.data
        queue = [float(n) for _, n in d.queue_length]
        responses = [v if v is not None else 0.0 for _, v in d.first_response]
        last_q = d.queue_length[-1][1] if d.queue_length else 0
        known = [v for _, v in d.first_response if v is not None]
        with Vertical(id="dashboard"):
            yield Static(
                Content.assemble(("Supervisor dashboard · last hour · esc closes", "bold")), markup=False
            )
            yield Static(summary(d), id="dashboard-summary", markup=False)
            yield Static(f"Queue length (unassigned), now {last_q}", markup=False)
            yield Sparkline(queue, id="spark-queue")
            latest = duration(known[-1]) if known else "—"
            yield Static(f"First-response time (median per 5 min), latest {latest}", markup=False)
            yield Sparkline(responses, id="spark-response")
