"""Reusable devserver fixtures (registered in tests/conftest.py via `pytest_plugins`).

* `devserver`: an in-process DevServer on free loopback ports, fresh temporary data dir, token auth on,
  encryption on, manager token `DEVSERVER_MANAGER_TOKEN` (send it as header `token`), RECV retry every
  0.3 s. Yields the running server (`.api_url`, `.ws_url`, `.config`); stopped afterwards.
* `devserver_factory`: `await devserver_factory(**config_overrides)` for other settings (e.g. a fixed
  `data_dir` to test restarts, `token_auth=False`); every server it made is stopped at teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agentdesk.devserver.config import DevServerConfig
from agentdesk.devserver.server import DevServer

DEVSERVER_MANAGER_TOKEN = "test-manager-token"

DevServerFactory = Callable[..., Awaitable[DevServer]]


def devserver_config(tmp_path: Path, **overrides: Any) -> DevServerConfig:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "api_port": 0,
        "ws_port": 0,
        "data_dir": tmp_path / "devserver-data",
        "manager_token": DEVSERVER_MANAGER_TOKEN,
        "token_auth": True,
        "encryption": True,
        "recv_retry_interval": 0.3,
        "webhook_push_interval": 0.05,
        "webhook_retry_base": 0.05,
        "kick_close_delay": 0.2,
        "token_kick_close_delay": 0.2,
    }
    values.update(overrides)
    return DevServerConfig(**values)


@pytest.fixture
async def devserver_factory(tmp_path: Path) -> AsyncIterator[DevServerFactory]:
    started: list[DevServer] = []

    async def make(**overrides: Any) -> DevServer:
        server = DevServer(devserver_config(tmp_path, **overrides))
        await server.start()
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        await server.stop()


@pytest.fixture
async def devserver(devserver_factory: DevServerFactory) -> DevServer:
    return await devserver_factory()
