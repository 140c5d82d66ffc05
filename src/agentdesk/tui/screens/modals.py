"""Small forms for desk actions: escalate (reason, urgency, note), transfer, private note, labels.

Each returns its values on enter (or the OK button) and None on escape. Titles are our own text; what
the operator types is sent as data and never rendered as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

URGENCY_CHOICES = (("urgent", "urgent"), ("high", "high"), ("normal", "normal"), ("low", "low"))


@dataclass(frozen=True, slots=True)
class EscalateForm:
    reason: str
    urgency: str
    note: str


@dataclass(frozen=True, slots=True)
class LabelForm:
    add: tuple[str, ...]
    remove: tuple[str, ...]


T = TypeVar("T")


class _FormModal(ModalScreen[T | None], Generic[T]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    TITLE_TEXT = ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Label(self.TITLE_TEXT, classes="form-title", markup=False)
            yield from self.fields()
            with Horizontal(classes="form-buttons"):
                yield Button("OK", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def fields(self) -> ComposeResult:
        yield from ()

    def result(self) -> T | None:
        raise NotImplementedError

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted)
    def _ok(self) -> None:
        value = self.result()
        if value is not None:
            self.dismiss(value)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class EscalateModal(_FormModal[EscalateForm]):
    TITLE_TEXT = "Escalate: reason, urgency and a note for the supervisor"

    def fields(self) -> ComposeResult:
        yield Input(placeholder="Reason (required)", id="reason")
        yield Select(URGENCY_CHOICES, value="high", allow_blank=False, id="urgency")
        yield Input(placeholder="Note (optional)", id="note")

    def result(self) -> EscalateForm | None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#reason", Input).focus()
            return None
        urgency = self.query_one("#urgency", Select).value
        note = self.query_one("#note", Input).value.strip()
        return EscalateForm(reason, str(urgency), note)


class TextModal(_FormModal[str]):
    """One required line of text (transfer target, private note)."""

    def __init__(self, title: str, placeholder: str) -> None:
        super().__init__()
        self.TITLE_TEXT = title
        self._placeholder = placeholder

    def fields(self) -> ComposeResult:
        yield Input(placeholder=self._placeholder, id="text")

    def result(self) -> str | None:
        value = self.query_one("#text", Input).value.strip()
        return value or None


class LabelModal(_FormModal[LabelForm]):
    TITLE_TEXT = "Labels: words to add, -word to remove (e.g. vip -spam)"

    def fields(self) -> ComposeResult:
        yield Input(placeholder="vip refund -spam", id="labels")

    def result(self) -> LabelForm | None:
        words = self.query_one("#labels", Input).value.split()
        add = tuple(w for w in words if not w.startswith("-"))
        remove = tuple(w[1:] for w in words if w.startswith("-") and len(w) > 1)
        return LabelForm(add, remove) if add or remove else None
