"""Helpers for the desk bot's integration tests: a devserver whose webhooks go to a real DeskBot, the desk
log read back over REST (as a console would), and condition waits with generous safety timeouts."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from agentdesk.bot.config import BotConfig
from agentdesk.bot.service import DeskBot
from agentdesk.desk import protocol as p
from agentdesk.desk.rules import Roster
from agentdesk.desk.state import LogEntry, Reducer
from agentdesk.devserver.server import DevServer
from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.rest import MessageResp, RestClient
from agentdesk.wukongim.store import MessageStore
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN

#: a safety net for waits on conditions, never a timing assertion
WAIT = 30.0
BOT = "deskbot"
DESK = "desk"
ROSTER = """
[users]
alice = "agent"
bob = "agent"
sam = "supervisor"
ada = "admin"
"""
#: an FAQ question the offline drafter answers confidently (faq.jsonl, shipping)
FAQ_QUESTION = "运费怎么算？满多少包邮？"
LEGAL_THREAT = "你们卖的电暖器漏水把我家木地板泡坏了，再不赔偿我就去法院起诉你们，律师函已经准备好了！"

T = TypeVar("T")


def visitor(prefix: str = "v") -> str:
    return f"{prefix}{secrets.token_hex(4)}{p.VISITOR_SUFFIX}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for(check: Callable[[], Awaitable[T | None]], within: float = WAIT, what: str = "") -> T:
    """Poll `check` until it returns something truthy (bounded by `within`, a safety timeout)."""
    try:
        async with asyncio.timeout(within):
            while True:
                value = await check()
                if value:
                    return value
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what or check}") from None


def write_roster(tmp: Path, text: str = ROSTER) -> Path:
    path = tmp / "roster.toml"
    path.write_text(text, "utf-8")
    return path


def bot_config(tmp: Path, api_url: str = "", **overrides: Any) -> BotConfig:
    values: dict[str, Any] = {
        "api_url": api_url,
        "roster": Roster.parse(ROSTER),
        "db_path": tmp / "bot.sqlite3",
        "manager_token": DEVSERVER_MANAGER_TOKEN,
        "listen_port": 0,
        "retry_base": 0.05,
        "retry_max": 0.5,
    }
    values.update(overrides)
    return BotConfig(**values)


@dataclass
class Desk:
    """A devserver with webhooks to an in-process bot, plus REST and client helpers."""

    server: DevServer
    bot: DeskBot
    rest: RestClient
    tmp: Path
    clients: list[WuKongIMClient] = field(default_factory=list)

    async def close(self) -> None:
        for c in self.clients:
            await c.close()
        await self.bot.stop()
        await self.rest.aclose()

    # --- actors -------------------------------------------------------------------------------------

    async def client(self, uid: str) -> WuKongIMClient:
        """A connected Python client (a visitor needs no real token; staff get one registered)."""
        token = secrets.token_hex(8)
        if not uid.endswith(p.VISITOR_SUFFIX):
            await self.rest.user_token(uid, token)
        cfg = ClientConfig(
            uid=uid, token=token, api_url=self.server.api_url, manager_token=DEVSERVER_MANAGER_TOKEN
        )
        client = WuKongIMClient(cfg, MessageStore.open(":memory:"))
        self.clients.append(client)
        await client.connect(within=WAIT)
        await client.wait_caught_up(within=WAIT)
        return client

    async def request(self, client: WuKongIMClient, kind: str, channel: str, **fields: Any) -> str:
        """Post a desk request from a staff client; returns its id."""
        rid = uuid.uuid4().hex
        body = {"type": p.CONTENT_TYPE, "v": 1, "kind": kind, "id": rid, "channel": channel, **fields}
        result = await client.send(DESK, 2, body, within=WAIT)
        assert result.ok, result
        return rid

    async def rest_request(self, sender: str, kind: str, channel: str, **fields: Any) -> str:
        rid = uuid.uuid4().hex
        body = {"type": p.CONTENT_TYPE, "v": 1, "kind": kind, "id": rid, "channel": channel, **fields}
        await self.rest.message_send(DESK, 2, body, from_uid=sender)
        return rid

    # --- reading back -------------------------------------------------------------------------------

    async def history(self, channel: str, channel_type: int) -> list[MessageResp]:
        out: list[MessageResp] = []
        start = 1
        while True:
            page = await self.rest.channel_messagesync(
                BOT, channel, channel_type, start_message_seq=start, limit=500, pull_mode=1
            )
            out.extend(page.messages)
            if not page.more or not page.messages:
                return out
            start = page.messages[-1].message_seq + 1

    async def facts(self) -> list[p.Fact]:
        """Every fact the bot posted on the desk channel, in log order (duplicates included)."""
        out = []
        for m in await self.history(DESK, 2):
            event = p.parse_payload(m.payload)
            if m.from_uid == BOT and isinstance(event, p.Fact):
                out.append(event)
        return out

    async def state(self) -> Reducer:
        """Desk state as a console derives it: the log folded by a fresh reducer."""
        r = Reducer(BOT)
        r.apply_many(LogEntry(m.message_seq, m.from_uid, m.payload) for m in await self.history(DESK, 2))
        return r

    async def bot_replies(self, channel: str) -> list[MessageResp]:
        return [m for m in await self.history(channel, 10) if m.from_uid == BOT]

    async def answer(self, request_id: str) -> p.Fact:
        async def check() -> p.Fact | None:
            return next((f for f in await self.facts() if f.re == request_id), None)

        return await wait_for(check, what=f"the bot's answer to {request_id}")

    async def settled(self) -> None:
        """Everything the server stored so far has reached the bot and been processed."""
        storage = self.server.storage

        async def drained() -> bool:
            return storage.webhook_backlog() == 0

        # the bot's own sends come back as webhooks too (and change nothing): idle, drained, idle
        await self.bot.wait_idle(WAIT)
        await wait_for(drained, what="the webhook queue to drain")
        await self.bot.wait_idle(WAIT)


def text_of(m: MessageResp) -> str:
    obj = json.loads(m.payload)
    return str(obj.get("content", "")) if isinstance(obj, dict) else ""


async def start_desk(devserver_factory: Any, tmp: Path, **bot_overrides: Any) -> Desk:
    bot = DeskBot(bot_config(tmp, **bot_overrides))
    await bot.listen()
    server: DevServer = await devserver_factory(webhook_url=bot.webhook_url)
    bot.config.api_url = server.api_url
    await bot.start()
    rest = RestClient(server.api_url, manager_token=DEVSERVER_MANAGER_TOKEN)
    desk = Desk(server, bot, rest, tmp)
    await bot.wait_idle(WAIT)
    return desk
