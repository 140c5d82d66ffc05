"""The status bar: connection (online / reconnecting in N s / offline / authentication failed, with the
hint to run `agentdesk login`), outbox size, sync state, user and role. Never a modal: offline, the
composer keeps working."""

from __future__ import annotations

from collections.abc import Mapping

from textual.content import Content
from textual.widgets import Static

from agentdesk.tui.safe_text import one_line
from agentdesk.tui.services import StatusInfo

_STATE_TEXT = {
    "connecting": "connecting…",
    "online": "online",
    "offline": "offline",
    "auth_failed": "authentication failed",
    "kicked": "signed out by the server",
}


AUTH_HINT = "run `agentdesk login` (or set AGENTDESK_TOKEN)"
"""Shown next to "authentication failed": the server refused the IM token."""


def connection_text(info: StatusInfo, remaining: float | None = None) -> str:
    """`remaining`: seconds left before the next attempt, when the caller counts down `retry_in`."""
    conn = info.connection
    if conn.state == "reconnecting":
        left = remaining if remaining is not None else conn.retry_in
        return f"reconnecting in {max(0.0, left):.0f} s" if left is not None else "reconnecting…"
    return _STATE_TEXT.get(conn.state, conn.state)


class StatusBar(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.info = StatusInfo()

    def show(self, info: StatusInfo, remaining: float | None = None) -> None:
        self.info = info
        self.update(status_content(info, self.app.theme_variables, remaining))


def status_content(info: StatusInfo, colours: Mapping[str, str], remaining: float | None = None) -> Content:
    state = info.connection.state
    level = "ok" if state == "online" else "warn" if state in ("connecting", "reconnecting") else "breach"
    colour = colours.get(f"sla-{level}", "")
    parts: list[str | tuple[str, str]] = [
        (f" ● {connection_text(info, remaining)} ", f"bold {colour}".strip()),
        f"│ outbox {info.outbox} ",
    ]
    if info.sync:
        parts.append(f"│ {one_line(info.sync, 40)} ")
    parts.append(f"│ {'desk' if info.desk else 'no desk bot: subscriptions'} ")
    parts.append((f"│ {one_line(info.user, 24)} ({info.role}) ", "bold"))
    if state == "auth_failed":  # the one state a retry will not fix: say what will
        parts.append((f"│ {AUTH_HINT} ", f"bold {colour}".strip()))
    if state in ("auth_failed", "kicked", "reconnecting") and info.connection.error:
        parts.append((f"│ {one_line(info.connection.error, 60)}", "dim"))
    return Content.assemble(*parts)
