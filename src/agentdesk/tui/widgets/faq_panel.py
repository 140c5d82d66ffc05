"""FAQ search as you type: the query input and the results with highlighted snippets.

The search itself is the screen's debounced, exclusive worker (the service searches the local cache,
so it works while disconnected); this widget only shows results. FAQ text is untrusted.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from agentdesk.tui.safe_text import highlight, one_line, safe_content
from agentdesk.tui.services import FaqItem


class FaqPanel(Vertical):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.results: list[FaqItem] = []
        self.query_text = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Search the FAQ…  (f)", id="faq-query", compact=True)
        yield Static(id="faq-info", markup=False)
        yield OptionList(id="faq-results")

    def on_mount(self) -> None:
        self.border_title = "FAQ"

    @property
    def selected(self) -> FaqItem | None:
        ol = self.query_one("#faq-results", OptionList)
        if ol.highlighted is None or not self.results or ol.highlighted >= len(self.results):
            return self.results[0] if self.results else None
        return self.results[ol.highlighted]

    def show(self, query: str, results: Sequence[FaqItem]) -> None:
        self.query_text = query
        self.results = list(results)
        ol = self.query_one("#faq-results", OptionList)
        ol.clear_options()
        ol.add_options(
            Option(
                Content.assemble(
                    Content.assemble((f"{item.id} ", "dim")),
                    safe_content(one_line(item.question, 70), "bold"),
                    "\n",
                    highlight(item.snippet, item.matches),
                ),
                id=item.id,
            )
            for item in self.results
        )
        if self.results:
            ol.highlighted = 0
        info = "" if not query.strip() else f"{len(self.results)} result(s) · ^g inserts the answer"
        if query.strip() and not self.results:
            info = "No FAQ entry covers this."
        self.query_one("#faq-info", Static).update(Content.assemble((info, "dim")))
