"""Start-up from a data dir of an earlier session, offline: the desk comes from the desk cache and the
conversations show their last message (preview, activity) from the message store, not as unread."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agentdesk.console.core import ConsoleConfig, ConsoleCore
from agentdesk.desk import protocol as p
from agentdesk.desk.cache import DeskCache
from agentdesk.desk.state import LogEntry
from agentdesk.tui.services import QueueChanged
from agentdesk.wukongim.store import MessageStore, StoredMessage

BOT = "deskbot"
T0 = 1_800_000_000.0


def _body(text: str) -> bytes:
    return json.dumps({"type": 1, "content": text}).encode()


def _earlier_session(data: Path) -> None:
    data.mkdir(parents=True)
    facts: list[p.Fact] = []
    for i, mode in enumerate(("assist", "ai", "assist")):
        c = f"c{i}___vstr"
        facts += [
            p.Opened(id=f"{3 * i + 1:032x}", channel=c, at=T0, customer_uid=c, customer_name=f"C{i}"),
            p.ModeChanged(id=f"{3 * i + 2:032x}", channel=c, at=T0, mode=mode),  # type: ignore[arg-type]
            p.Queued(id=f"{3 * i + 3:032x}", channel=c, at=T0, reason="r"),
        ]
    cache = DeskCache.open(data / "desk-alice.sqlite", bot_uid=BOT)
    cache.append(LogEntry(n, BOT, p.encode_bytes(f)) for n, f in enumerate(facts, 1))
    cache.close()
    store = MessageStore.open(data / "messages-alice.sqlite")
    store.store_received(
        [
            StoredMessage(1, 1, "a", "c0___vstr", "c0___vstr", 10, int(T0) + 5, _body("where is\nmy parcel")),
            StoredMessage(2, 2, "b", "bob", "c0___vstr", 10, int(T0) + 9, _body("on its way")),
            StoredMessage(3, 1, "c", "c1___vstr", "c1___vstr", 10, int(T0) + 7, _body("hello?")),
            StoredMessage(4, 1, "d", "stranger___vstr", "stranger___vstr", 10, int(T0) + 1, _body("hi")),
        ]
    )
    store.close()


def _offline_core(data: Path) -> ConsoleCore:
    return ConsoleCore(
        ConsoleConfig(
            uid="alice", token="x", api_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9", data_dir=data
        ),
        clock=lambda: T0 + 60,
    )


async def test_cached_conversations_show_their_last_message_not_as_unread(tmp_path: Path) -> None:
    data = tmp_path / "console"
    _earlier_session(data)
    core = _offline_core(data)
    try:
        await core.open_desk()
        assert core.queue("all")[0].preview == ""  # the desk cache keeps facts only
        assert core.apply_previews(await core.load_previews())
        rows = {r.channel_id: r for r in core.queue("all")}
        assert set(rows) == {"c0___vstr", "c1___vstr", "c2___vstr"}  # a stored stranger is not on the desk
        assert (rows["c0___vstr"].preview, rows["c0___vstr"].unread) == ("on its way", 0)
        assert (rows["c1___vstr"].preview, rows["c1___vstr"].unread) == ("hello?", 0)
        assert rows["c2___vstr"].preview == ""
        c0 = core.reducer.get("c0___vstr")
        assert c0 is not None and c0.last_activity == T0 + 9 and c0.preview_from == "staff"
        waiting = core.reducer.get("c2___vstr")
        assert waiting is not None and c0.waiting_since == waiting.waiting_since == T0  # facts decide
        # the restored message is not news when it arrives again (a catch-up replays it)
        assert not core.reducer.apply_message("c1___vstr", sender="customer", at=T0 + 7, text="hello?", seq=1)
        assert core.queue("all")[0].unread == 0 and all(r.unread == 0 for r in core.queue("all"))
    finally:
        await core.close()


async def test_start_up_draws_the_queue_then_its_previews(tmp_path: Path) -> None:
    data = tmp_path / "console"
    _earlier_session(data)
    core = _offline_core(data)
    seen: list[tuple[str, ...]] = []
    try:
        async with asyncio.timeout(30):
            async for event in core.events():
                if isinstance(event, QueueChanged):
                    seen.append(tuple(r.preview for r in core.queue("all")))
                    if any(seen[-1]):
                        break
        assert not any(seen[0])  # the first queue does not wait for the message store
        assert sorted(seen[-1]) == ["", "hello?", "on its way"]
        assert all(r.unread == 0 for r in core.queue("all"))
    finally:
        await core.close()
