"""Pilot helpers: build the console app over a service, wait on conditions (never fixed sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerError, WorkerFailed

from agentdesk.tui.app import AgentDeskApp, make_app
from agentdesk.tui.services import ConsoleService
from agentdesk.tui.themes import load_themes
from agentdesk.tui.workers import GROUP_CONNECTION

SIZE = (160, 45)
WAIT = 20.0


def console_app(services: ConsoleService, **kwargs: Any) -> AgentDeskApp:
    themes, _ = load_themes(user_dir=_nowhere())
    return make_app(services, themes=themes, animations=False, **kwargs)


def _nowhere() -> Any:
    from pathlib import Path

    return Path("/nonexistent-agentdesk-user-themes")


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for every worker but the long-lived connection worker, then for the screen to catch up."""
    for worker in list(pilot.app.workers):
        if worker.group == GROUP_CONNECTION or worker.is_finished:
            continue
        with contextlib.suppress(WorkerCancelled, WorkerFailed, WorkerError):
            await worker.wait()
    await pilot.pause()


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], within: float = WAIT) -> None:
    """Wait until `predicate()` holds, letting the app run (a safety timeout, not a timed assertion)."""
    async with asyncio.timeout(within):
        while not predicate():
            await settle(pilot)
            await asyncio.sleep(0.02)
