"""The desk actions of the main screen: claim, release, transfer, escalate, take over, hand back, note,
labels, resolve, reopen. Each is a request to the desk bot sent by a worker in the `outbox` group (never
cancelled); the bot's answer comes back as desk facts, a refusal as `RequestRejected`."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.screen import Screen

from agentdesk.tui.screens.modals import EscalateForm, EscalateModal, LabelForm, LabelModal, TextModal
from agentdesk.tui.services import ConsoleService, DeskAction
from agentdesk.tui.workers import GROUP_SEND


class DeskActions(Screen[None]):
    """Mixed into `MainScreen`, which sets `services` and `current`."""

    services: ConsoleService
    current: str | None

    @work(group=GROUP_SEND, exit_on_error=False)
    async def desk_request(self, action: DeskAction, fields: dict[str, Any]) -> None:
        if self.current is not None:
            await self.services.request(self.current, action, **fields)

    def action_claim(self) -> None:
        self.desk_request("claim", {})

    def action_release(self) -> None:
        self.desk_request("release", {})

    def action_take_over(self) -> None:
        self.desk_request("take_over", {})

    def action_hand_back(self) -> None:
        self.desk_request("hand_back", {})

    def action_resolve(self) -> None:
        self.desk_request("resolve", {})

    def action_reopen(self) -> None:
        self.desk_request("reopen", {})

    def action_transfer(self) -> None:
        def done(to: str | None) -> None:
            if to:
                self.desk_request("transfer", {"to": to})

        self.app.push_screen(TextModal("Transfer to (operator uid)", "bob"), done)

    def action_escalate(self) -> None:
        def done(form: EscalateForm | None) -> None:
            if form is not None:
                self.desk_request(
                    "escalate", {"reason": form.reason, "urgency": form.urgency, "note": form.note}
                )

        self.app.push_screen(EscalateModal(), done)

    def action_add_note(self) -> None:
        def done(text: str | None) -> None:
            if text:
                self.desk_request("note", {"text": text})

        self.app.push_screen(TextModal("Private note (never sent to the customer)", "note"), done)

    def action_add_label(self) -> None:
        def done(form: LabelForm | None) -> None:
            if form is not None:
                self.desk_request("label", {"add": form.add, "remove": form.remove})

        self.app.push_screen(LabelModal(), done)
