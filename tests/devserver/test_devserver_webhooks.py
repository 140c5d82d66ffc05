"""Webhooks (PROTOCOL.md §f) received by a real local HTTP server."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from devserver_rawclient import Api, connected, eventually
from webhook_receiver import WebhookReceiver

from agentdesk.devserver.server import DevServer
from agentdesk.devserver.webhooks import MSG_NOTIFY, ONLINE_STATUS
from agentdesk.wukongim.packets import Sendack
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN, DevServerFactory


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    await r.stop()


async def _send(api: Api, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        payload = base64.b64encode(json.dumps({"type": 1, "content": f"m{i}"}).encode()).decode()
        await api.post(
            "/message/send", {"from_uid": "bot", "channel_id": "g", "channel_type": 2, "payload": payload}
        )


def _contents(items: list[dict[str, object]]) -> list[str]:
    return [json.loads(base64.b64decode(str(m["payload"])))["content"] for m in items]


async def test_msg_notify_batches_in_order(
    devserver_factory: DevServerFactory, receiver: WebhookReceiver
) -> None:
    receiver.hold_first = asyncio.Event()
    server = await devserver_factory(webhook_url=await receiver.start(), webhook_batch=3)
    api = Api(server.api_url, DEVSERVER_MANAGER_TOKEN)
    await _send(api, 1)
    await eventually(
        lambda: server.storage.webhook_backlog() == 1 and receiver._tasks, what="first push held"
    )
    await _send(api, 6, start=1)  # queued while the first push is held
    receiver.hold_first.set()
    await eventually(lambda: len(receiver.delivered(MSG_NOTIFY)) == 7, what="7 messages pushed")
    items = receiver.delivered(MSG_NOTIFY)
    assert _contents(items) == [f"m{i}" for i in range(7)]
    sizes = [len(p.body) for p in receiver.pushes if p.event == MSG_NOTIFY]
    assert max(sizes) == 3 and sum(sizes) == 7
    first = items[0]
    assert (
        first["channel_id"] == "g"
        and first["from_uid"] == "bot"
        and first["message_idstr"] == str(first["message_id"])
    )
    await api.aclose()


async def test_retry_after_500_then_drop_after_five(
    devserver_factory: DevServerFactory, receiver: WebhookReceiver
) -> None:
    receiver.statuses = [500, 503]
    server = await devserver_factory(webhook_url=await receiver.start())
    api = Api(server.api_url, DEVSERVER_MANAGER_TOKEN)
    await _send(api, 2)
    await eventually(lambda: len(receiver.delivered(MSG_NOTIFY)) == 2, what="retried push")
    assert [p.status for p in receiver.pushes][:3] == [500, 503, 200]
    assert _contents(receiver.delivered(MSG_NOTIFY)) == ["m0", "m1"]
    # a receiver that always fails: 5 attempts, then the item is dropped
    receiver.statuses = [500] * 100
    pushed_before = len(receiver.pushes)
    await _send(api, 1, start=2)
    webhooks = server.webhooks
    assert webhooks is not None
    await eventually(lambda: webhooks.dropped == 1, wait=30, what="item dropped")
    assert len(receiver.pushes) - pushed_before == 5
    assert server.storage.webhook_backlog() == 0
    await api.aclose()


async def test_online_status(devserver_factory: DevServerFactory, receiver: WebhookReceiver) -> None:
    server = await devserver_factory(webhook_url=await receiver.start())
    api = Api(server.api_url, DEVSERVER_MANAGER_TOKEN)
    await api.token("alice", "ta")
    alice = await connected(server.ws_url, "alice", "ta")
    await eventually(lambda: len(receiver.delivered(ONLINE_STATUS)) == 1, what="online")
    await alice.close()
    await eventually(lambda: len(receiver.delivered(ONLINE_STATUS)) == 2, what="offline")
    online, offline = receiver.delivered(ONLINE_STATUS)
    uid, flag, state, conn_id, device_count, total = online.split("-")
    assert (uid, flag, state, device_count, total) == ("alice", "1", "1", "1", "1")
    assert offline == f"alice-1-0-{conn_id}-0-0"
    await api.aclose()


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/wk"


async def test_queue_survives_restart(
    devserver_factory: DevServerFactory, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    data = tmp_path / "wk"
    server: DevServer = await devserver_factory(data_dir=data, webhook_url=_dead_url())
    api = Api(server.api_url, DEVSERVER_MANAGER_TOKEN)
    await api.token("alice", "ta")
    alice = await connected(server.ws_url, "alice", "ta")
    await alice.send("bob", 1, {"type": 1, "content": "queued"})
    assert (await alice.expect(Sendack)).reason_code == 1
    await alice.close()
    await api.aclose()
    await server.stop()
    server = await devserver_factory(data_dir=data, webhook_url=await receiver.start())
    await eventually(lambda: len(receiver.delivered(MSG_NOTIFY)) == 1, what="queued push after restart")
    (msg,) = receiver.delivered(MSG_NOTIFY)
    # person message: channel_id is the recipient in msg.notify
    assert (msg["from_uid"], msg["channel_id"], msg["channel_type"]) == ("alice", "bob", 1)
    await eventually(
        lambda: len(receiver.delivered(ONLINE_STATUS)) == 2, what="queued statuses after restart"
    )
    statuses = receiver.delivered(ONLINE_STATUS)
    assert [s.split("-")[2] for s in statuses] == ["1", "0"]
