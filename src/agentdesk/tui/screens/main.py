"""The main console screen: queue | conversation + composer | draft + FAQ; the handlers of every `desk`
command live here, next to the state they change. I/O happens only in workers calling the service."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, ClassVar, Final

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Footer, Input, OptionList, Static, TextArea

from agentdesk.tui.command_set import DESK
from agentdesk.tui.safe_text import one_line, safe_content, safe_notify
from agentdesk.tui.screens.desk_actions import DeskActions
from agentdesk.tui.services import (
    ConnectionInfo,
    ConsoleService,
    ConversationDetail,
    DraftDone,
    DraftFailed,
    DraftInfo,
    Fate,
    Tone,
    View,
)
from agentdesk.tui.widgets.draft_panel import DraftPanel
from agentdesk.tui.widgets.faq_panel import FaqPanel
from agentdesk.tui.widgets.queue_list import ROW_LIMIT, QueueList
from agentdesk.tui.widgets.status_bar import StatusBar
from agentdesk.tui.widgets.transcript import Transcript
from agentdesk.tui.workers import (
    DRAFT_REFRESH,
    FAQ_DEBOUNCE,
    GROUP_DRAFT,
    GROUP_FAQ,
    GROUP_SEND,
    GROUP_TRANSCRIPT,
)

if TYPE_CHECKING:
    from agentdesk.tui.app import AgentDeskApp

NEEDS_CONVERSATION: Final = frozenset(
    {
        "focus_composer", "send_reply", "faq_search", "insert_faq_answer",
        "claim", "release", "transfer", "escalate", "take_over", "hand_back", "add_note", "add_label",
        "resolve", "reopen", "regenerate_friendlier", "regenerate_formal", "regenerate_shorter",
    }
)  # fmt: skip
NEEDS_DRAFT: Final = frozenset({"approve_draft", "edit_draft", "discard_draft"})
NEEDS_DESK: Final = frozenset(
    {
        "claim",
        "release",
        "transfer",
        "escalate",
        "take_over",
        "hand_back",
        "add_note",
        "add_label",
        "resolve",
        "reopen",
    }
)
SUPERVISOR: Final = frozenset({"take_over", "hand_back"})
QUEUE_TICKS: Final = 5
"""Seconds between redraws of the queue's waiting times when nothing else changed."""
TONES: Final[dict[str, Tone]] = {
    "regenerate_friendlier": "friendlier",
    "regenerate_formal": "formal",
    "regenerate_shorter": "shorter",
}


class MainScreen(DeskActions):
    COMMAND_SCOPE: ClassVar[str] = DESK
    AUTO_FOCUS = "#queue-rows"

    def __init__(self, services: ConsoleService) -> None:
        super().__init__()
        self.services = services
        self.view: View = "all"
        self.current: str | None = None
        self.detail: ConversationDetail | None = None
        #: the draft copied into the composer (its fate is decided when the composer is sent)
        self.editing: DraftInfo | None = None
        self.rejections: list[str] = []
        self._retry_seen: ConnectionInfo | None = None
        self._retry_deadline = 0.0
        self._ticks = 0
        #: client_msg_nos of my replies in the open conversation that the server refused (oldest first)
        self.failed_replies: tuple[str, ...] = ()
        self._bindings_key: tuple[bool, bool, bool, bool] | None = None
        self._status_key: tuple[object, ...] | None = None

    @property
    def desk_app(self) -> AgentDeskApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield QueueList(id="queue")
            with Vertical(id="conversation"):
                yield Static(id="conv-header", markup=False)
                yield Transcript(id="transcript")
                yield TextArea(id="composer", soft_wrap=True, show_line_numbers=False)
            with Vertical(id="side"):
                yield DraftPanel(id="draft")
                yield FaqPanel(id="faq")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        if self.app.animation_level == "none":  # tests and snapshots: nothing blinks
            for widget in self.query(Input):
                widget.cursor_blink = False
            self.query_one("#composer", TextArea).cursor_blink = False
        self.query_one("#composer", TextArea).border_title = "Reply (^s send)"
        self.query_one(Transcript).clear()
        self.refresh_queue()
        self.refresh_status()
        self.set_interval(1.0, self._tick)

    # --- availability ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retry_reply":  # hidden (footer and palette) unless a reply of this conversation failed
            return self.current is not None and bool(self.failed_replies)
        if action in NEEDS_CONVERSATION and self.current is None:
            return None
        if action == "open_conversation" and self.query_one(QueueList).highlighted is None:
            return None
        if action in NEEDS_DRAFT and self.query_one(DraftPanel).draft is None:
            return None
        if action in NEEDS_DESK and not self.services.status().desk:
            return None
        if action in SUPERVISOR and self.services.role == "agent":
            return None
        return True

    # --- refreshing from the service ---------------------------------------------------------------

    def refresh_queue(self) -> None:
        queue = self.query_one(QueueList)
        rows = self.services.queue(self.view, queue.filter_text, limit=ROW_LIMIT)
        queue.show(self.view, self.services.counts(), rows, self.services.now())

    def refresh_status(self) -> None:
        status = self.services.status()
        conn = status.connection
        if conn.state == "reconnecting" and conn.retry_in is not None:
            if conn != self._retry_seen:  # a new attempt: count down from its retry_in
                self._retry_seen = conn
                self._retry_deadline = self.services.now() + conn.retry_in
            remaining: float | None = self._retry_deadline - self.services.now()
        else:
            self._retry_seen = None
            remaining = None
        # query, not query_one: an event can still arrive while the screen is being torn down.
        # `Static.update` lays out the whole screen again: only when what the bar shows changed.
        bars = list(self.query(StatusBar))
        key = (status, remaining, self.app.theme, *map(id, bars))
        if key != self._status_key:
            self._status_key = key
            for bar in bars:
                bar.show(status, remaining)
        self.refresh_availability()

    def refresh_availability(self) -> None:
        """`refresh_bindings()`, only when what `check_action` looks at changed: a footer refresh
        recomposes the footer, which must not happen for every message of a burst."""
        key = (
            self.current is None,
            self.query_one(DraftPanel).draft is None,
            self.services.status().desk,
            bool(self.failed_replies),
        )
        if key != self._bindings_key:
            self._bindings_key = key
            self.refresh_bindings()

    def _tick(self) -> None:
        """Once a second: the reconnect countdown; every few seconds: waiting times and SLA colours."""
        self._ticks += 1
        if self._retry_seen is not None:
            self.refresh_status()
        if self._ticks % QUEUE_TICKS == 0:
            self.refresh_queue()

    def refresh_header(self) -> None:
        header = self.query_one("#conv-header", Static)
        d = self.detail
        if self.current is None or d is None:
            header.update(Content.assemble(("No conversation open", "dim")))
            return
        parts: list[Content | str | tuple[str, str]] = [
            safe_content(d.customer_name or d.customer_uid, "bold"),
            "  ",
            safe_content(d.customer_uid, "dim"),
            f"\nmode {d.mode} · {d.status} · urgency {d.urgency}",
            " · assignee ",
            safe_content(d.assignee or "nobody"),
        ]
        if d.escalated:
            parts.append(("  ESCALATED", "bold reverse"))
        if d.labels:
            parts += [" · labels ", safe_content(" ".join(d.labels))]
        if d.reasons:
            parts += ["\nreason: ", safe_content(one_line(d.reasons[-1], 100))]
        if self.rejections:
            parts += [("\nrefused: ", "bold"), safe_content(one_line(self.rejections[-1], 120))]
        header.update(Content.assemble(*parts))

    def on_queue_changed(self) -> None:
        self.refresh_queue()
        if self.current is not None:
            self.detail = self.services.detail(self.current)
            self.refresh_header()
        self.refresh_status()

    def on_transcript_changed(self, channel_id: str, customer_message: bool) -> None:
        if channel_id != self.current:
            return
        self.load_transcript(channel_id)
        mode = self.detail.mode if self.detail else "assist"
        if customer_message and mode == "assist":
            self.start_draft(channel_id, None)

    def on_rejected(self, channel_id: str, action: str, why: str) -> None:
        text = f"{action.replace('_', ' ')} refused: {why}"
        safe_notify(self.app, text, title="The desk refused", severity="error")
        if channel_id == self.current:
            self.rejections.append(text)
            self.refresh_header()

    # --- opening a conversation -------------------------------------------------------------------

    @on(QueueList.Selected)
    def _queue_selected(self, event: QueueList.Selected) -> None:
        self.open_conversation(event.channel_id)

    def open_conversation(self, channel_id: str) -> None:
        if self.current != channel_id:
            self.reject_pending_draft()
            self.rejections = []
        self.current = channel_id
        self.editing = None
        self.failed_replies = ()
        self.services.set_open(channel_id)
        self.services.mark_read(channel_id)
        self.detail = self.services.detail(channel_id)
        self.query_one(QueueList).select_channel(channel_id)
        self.refresh_header()
        self.load_transcript(channel_id, draft=True)
        self.refresh_queue()
        self.refresh_availability()

    @work(exclusive=True, group=GROUP_TRANSCRIPT, exit_on_error=False)
    async def load_transcript(self, channel_id: str, draft: bool = False) -> None:
        items = await self.services.transcript(channel_id)
        if channel_id != self.current:
            return
        name = self.detail.customer_name if self.detail else ""
        self.query_one(Transcript).show(items, name)
        self.failed_replies = tuple(
            item.client_msg_no
            for item in items
            if item.role == "me" and item.status == "failed" and item.client_msg_no
        )
        self.refresh_availability()
        mode = self.detail.mode if self.detail else "assist"
        if draft and mode != "human" and items and items[-1].role == "customer":
            self.start_draft(channel_id, None)
        elif draft:
            self.query_one(DraftPanel).idle("No draft: the customer is not waiting for a reply.")

    # --- drafts -------------------------------------------------------------------------------------

    def start_draft(self, channel_id: str, tone: Tone | None) -> None:
        self.query_one(DraftPanel).drafting(tone)
        self.stream_draft(channel_id, tone)

    @work(exclusive=True, group=GROUP_DRAFT, exit_on_error=False)
    async def stream_draft(self, channel_id: str, tone: Tone | None) -> None:
        panel = self.query_one(DraftPanel)
        text = ""
        last = 0.0
        async for event in self.services.draft(channel_id, tone):
            if channel_id != self.current:
                return
            if isinstance(event, DraftDone):
                panel.ready(event.draft)
                self.refresh_availability()
            elif isinstance(event, DraftFailed):
                panel.failed(event.error)
            else:
                text = event.text if event.reset else text + event.text
                now = time.monotonic()
                if now - last >= DRAFT_REFRESH:
                    panel.stream(text)
                    last = now

    def fate(self, draft: DraftInfo, fate: Fate, final_text: str | None = None) -> None:
        self.record_fate(draft, fate, final_text)

    @work(group=GROUP_SEND, exit_on_error=False)
    async def record_fate(self, draft: DraftInfo, fate: Fate, final_text: str | None) -> None:
        await self.services.record_fate(draft, fate, final_text)

    def reject_pending_draft(self) -> None:
        panel = self.query_one(DraftPanel)
        if panel.draft is not None:
            self.fate(panel.draft, "rejected")
            panel.idle()

    def action_approve_draft(self) -> None:
        panel = self.query_one(DraftPanel)
        if panel.draft is None or self.current is None:
            return
        draft = panel.draft
        self.fate(draft, "approved")
        self.send(self.current, draft.text)
        panel.idle("Draft approved and sent.")
        self.refresh_availability()

    def action_edit_draft(self) -> None:
        panel = self.query_one(DraftPanel)
        if panel.draft is None:
            return
        self.editing = panel.draft
        composer = self.query_one("#composer", TextArea)
        composer.text = panel.draft.text
        self.set_focus(composer)
        composer.move_cursor(composer.document.end)

    def action_discard_draft(self) -> None:
        panel = self.query_one(DraftPanel)
        if panel.draft is not None:
            self.fate(panel.draft, "rejected")
        if self.editing is panel.draft:
            self.editing = None
        panel.idle("Draft discarded.")
        self.refresh_availability()

    def _regenerate(self, tone: Tone) -> None:
        if self.current is None:
            return
        panel = self.query_one(DraftPanel)
        if panel.draft is not None:
            self.fate(panel.draft, "regenerated")
        self.editing = None
        self.start_draft(self.current, tone)

    def action_regenerate_friendlier(self) -> None:
        self._regenerate("friendlier")

    def action_regenerate_formal(self) -> None:
        self._regenerate("formal")

    def action_regenerate_shorter(self) -> None:
        self._regenerate("shorter")

    # --- replies -------------------------------------------------------------------------------------

    def action_send_reply(self) -> None:
        composer = self.query_one("#composer", TextArea)
        text = composer.text.strip()
        if not text or self.current is None:
            return
        if self.editing is not None:
            draft = self.editing
            self.fate(draft, "approved" if text == draft.text.strip() else "edited", text)
            panel = self.query_one(DraftPanel)
            if panel.draft is draft:
                panel.idle("Edited draft sent.")
            self.editing = None
        composer.text = ""
        self.send(self.current, text)

    @work(group=GROUP_SEND, exit_on_error=False)
    async def send(self, channel_id: str, text: str) -> None:
        await self.services.send_reply(channel_id, text)
        if channel_id == self.current:
            self.load_transcript(channel_id)
        self.refresh_status()

    def action_retry_reply(self) -> None:
        if self.current is not None and self.failed_replies:
            self.retry(self.current, self.failed_replies)
            self.failed_replies = ()
            self.refresh_availability()

    @work(group=GROUP_SEND, exit_on_error=False)
    async def retry(self, channel_id: str, client_msg_nos: tuple[str, ...]) -> None:
        """Re-queue refused replies, oldest first, each under its own client_msg_no."""
        for client_msg_no in client_msg_nos:
            await self.services.retry_reply(client_msg_no)
        if channel_id == self.current:
            self.load_transcript(channel_id)
        self.refresh_status()

    # --- queue navigation ------------------------------------------------------------------------------
    # The desk keys are priority bindings (command_set.py), resolved by the app in arrival order, and focus
    # moves with `self.set_focus` (at once), not `widget.focus()` (deferred): so the keys typed right after
    # `r`, `/`, `f` or `e` are dispatched to the composer or the filter, not to the queue.

    def _set_view(self, view: View) -> None:
        self.view = view
        self.refresh_queue()

    def action_view_mine(self) -> None:
        self._set_view("mine")

    def action_view_unassigned(self) -> None:
        self._set_view("unassigned")

    def action_view_escalated(self) -> None:
        self._set_view("escalated")

    def action_view_ai(self) -> None:
        self._set_view("ai")

    def action_view_all(self) -> None:
        self._set_view("all")

    def action_next_conversation(self) -> None:
        self.query_one(QueueList).move(1)

    def action_prev_conversation(self) -> None:
        self.query_one(QueueList).move(-1)

    def action_open_conversation(self) -> None:
        channel = self.query_one(QueueList).highlighted
        if channel is not None:
            self.open_conversation(channel)

    def action_next_urgent(self) -> None:
        row = self.services.next_urgent(exclude=self.current)
        if row is None:
            self.app.notify("Nobody is waiting.", timeout=3)
            return
        if not self.query_one(QueueList).select_channel(row.channel_id):
            self.view = "all"
            self.query_one("#queue-filter", Input).value = ""
            self.refresh_queue()
        self.open_conversation(row.channel_id)

    def action_focus_queue(self) -> None:
        self.set_focus(self.query_one("#queue-rows", OptionList))

    def action_focus_composer(self) -> None:
        self.set_focus(self.query_one("#composer", TextArea))

    def action_filter_queue(self) -> None:
        self.set_focus(self.query_one("#queue-filter", Input))

    @on(Input.Changed, "#queue-filter")
    def _filter_changed(self) -> None:
        self.refresh_queue()

    @on(Input.Submitted, "#queue-filter")
    def _filter_submitted(self) -> None:
        self.action_focus_queue()

    # --- FAQ ------------------------------------------------------------------------------------------

    def action_faq_search(self) -> None:
        self.set_focus(self.query_one("#faq-query", Input))

    @on(Input.Changed, "#faq-query")
    def _faq_changed(self, event: Input.Changed) -> None:
        self.search_faq(event.value)

    @work(exclusive=True, group=GROUP_FAQ, exit_on_error=False)
    async def search_faq(self, query: str) -> None:
        await asyncio.sleep(FAQ_DEBOUNCE)  # debounce: a newer keystroke cancels this worker
        results = await self.services.faq_search(query) if query.strip() else []
        self.query_one(FaqPanel).show(query, results)

    def action_insert_faq_answer(self) -> None:
        item = self.query_one(FaqPanel).selected
        if item is None:
            return
        composer = self.query_one("#composer", TextArea)
        composer.insert(item.answer)
        self.set_focus(composer)

    @on(OptionList.OptionSelected, "#faq-results")
    def _faq_selected(self) -> None:
        self.action_insert_faq_answer()
