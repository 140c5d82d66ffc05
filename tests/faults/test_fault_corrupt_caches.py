"""Fault (g): the console's local caches are corrupt on disk — the message store, the desk-log cache and the
FAQ cache — after a session against devserver + desk bot (customers asked, the bot answered and posted
facts).

Asserted: the console core (`agentdesk.console.core`) starts anyway, moves each unreadable file aside
(kept, never deleted), says so in a warning notice, and rebuilds from the server: every message the
server has for the supervisor's conversations and the whole desk state come back, nothing twice.
`agentdesk faq sync` rebuilds the FAQ cache from the bot's feed with a clear warning."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from faultkit import (
    BOT,
    DESK,
    FAQ_QUESTIONS,
    MANAGER,
    ROSTER_WATCH,
    WAIT,
    Desk,
    dupes,
    history,
    start_desk,
    visitor,
    wait_for,
)

from agentdesk.console.core import ConsoleConfig, ConsoleCore
from agentdesk.desk.rules import Roster
from agentdesk.faq.store import FaqStore
from agentdesk.tui.services import Notice

CUSTOMERS = 3


def corrupt(path: Path) -> None:
    """Overwrite the SQLite header (and drop the WAL): 'file is not a database'."""
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()
    data = bytearray(path.read_bytes())
    data[:100] = b"\x00garbage, not a database\x00".ljust(100, b"\xff")
    path.write_bytes(bytes(data))


def faq_sync(url: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentdesk.cli", "faq", "sync", url, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


class Running:
    """A console core with its event loop consumed in a task (as the UI does)."""

    def __init__(self, core: ConsoleCore) -> None:
        self.core = core
        self.seen: list[Any] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for ev in self.core.events():
            self.seen.append(ev)

    def notices(self) -> list[str]:
        return [ev.text for ev in self.seen if isinstance(ev, Notice)]

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.core.close()


async def _session(devserver_factory: Any, tmp: Path) -> tuple[Desk, list[str], str]:
    desk = await start_desk(devserver_factory, tmp, roster=Roster.parse(ROSTER_WATCH))
    uids = [visitor("k") for _ in range(CUSTOMERS)]
    for i, v in enumerate(uids):
        await desk.rest.message_send(v, 10, {"type": 1, "content": FAQ_QUESTIONS[i % 3]}, from_uid=v)
    await desk.settled()
    token = secrets.token_hex(8)
    await desk.rest.user_token("sam", token)
    return desk, uids, token


def _core(desk: Desk, token: str, data: Path, faq_db: Path | None = None) -> ConsoleCore:
    return ConsoleCore(
        ConsoleConfig(
            uid="sam",
            token=token,
            api_url=desk.server.api_url,
            ws_url=desk.server.ws_url,
            data_dir=data,
            role="supervisor",
            desk_channel=DESK,
            bot_uid=BOT,
            faq_db=faq_db,
            manager_token=MANAGER,
        )
    )


async def _complete(run: Running, desk: Desk, uids: list[str]) -> bool:
    """The console holds every server message of the conversations and the bot's whole desk state."""
    core = run.core
    if core.reducer is None or set(core.reducer.conversations) != set(uids):
        return False
    for v in uids:
        on_server = {m.client_msg_no for m in await history(desk.rest, BOT, v, 10)}
        local = await core.client.db.call(core.store.history, v, 10, limit=500)
        if {m.client_msg_no for m in local} != on_server:
            return False
    return True


async def test_corrupt_message_and_desk_caches_are_rebuilt_from_the_server(
    devserver_factory: Any, tmp_path: Path
) -> None:
    desk, uids, token = await _session(devserver_factory, tmp_path)
    data = tmp_path / "console-sam"
    run: Running | None = None
    try:
        run = Running(_core(desk, token, data))
        await wait_for(lambda: _complete(run, desk, uids), what="the first console session to catch up")
        await run.close()
        run = None

        files = [data / "messages-sam.sqlite", data / "desk-sam.sqlite"]
        for f in files:
            corrupt(f)
        run = Running(_core(desk, token, data))
        await wait_for(lambda: _complete(run, desk, uids), what="the console to rebuild from the server")

        for f in files:  # moved aside, kept; a fresh file in its place
            assert list(f.parent.glob(f.name + ".corrupt-*")), f"{f.name} was not moved aside"
            assert f.exists()
        notices = run.notices()
        assert any("message cache" in n and "rebuilt" in n for n in notices), notices
        assert any("desk" in n and "rebuilt" in n for n in notices), notices
        state = await desk.state()
        core = run.core
        assert core.reducer is not None
        assert {c: v.mode for c, v in core.reducer.conversations.items()} == {
            c: v.mode for c, v in state.conversations.items()
        }
        for v in uids:
            local = await core.client.db.call(core.store.history, v, 10, limit=500)
            assert dupes(Counter(m.message_id for m in local)) == {}
            assert dupes(Counter(m.client_msg_no for m in local)) == {}
    finally:
        if run is not None:
            await run.close()
        await desk.close()


async def test_corrupt_faq_cache_is_rebuilt_by_sync_from_the_bot(
    devserver_factory: Any, tmp_path: Path
) -> None:
    desk, _, _ = await _session(devserver_factory, tmp_path)
    feed = f"http://127.0.0.1:{desk.bot.port}/faq.jsonl"
    db = tmp_path / "faq.sqlite"
    try:
        first = await asyncio.to_thread(faq_sync, feed, db)
        assert first.returncode == 0, first.stderr
        store = FaqStore.open(db)
        entries = store.count()
        store.close()
        corrupt(db)
        again = await asyncio.to_thread(faq_sync, feed, db)
        assert again.returncode == 0, again.stderr
        assert "unreadable" in again.stderr + again.stdout and "moved" in again.stderr + again.stdout
        assert "Traceback" not in again.stderr
        assert await asyncio.to_thread(lambda: list(tmp_path.glob("faq.sqlite.corrupt-*")))
        store = FaqStore.open(db)
        try:
            assert store.moved_aside is None
            assert entries > 0 and store.count() == entries
        finally:
            store.close()
    finally:
        await desk.close()


async def test_console_says_when_the_faq_cache_was_unreadable(devserver_factory: Any, tmp_path: Path) -> None:
    desk, uids, token = await _session(devserver_factory, tmp_path)
    feed = f"http://127.0.0.1:{desk.bot.port}/faq.jsonl"
    db = tmp_path / "faq.sqlite"
    run: Running | None = None
    try:
        assert (await asyncio.to_thread(faq_sync, feed, db)).returncode == 0
        corrupt(db)
        run = Running(_core(desk, token, tmp_path / "console-sam", faq_db=db))
        await wait_for(lambda: _complete(run, desk, uids), what="the console to start")
        assert any("faq" in n.lower() for n in run.notices()), run.notices()
    finally:
        if run is not None:
            await run.close()
        await desk.close()
