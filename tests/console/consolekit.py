"""Helpers for console tests: a desk on the devserver (staff tokens, desk channel, visitors channels),
a scripted desk bot that posts facts, scripted customers, and a `ConsoleCore` for a staff member."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from agentdesk.console.core import ConsoleConfig, ConsoleCore
from agentdesk.desk import protocol as p
from agentdesk.devserver.server import DevServer
from agentdesk.wukongim.rest import RestClient
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN

BOT = "deskbot"
DESK = "desk"
#: generous safety timeout for waiting on conditions (never a timed assertion)
WAIT = 20.0


def visitor(name: str = "v") -> str:
    return f"{name}{secrets.token_hex(3)}{p.VISITOR_SUFFIX}"


def fid() -> str:
    return uuid.uuid4().hex


@dataclass
class Desk:
    server: DevServer
    rest: RestClient
    tmp: Path
    tokens: dict[str, str] = field(default_factory=dict)
    cores: list[ConsoleCore] = field(default_factory=list)
    staff: list[str] = field(default_factory=list)

    async def add_staff(self, uid: str) -> str:
        token = secrets.token_hex(8)
        await self.rest.user_token(uid, token)
        self.tokens[uid] = token
        self.staff.append(uid)
        await self.rest.channel_create(DESK, 2, subscribers=[*self.staff, BOT])
        return token

    async def open_visitor(self, uid: str, *, subscribers: list[str] | None = None) -> None:
        await self.rest.channel_create(uid, 10, subscribers=subscribers or list(self.staff))

    async def customer_says(self, uid: str, text: str) -> None:
        await self.rest.message_send(uid, 10, {"type": 1, "content": text}, from_uid=uid)

    async def customer_sends(self, uid: str, payload: dict[str, object]) -> None:
        await self.rest.message_send(uid, 10, payload, from_uid=uid)

    async def fact(self, fact: p.Fact) -> None:
        await self.rest.message_send(DESK, 2, p.encode_bytes(fact), from_uid=BOT)

    def core(
        self, uid: str, *, clock: Callable[[], float] = time.time, faq_db: Path | None = None
    ) -> ConsoleCore:
        core = ConsoleCore(
            ConsoleConfig(
                uid=uid,
                token=self.tokens[uid],
                api_url=self.server.api_url,
                ws_url=self.server.ws_url,
                data_dir=self.tmp / f"console-{uid}",
                bot_uid=BOT,
                desk_channel=DESK,
                faq_db=faq_db,
                role="supervisor" if uid.startswith("sup") else "agent",
                manager_token=DEVSERVER_MANAGER_TOKEN,
            ),
            clock=clock,
        )
        self.cores.append(core)
        return core

    async def close(self) -> None:
        for core in self.cores:
            await core.close()
        await self.rest.aclose()


async def make_desk(server: DevServer, tmp: Path) -> Desk:
    rest = RestClient(server.api_url, manager_token=DEVSERVER_MANAGER_TOKEN)
    return Desk(server, rest, tmp)


async def until(
    predicate: Callable[[], bool], within: float = WAIT, *, poll: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Wait until `predicate()` is true (a safety timeout, not a timed assertion)."""
    async with asyncio.timeout(within):
        while not predicate():
            if poll is not None:
                await poll()
            await asyncio.sleep(0.01)


class ScriptedBot:
    """A tiny stand-in for the desk bot: reads staff requests from the desk channel (REST) and answers
    with facts, or with a `rejected` fact for the kinds listed in `reject` (kind → the bot's sentence)."""

    def __init__(self, desk: Desk, reject: dict[str, str] | None = None) -> None:
        self.desk = desk
        self.reject = dict(reject or {})
        self.seen: list[p.Request] = []
        self._seq = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> ScriptedBot:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            page = await self.desk.rest.channel_messagesync(
                BOT, DESK, 2, start_message_seq=self._seq + 1, limit=100, pull_mode=1
            )
            for m in page.messages:
                self._seq = max(self._seq, m.message_seq)
                event = p.parse_payload(m.payload)
                if isinstance(event, p.Request) and m.from_uid != BOT:
                    self.seen.append(event)
                    for fact in self.answer(event, m.from_uid):
                        await self.desk.fact(fact)
            await asyncio.sleep(0.05)

    def answer(self, r: p.Request, by: str) -> list[p.Fact]:
        base = {"channel": r.channel, "at": time.time(), "re": r.id, "by": by}
        if r.kind in self.reject:
            return [p.Rejected(id=fid(), request_kind=r.kind, why=self.reject[r.kind], **base)]  # type: ignore[arg-type]
        if isinstance(r, p.Claim):
            return [p.Assigned(id=fid(), assignee=by, **base)]  # type: ignore[arg-type]
        if isinstance(r, p.Transfer):
            return [p.Assigned(id=fid(), assignee=r.to, **base)]  # type: ignore[arg-type]
        if isinstance(r, p.Release):
            return [p.Released(id=fid(), **base)]  # type: ignore[arg-type]
        if isinstance(r, p.Escalate):
            return [p.Escalated(id=fid(), urgency=r.urgency, reason=r.reason, note=r.note, **base)]  # type: ignore[arg-type]
        if isinstance(r, p.TakeOver):
            return [
                p.ModeChanged(id=fid(), mode="human", **base),  # type: ignore[arg-type]
                p.Assigned(id=fid(), assignee=by, **base),  # type: ignore[arg-type]
            ]
        if isinstance(r, p.HandBack):
            return [p.ModeChanged(id=fid(), mode="ai", **base)]  # type: ignore[arg-type]
        if isinstance(r, p.Resolve):
            return [p.Resolved(id=fid(), **base)]  # type: ignore[arg-type]
        if isinstance(r, p.Reopen):
            return [p.Reopened(id=fid(), **base)]  # type: ignore[arg-type]
        if isinstance(r, p.Note):
            return [p.Noted(id=fid(), text=r.text, **base)]  # type: ignore[arg-type]
        if isinstance(r, p.Label):
            return [p.Labeled(id=fid(), add=r.add, remove=r.remove, **base)]  # type: ignore[arg-type]
        return []


async def open_conversation(
    desk: Desk, uid: str, name: str, *, mode: str = "assist", urgency: str = "normal", reason: str = ""
) -> None:
    """What the bot does for a new customer: opened, mode, queued (assist/human) — posted as facts."""
    now = time.time()
    await desk.open_visitor(uid)
    await desk.fact(p.Opened(id=fid(), channel=uid, at=now, customer_uid=uid, customer_name=name))
    if mode != "ai":
        await desk.fact(p.ModeChanged(id=fid(), channel=uid, at=now, mode=mode))  # type: ignore[arg-type]
        await desk.fact(p.Queued(id=fid(), channel=uid, at=now, urgency=urgency, reason=reason))  # type: ignore[arg-type]
