"""Fixtures of the devserver tests (the `devserver` fixture itself lives in tests/fixtures_devserver.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from devserver_rawclient import Api

from agentdesk.devserver.server import DevServer
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN


@pytest.fixture
async def api(devserver: DevServer) -> AsyncIterator[Api]:
    client = Api(devserver.api_url, DEVSERVER_MANAGER_TOKEN)
    yield client
    await client.aclose()
