"""The console core against the in-process devserver with a scripted desk bot (no Textual)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from consolekit import Desk, fid, make_desk, until, visitor

from agentdesk.console.core import ConsoleCore
from agentdesk.desk import protocol as p
from agentdesk.devserver.server import DevServer
from agentdesk.tui.services import (
    ConnectionChanged,
    DraftDone,
    OutboxChanged,
    ReplyStatusChanged,
    RequestRejected,
    ServiceEvent,
)


@pytest.fixture
async def desk(devserver: DevServer, tmp_path: Path) -> AsyncIterator[Desk]:
    d = await make_desk(devserver, tmp_path)
    yield d
    await d.close()


class Pump:
    def __init__(self, core: ConsoleCore) -> None:
        self.core = core
        self.seen: list[ServiceEvent] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for event in self.core.events():
            self.seen.append(event)

    def online(self) -> bool:
        return self.core.status().connection.state == "online"

    async def stop(self) -> None:
        self.task.cancel()


async def test_plain_wukongim_queue_transcript_and_reply(desk: Desk) -> None:
    await desk.add_staff("alice")
    cust = visitor("amy")
    await desk.open_visitor(cust)
    core = desk.core("alice")
    pump = Pump(core)
    await until(pump.online)
    await desk.customer_says(cust, "where is my parcel?")
    await until(lambda: bool(core.queue("all")))
    assert not core.desk_active
    [row] = core.queue("all")
    assert (row.channel_id, row.preview, row.unread) == (cust, "where is my parcel?", 1)
    assert core.counts()["all"] == 1
    assert core.next_urgent() is not None
    cmn = await core.send_reply(cust, "It left the warehouse today.")
    await until(lambda: any(isinstance(e, ReplyStatusChanged) and e.status == "sent" for e in pump.seen))
    items = await core.transcript(cust)
    assert [(i.role, i.text) for i in items] == [
        ("customer", "where is my parcel?"),
        ("me", "It left the warehouse today."),
    ]
    assert items[-1].status == "sent" and items[-1].client_msg_no == cmn
    await until(lambda: any(isinstance(e, OutboxChanged) and e.size == 0 for e in pump.seen[-3:]))
    await pump.stop()


async def test_desk_facts_build_the_queue_and_rejections_reach_the_requester(desk: Desk) -> None:
    await desk.add_staff("alice")
    cust = visitor("bo")
    await desk.open_visitor(cust)
    core = desk.core("alice")
    pump = Pump(core)
    await until(pump.online)
    now = time.time()
    await desk.fact(p.Opened(id=fid(), channel=cust, at=now, customer_uid=cust, customer_name="[b]Bo[/b]"))
    await desk.fact(p.ModeChanged(id=fid(), channel=cust, at=now, mode="assist"))
    await desk.fact(p.Queued(id=fid(), channel=cust, at=now, urgency="high", reason="refund"))
    await until(lambda: core.counts()["unassigned"] == 1)
    assert core.desk_active
    assert core.queue("unassigned")[0].customer_name == "[b]Bo[/b]"
    request_id = await core.request(cust, "claim")
    await desk.fact(
        p.Rejected(
            id=fid(),
            channel=cust,
            at=now,
            re=request_id,
            by="alice",
            request_kind="claim",
            why="not on shift",
        )
    )
    await until(lambda: any(isinstance(e, RequestRejected) for e in pump.seen))
    rejected = next(e for e in pump.seen if isinstance(e, RequestRejected))
    assert (rejected.request_id, rejected.why, rejected.action) == (request_id, "not on shift", "claim")
    await desk.fact(p.Assigned(id=fid(), channel=cust, at=now, assignee="alice"))
    await until(lambda: core.counts()["mine"] == 1)
    detail = core.detail(cust)
    assert detail is not None and detail.assignee == "alice"
    assert [h.kind for h in detail.history] == ["opened", "mode_changed", "queued", "assigned"]
    await pump.stop()


async def test_offline_reply_waits_in_outbox(devserver_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = await devserver_factory()
    desk = await make_desk(server, tmp_path)
    try:
        await desk.add_staff("alice")
        cust = visitor("cy")
        await desk.open_visitor(cust)
        core = desk.core("alice")
        pump = Pump(core)
        await until(pump.online)
        await server.stop()
        await until(
            lambda: any(
                isinstance(e, ConnectionChanged) and e.info.state == "reconnecting" for e in pump.seen
            )
        )
        await core.send_reply(cust, "queued while offline")
        await until(lambda: core.status().outbox == 1)
        items = await core.transcript(cust)
        assert [(i.text, i.status) for i in items] == [("queued while offline", "pending")]
        await pump.stop()
    finally:
        await desk.close()


async def drafting_core(
    desk: Desk, data_dir: Path, tmp_path: Path, uid: str, says: str
) -> tuple[ConsoleCore, Pump, str]:
    """alice's console core with the shared FAQ in a real cache file; a visitor `uid` has said `says`."""
    from agentdesk.faq.importers import import_file
    from agentdesk.faq.store import FaqStore

    faq_db = tmp_path / "faq.sqlite"
    with FaqStore.open(faq_db) as store:
        import_file(store, data_dir / "faq.jsonl")
    await desk.add_staff("alice")
    cust = visitor(uid)
    await desk.open_visitor(cust)
    core = desk.core("alice", faq_db=faq_db)
    pump = Pump(core)
    await until(pump.online)
    await desk.customer_says(cust, says)
    await until(lambda: bool(core.queue("all")))
    return core, pump, cust


async def test_draft_streams_and_fate_is_recorded(desk: Desk, data_dir: Path, tmp_path: Path) -> None:
    core, pump, cust = await drafting_core(desk, data_dir, tmp_path, "di", "How long does a refund take?")
    events = [e async for e in core.draft(cust)]
    done = events[-1]
    assert isinstance(done, DraftDone) and done.draft.text
    assert (await core.faq_search("refund"))[0].id.startswith("faq-")
    await core.record_fate(done.draft, "edited", "edited text")
    records = core.drafting.fates.records(conversation_id=cust)
    assert [(r.fate, r.draft_id) for r in records] == [("edited", done.draft.draft_id)]
    await pump.stop()


async def test_a_handed_over_conversation_drafts_from_the_faq_for_the_person(
    desk: Desk, data_dir: Path, tmp_path: Path
) -> None:
    """Triage says a person must handle it (the customer asks for one); the draft panel still offers the FAQ
    answer as a working draft, citing it, with the handover reason."""
    says = "I want to talk to a real person. How do I reach a human agent?"
    core, pump, cust = await drafting_core(desk, data_dir, tmp_path, "hh", says)
    events = [e async for e in core.draft(cust)]
    done = events[-1]
    assert isinstance(done, DraftDone)
    assert done.draft.route == "needs_human" and "working draft" in done.draft.reason
    assert [c.id for c in done.draft.citations][:1] == ["faq-097"]
    assert done.draft.citations[0].answer in done.draft.text
    await pump.stop()


def test_console_core_imports_no_textual() -> None:
    code = "import agentdesk.console.core, sys; print(json.dumps([m for m in ('textual', 'rich') if m in sys.modules]))"
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


async def test_desk_log_is_caught_up_in_full_from_the_cache_seq(desk: Desk) -> None:
    """More facts than the client's first-contact backfill (100): all of them are folded, in order."""
    await desk.add_staff("alice")
    now = time.time()
    channels = [visitor(f"k{i}") for i in range(70)]
    for cust in channels:
        await desk.fact(p.Opened(id=fid(), channel=cust, at=now, customer_uid=cust, customer_name=cust))
        await desk.fact(p.ModeChanged(id=fid(), channel=cust, at=now, mode="assist"))
    core = desk.core("alice")
    pump = Pump(core)
    await until(lambda: core.status().sync == "synced")
    assert core.counts()["all"] == 70 and core.counts()["unassigned"] == 70
    await pump.stop()
