"""Shared helpers for the WuKongIM client tests: the `im_server` fixture and small factories.

`im_server` yields the in-process DevServer (from the shared `devserver_factory` fixture: fresh data
dir, token auth and encryption on, manager token set) or — when
``AGENTDESK_TEST_WUKONGIM_API`` is set — that real server with ``AGENTDESK_MANAGER_TOKEN``. Tests use
unique uids (`uid()`), so they also run against a long-lived real server.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agentdesk.devserver.server import DevServer
from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import ConnState, EventStream, MessageReceived, StateChanged
from agentdesk.wukongim.rest import RestClient
from agentdesk.wukongim.store import MessageStore
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN, DevServerFactory

MANAGER_TOKEN = DEVSERVER_MANAGER_TOKEN
#: generous safety timeout for waiting on events (never a timed assertion)
WAIT = 20.0


@dataclass
class ImServer:
    api_url: str
    manager_token: str | None
    #: None: the client asks /route
    ws_url: str | None
    real: bool
    devserver: DevServer | None = None
    data_dir: Path | None = None
    clients: list[WuKongIMClient] = field(default_factory=list)
    rests: list[RestClient] = field(default_factory=list)

    def rest(self) -> RestClient:
        r = RestClient(self.api_url, manager_token=self.manager_token)
        self.rests.append(r)
        return r


def uid(prefix: str = "u") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


@pytest.fixture
async def im_server(tmp_path: Path, devserver_factory: DevServerFactory) -> AsyncIterator[ImServer]:
    api = os.environ.get("AGENTDESK_TEST_WUKONGIM_API")
    if api:
        srv = ImServer(api, os.environ.get("AGENTDESK_MANAGER_TOKEN") or None, None, real=True)
    else:
        data = tmp_path / "server"
        dev = await devserver_factory(data_dir=data)
        srv = ImServer(dev.api_url, MANAGER_TOKEN, None, real=False, devserver=dev, data_dir=data)
    try:
        yield srv
    finally:
        for c in srv.clients:
            await c.close()
        for r in srv.rests:
            await r.aclose()


async def ws_address(srv: ImServer) -> str:
    """The server's WebSocket address (the devserver's, or what a real server's /route says)."""
    if srv.devserver is not None:
        return srv.devserver.ws_url
    return (await srv.rest().route()).ws_addr


async def register(srv: ImServer, user: str, *, device_flag: int = 1) -> str:
    token = secrets.token_hex(8)
    await srv.rest().user_token(user, token, device_flag=device_flag)
    return token


async def new_client(
    srv: ImServer,
    user: str,
    store_path: Path | str = ":memory:",
    *,
    token: str | None = None,
    ws_url: str | None = None,
    connect: bool = True,
    **cfg: Any,
) -> tuple[WuKongIMClient, EventStream]:
    """A registered, connected client subscribed to its events (closed by the fixture)."""
    if token is None:
        token = await register(srv, user)
    config = ClientConfig(
        uid=user,
        token=token,
        api_url=srv.api_url,
        ws_url=ws_url or srv.ws_url,
        manager_token=srv.manager_token,
        **cfg,
    )
    client = WuKongIMClient(config, MessageStore.open(store_path))
    srv.clients.append(client)
    events = client.subscribe()
    if connect:
        await client.connect(within=WAIT)
        await client.wait_caught_up(within=WAIT)
    return client, events


async def messages(events: EventStream, count: int) -> list[MessageReceived]:
    return await events.wait_messages(count, within=WAIT)


async def wait_state(events: EventStream, state: ConnState) -> StateChanged:
    ev = await events.wait_for(lambda e: isinstance(e, StateChanged) and e.state is state, within=WAIT)
    assert isinstance(ev, StateChanged)
    return ev


async def settle(rounds: int = 3) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)
