"""`AgentDeskApp`: themes, commands (bindings, palette, help), the connection worker and error routing.

Build it with `make_app(...)`: it applies the keymap to the App's and the main screen's bindings before
the app exists (`with_bindings`, no keymap set before mount: Textual #5742), registers the themes and
picks the saved or configured one. The app does no I/O: everything goes through the `ConsoleService`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from agentdesk.tui.command_set import DESK, default_registry
from agentdesk.tui.commands import APP, CommandRegistry, KeymapLike, registry_provider, with_bindings
from agentdesk.tui.help_screen import HelpScreen
from agentdesk.tui.messages import ServiceEventPosted
from agentdesk.tui.safe_text import safe_notify
from agentdesk.tui.screens.main import MainScreen
from agentdesk.tui.services import (
    ConnectionChanged,
    ConsoleService,
    Notice,
    OutboxChanged,
    QueueChanged,
    ReplyStatusChanged,
    RequestRejected,
    SyncChanged,
    TranscriptChanged,
)
from agentdesk.tui.themes import theme_variable_defaults
from agentdesk.tui.widgets.dashboard import DashboardScreen
from agentdesk.tui.workers import GROUP_CONNECTION, GROUP_PREFS

DEFAULT_THEME = "agentdesk-dark"
GC_THRESHOLDS = (10_000, 10, 1_000)
"""With `tune_gc`: fewer, cheaper collections. A full collection over a heap of 10k conversations and
Textual's caches took 100–160 ms, the whole p99 of socket-to-screen latency (benchmarks/bench_console.py).
Generation 1 every 10 young collections (not 50): its pauses stay small; the worst socket-to-screen latency
fell from 82–155 ms to 45–57 ms over 5 alternating runs each, p99 unchanged (39–47 ms)."""
THEME_PREFERENCE = "theme"


class AgentDeskApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "agentdesk"
    registry: ClassVar[CommandRegistry] = default_registry()
    keymap: ClassVar[KeymapLike | None] = None
    screen_class: ClassVar[type[MainScreen]] = MainScreen

    def __init__(
        self,
        services: ConsoleService,
        *,
        themes: Mapping[str, Theme] | None = None,
        theme: str | None = None,
        warnings: Iterable[str] = (),
        animations: bool = True,
        tune_gc: bool = False,
    ) -> None:
        self.services = services
        self._tune_gc = tune_gc
        self._agentdesk_themes = dict(themes or {})
        self._startup_warnings = list(warnings)
        super().__init__()
        if not animations:
            self.animation_level = "none"
        for item in self._agentdesk_themes.values():
            self.register_theme(item)
        wanted = theme or services.preference(THEME_PREFERENCE) or DEFAULT_THEME
        self._theme_ready = False
        if wanted in self.available_themes:
            self.theme = wanted
        elif DEFAULT_THEME in self.available_themes:
            self._startup_warnings.append(f"unknown theme {wanted!r}; using {DEFAULT_THEME}")
            self.theme = DEFAULT_THEME
        self._theme_ready = True

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return theme_variable_defaults(self.current_theme)

    @property
    def main(self) -> MainScreen:
        return self._main

    def on_mount(self) -> None:
        if self._tune_gc:
            gc.set_threshold(*GC_THRESHOLDS)
        self._main = self.screen_class(self.services)
        self.push_screen(self._main)
        for warning in self._startup_warnings:
            safe_notify(self, warning, severity="warning", timeout=8)
        self.connect()

    # --- the connection worker ----------------------------------------------------------------------

    @work(group=GROUP_CONNECTION, exit_on_error=False, description="console service events")
    async def connect(self) -> None:
        async for event in self.services.events():
            self.post_message(ServiceEventPosted(event))

    @on(ServiceEventPosted)
    def _service_event(self, message: ServiceEventPosted) -> None:
        event = message.event
        main = self._main
        if not main.is_mounted:
            return
        if isinstance(event, QueueChanged):
            main.on_queue_changed()
        elif isinstance(event, TranscriptChanged):
            main.on_transcript_changed(event.channel_id, event.customer_message)
        elif isinstance(event, ConnectionChanged | OutboxChanged | SyncChanged):
            main.refresh_status()
            if isinstance(event, SyncChanged) and event.state == "synced" and self._tune_gc:
                freeze_heap()
        elif isinstance(event, ReplyStatusChanged):
            if event.status == "failed":
                safe_notify(self, event.reason or "a reply failed", title="Reply not sent", severity="error")
            main.refresh_status()
        elif isinstance(event, RequestRejected):
            main.on_rejected(event.channel_id, event.action, event.why)
        elif isinstance(event, Notice):
            safe_notify(self, event.text, severity=event.severity)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """Expected I/O failures in workers (exit_on_error=False) end up here: one clear message."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            safe_notify(self, f"{event.worker.name}: {error}", title="Something failed", severity="error")

    # --- app-wide commands -----------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.registry, self.keymap))

    def action_toggle_dashboard(self) -> None:
        if isinstance(self.screen, DashboardScreen):
            self.screen.dismiss()
        else:
            self.push_screen(DashboardScreen(self.services.dashboard()))

    def action_cycle_theme(self) -> None:
        names = sorted(self._agentdesk_themes) or [DEFAULT_THEME]
        index = names.index(self.theme) + 1 if self.theme in names else 0
        self.theme = names[index % len(names)]

    def watch_theme(self, theme: str) -> None:
        if getattr(self, "_theme_ready", False):
            self.save_theme(theme)

    @work(group=GROUP_PREFS, exit_on_error=False)
    async def save_theme(self, theme: str) -> None:
        await self.services.save_preference(THEME_PREFERENCE, theme)

    async def on_unmount(self) -> None:
        await self.services.close()


def freeze_heap() -> None:
    """Move everything alive after start-up and catch-up (desk state, caches, widgets) out of the
    collector's reach: later full collections only scan what was allocated since."""
    gc.collect()
    gc.freeze()


def make_app(
    services: ConsoleService,
    *,
    keymap: KeymapLike | None = None,
    themes: Mapping[str, Theme] | None = None,
    theme: str | None = None,
    warnings: Iterable[str] = (),
    animations: bool = True,
    tune_gc: bool = False,
) -> AgentDeskApp:
    """The console app with the keymap applied to every binding, the palette and the help screen."""
    registry = default_registry()
    screen_class = with_bindings(MainScreen, registry.bindings_for(DESK, keymap))
    app_class = with_bindings(AgentDeskApp, registry.bindings_for(APP, keymap))
    app_class.keymap = keymap
    app_class.screen_class = screen_class
    app_class.COMMANDS = AgentDeskApp.COMMANDS | {registry_provider(registry, keymap)}
    return app_class(
        services, themes=themes, theme=theme, warnings=warnings, animations=animations, tune_gc=tune_gc
    )


def default_css_path() -> Path:
    return Path(__file__).parent / "app.tcss"
