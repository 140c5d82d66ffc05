"""A conversation's transcript: customer, agent, bot and desk events, all shown literally.

Each item is one `Static` whose content is built with `safe_text` (markup inert, controls visible).
Long lines wrap (a 5,000-character word is folded at the widget's width). Images are one line with
their size and link (the link is text, never a clickable hyperlink); unknown payload types are a
placeholder naming the type. A reply of mine shows its outbox status: pending, sent, retrying, failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from agentdesk.tui.format import clock_time
from agentdesk.tui.safe_text import safe_content
from agentdesk.tui.services import TranscriptItem

STATUS_LABELS: Final = {
    "pending": "⧗ pending",
    "sent": "✓ sent",
    "retrying": "↻ retrying",
    "failed": "✗ failed",
}
ROLE_LABELS: Final = {"customer": "customer", "staff": "agent", "me": "me", "bot": "bot", "desk": "desk"}


class Transcript(VerticalScroll):
    """Holds the items of the open conversation; `show()` replaces them."""

    can_focus = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: list[TranscriptItem] = []

    def show(self, items: Sequence[TranscriptItem], customer_name: str = "") -> None:
        self.items = list(items)
        colours = self.app.theme_variables
        widgets = [
            Static(item_content(item, customer_name, colours), classes=f"msg msg-{item.role}", markup=False)
            for item in self.items
        ]
        with self.app.batch_update():
            self.remove_children()
            if widgets:
                self.mount_all(widgets)
            else:
                self.mount(Static(Content("No messages yet."), classes="msg msg-empty"))
        self.call_after_refresh(self.scroll_end, animate=False)

    def clear(self, text: str = "Select a conversation (enter) — u jumps to the most urgent.") -> None:
        self.items = []
        self.remove_children()
        self.mount(Static(Content(text), classes="msg msg-empty"))

    @property
    def plain_text(self) -> str:
        """Everything shown, as plain text (for tests and copy)."""
        return "\n".join(str(w.render()) for w in self.query(Static))


def _styled(text: str, style: str) -> Content:
    """Our own fixed text with a style (never untrusted text: that goes through safe_content)."""
    return Content.assemble((text, style))


def item_content(item: TranscriptItem, customer_name: str, colours: Mapping[str, str]) -> Content:
    who = item.sender
    if item.role == "customer":
        who = customer_name or item.sender
    header = [
        safe_content(who, "bold"),
        _styled(f"  {ROLE_LABELS.get(item.role, item.role)} · {clock_time(item.at)}", "dim"),
    ]
    if item.status:
        colour = colours.get("sla-breach" if item.status == "failed" else "sla-ok", "")
        header.append(_styled(f"  {STATUS_LABELS.get(item.status, item.status)}", f"bold {colour}".strip()))
    if item.kind == "event":
        return Content.assemble(
            _styled("• ", "dim"),
            safe_content(item.text, "italic"),
            _styled(f"  {clock_time(item.at)}", "dim"),
        )
    body: Content
    if item.kind == "image":
        size = f" ({item.size})" if item.size else ""
        body = Content.assemble(
            Content(f"🖼 image{size}: "),
            safe_content(item.url or "(no link)", "underline"),
            *([Content(" — "), safe_content(item.text)] if item.text else []),
        )
    elif item.kind == "unknown":
        body = Content.assemble(
            _styled("⟨unsupported message: ", "dim italic"),
            safe_content(item.type_name or "unknown", "dim italic"),
            _styled("⟩", "dim italic"),
            *([Content(" "), safe_content(item.text)] if item.text else []),
        )
    else:
        body = safe_content(item.text)
    return Content.assemble(*header, "\n", body)
