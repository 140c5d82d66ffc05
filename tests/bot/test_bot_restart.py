"""`agentdesk bot` as a process: SIGKILL mid-conversation and restart on the same database: nothing is
answered twice and nothing is dropped (webhooks that failed while it was down are caught up over REST)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from botkit import BOT, FAQ_QUESTION, WAIT, free_port, visitor, wait_for, write_roster

from agentdesk.bot.router import client_msg_no
from agentdesk.desk import protocol as p
from agentdesk.wukongim.rest import MessageResp, RestClient
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN

#: ten different FAQ questions (the bot never sends the same answer twice in one conversation)
QUESTIONS = [
    FAQ_QUESTION,
    "支付密码忘了，怎么重置？",
    "支持哪些付款方式？",
    "下单后没付款，订单会保留多久？",
    "怎么申请保修维修？",
    "买来送人的订单，能不能不显示价格？",
    "登录密码忘了怎么办？",
    "寄到新疆、西藏要加运费吗？",
    "公司想批量采购，有优惠吗？",
    "买的吹风机带到国外能用吗？",
]


async def start_bot(api_url: str, port: int, tmp: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentdesk.cli",
        "bot",
        "--api-url",
        api_url,
        "--listen",
        f"127.0.0.1:{port}",
        "--roster",
        str(write_roster(tmp)),
        "--db",
        str(tmp / "bot.sqlite3"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "AGENTDESK_MANAGER_TOKEN": DEVSERVER_MANAGER_TOKEN},
    )
    assert proc.stdout is not None
    async with asyncio.timeout(WAIT):
        line = await proc.stdout.readline()
    ready = json.loads(line)
    assert ready["event"] == "ready" and ready["url"] == f"http://127.0.0.1:{port}", ready
    return proc


async def history(rest: RestClient, channel: str, channel_type: int) -> list[MessageResp]:
    page = await rest.channel_messagesync(
        BOT, channel, channel_type, start_message_seq=1, limit=1000, pull_mode=1
    )
    return page.messages


async def test_sigkill_mid_conversation_then_restart(devserver_factory: Any, tmp_path: Path) -> None:
    port = free_port()
    server = await devserver_factory(webhook_url=f"http://127.0.0.1:{port}/webhook")
    rest = RestClient(server.api_url, manager_token=DEVSERVER_MANAGER_TOKEN)
    v = visitor()
    sent: list[int] = []

    async def ask(n: int) -> None:
        for _ in range(n):
            text = QUESTIONS[len(sent) % len(QUESTIONS)]  # each question once
            r = await rest.message_send(v, 10, {"type": 1, "content": text}, from_uid=v)
            sent.append(r.message_id)

    async def replies() -> list[MessageResp]:
        return [m for m in await history(rest, v, 10) if m.from_uid == BOT]

    proc = await start_bot(server.api_url, port, tmp_path)
    try:
        await ask(1)
        await wait_for(lambda: _at_least(replies, 1), what="the first answer")
        await ask(6)  # a burst; the bot is killed while it works through it
        await wait_for(lambda: _at_least(replies, 2), what="the bot to be busy")
        proc.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(proc.wait(), WAIT) == -signal.SIGKILL
        await ask(3)  # while it is down: the webhooks fail, and are dropped after a few tries

        async def dropped() -> bool:
            assert server.webhooks is not None
            return server.webhooks.dropped > 0 and server.storage.webhook_backlog() == 0

        await wait_for(dropped, what="the devserver to give up on the webhooks")
        proc = await start_bot(server.api_url, port, tmp_path)

        async def all_answered() -> bool:
            got = {m.client_msg_no for m in await replies()}
            return all(client_msg_no("reply", str(mid)) in got for mid in sent)

        await wait_for(all_answered, what="every question to be answered")

        async def settled() -> bool:
            async with httpx.AsyncClient() as http:
                health = (await http.get(f"http://127.0.0.1:{port}/health")).json()
            return health["queue_depth"] == 0 and server.storage.webhook_backlog() == 0

        await wait_for(settled, what="the bot to go idle")
        bot_msgs = await replies()
        per_trigger = Counter(m.client_msg_no for m in bot_msgs)
        assert len(sent) == 10
        assert [per_trigger[client_msg_no("reply", str(mid))] for mid in sent] == [1] * 10
        assert sum(per_trigger.values()) == 10  # no handover, nothing else
        facts = [p.parse_payload(m.payload) for m in await history(rest, "desk", 2) if m.from_uid == BOT]
        ids = Counter(f.id for f in facts if isinstance(f, p.Fact))
        assert ids and max(ids.values()) == 1  # every fact posted exactly once
        assert [f.kind for f in facts if isinstance(f, p.Fact) and f.channel == v] == ["opened"]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await rest.aclose()


async def _at_least(fetch: Any, n: int) -> bool:
    return len(await fetch()) >= n


async def test_a_wrong_manager_token_stops_the_bot_with_a_clear_error(
    devserver_factory: Any, tmp_path: Path
) -> None:
    server = await devserver_factory()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentdesk.cli",
        "bot",
        "--api-url",
        server.api_url,
        "--listen",
        "127.0.0.1:0",
        "--roster",
        str(write_roster(tmp_path)),
        "--db",
        str(tmp_path / "bot.sqlite3"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "AGENTDESK_MANAGER_TOKEN": "not-the-token"},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 1
    assert [json.loads(line)["event"] for line in out.decode().splitlines()] == ["ready", "stopped"]
    assert "manager token" in err.decode()
    assert "not-the-token" not in err.decode()  # a secret never reaches the logs


async def test_the_manager_token_can_come_from_the_keyring(
    devserver_factory: Any, tmp_path: Path, secret_service: Any
) -> None:
    from agentdesk.secrets import KeyringSecretStore

    KeyringSecretStore(secret_service.backend()).set("deskbot-test", "manager_token", DEVSERVER_MANAGER_TOKEN)
    server = await devserver_factory()
    env = {k: v for k, v in secret_service.env.items() if k != "AGENTDESK_MANAGER_TOKEN"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentdesk.cli",
        "bot",
        "--api-url",
        server.api_url,
        "--listen",
        "127.0.0.1:0",
        "--roster",
        str(write_roster(tmp_path)),
        "--db",
        str(tmp_path / "bot.sqlite3"),
        "--profile",
        "deskbot-test",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(WAIT):
            ready = json.loads(await proc.stdout.readline())
        assert ready["event"] == "ready"

        async def health() -> dict[str, Any] | None:
            async with httpx.AsyncClient() as http:
                h = (await http.get(ready["url"] + "/health")).json()
            return h if h["ready"] else None

        h = await wait_for(health, what="the bot to set up the desk channel")
        assert h["status"] == "ok" and h["worker_alive"]  # the desk channel was created with the token
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
