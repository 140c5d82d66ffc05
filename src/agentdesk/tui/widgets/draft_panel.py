"""The AI draft: a "drafting" state, then the streamed text, confidence, route and reason, and the cited
FAQ entries (expandable). The draft text and the FAQ text are untrusted: shown through `safe_text`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Collapsible, Static

from agentdesk.tui.safe_text import safe_content
from agentdesk.tui.services import DraftInfo

KEYS_HINT = "^o approve · e edit · F/M/S redraft friendlier/formal/shorter · d discard"


def _styled(text: str, style: str) -> Content:
    return Content.assemble((text, style))


class DraftPanel(Vertical):
    """States: idle (nothing), drafting (streaming text), ready (`draft` set), failed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.draft: DraftInfo | None = None
        self.streamed = ""
        self.state = "idle"

    def compose(self) -> ComposeResult:
        yield Static(id="draft-meta", markup=False)
        with VerticalScroll(id="draft-scroll"):
            yield Static(id="draft-text", markup=False)
        yield Collapsible(title="Cited FAQ (0)", id="draft-citations", collapsed=True)
        yield Static(_styled(KEYS_HINT, "dim"), id="draft-keys", markup=False)

    def on_mount(self) -> None:
        self.border_title = "AI draft"
        self.idle()

    def _meta(self, content: Content) -> None:
        self.query_one("#draft-meta", Static).update(content)

    def _text(self, content: Content) -> None:
        self.query_one("#draft-text", Static).update(content)

    def _citations(self, draft: DraftInfo | None) -> None:
        box = self.query_one("#draft-citations", Collapsible)
        box.title = f"Cited FAQ ({len(draft.citations) if draft else 0})"
        contents = box.query_one(Collapsible.Contents)
        contents.remove_children()
        if draft is not None and draft.citations:
            contents.mount_all(
                Static(
                    Content.assemble(
                        _styled(f"{c.id}  ", "bold"),
                        safe_content(c.question, "bold"),
                        "\n",
                        safe_content(c.answer),
                    ),
                    classes="citation",
                    markup=False,
                )
                for c in draft.citations
            )

    def idle(self, text: str = "No draft.") -> None:
        self.draft = None
        self.streamed = ""
        self.state = "idle"
        self._meta(_styled(text, "dim"))
        self._text(Content(""))
        self._citations(None)

    def drafting(self, tone: str | None = None) -> None:
        self.draft = None
        self.streamed = ""
        self.state = "drafting"
        self._meta(_styled("Drafting…" + (f" ({tone})" if tone else ""), "italic"))
        self._text(Content(""))
        self._citations(None)

    def stream(self, text: str) -> None:
        """Show the text streamed so far (the caller coalesces chunks)."""
        self.streamed = text
        self._text(safe_content(text))

    def ready(self, draft: DraftInfo) -> None:
        self.draft = draft
        self.state = "ready"
        level = "high" if draft.confidence >= 0.75 else "medium" if draft.confidence >= 0.45 else "low"
        colour = self.app.theme_variables.get(f"draft-confidence-{level}", "")
        self._meta(
            Content.assemble(
                _styled(f"confidence {draft.confidence:.0%}", f"bold {colour}".strip()),
                _styled(f" · route {draft.route}", "bold"),
                _styled(f" · {draft.source}" + (f" · {draft.tone}" if draft.tone else ""), "dim"),
                "\n",
                _styled("reason: ", "dim"),
                safe_content(draft.reason),
            )
        )
        self._text(safe_content(draft.text))
        self._citations(draft)

    def failed(self, error: str) -> None:
        self.draft = None
        self.state = "failed"
        self._meta(Content.assemble(_styled("Draft failed: ", "bold"), safe_content(error)))
