"""Fixtures for the console's foundation tests."""

from __future__ import annotations

import os

# Snapshot tests render differently under NO_COLOR (reference/ECOSYSTEM.md §3).
os.environ.pop("NO_COLOR", None)

import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# Transcript times are local: pin the zone so snapshots do not depend on the machine.
os.environ["TZ"] = "UTC"
time.tzset()
# The console kit (devserver desk + scripted bot + customers) lives with the console core tests.
sys.path.insert(0, str(Path(__file__).parent.parent / "console"))

from consolekit import Desk, make_desk  # noqa: E402

from agentdesk.devserver.server import DevServer  # noqa: E402


@pytest.fixture
async def desk(devserver: DevServer, tmp_path: Path) -> AsyncIterator[Desk]:
    d = await make_desk(devserver, tmp_path)
    yield d
    await d.close()


@pytest.fixture
def faq_db(tmp_path: Path, data_dir: Path) -> Path:
    from agentdesk.faq.importers import import_file
    from agentdesk.faq.store import FaqStore

    path = tmp_path / "faq.sqlite"
    with FaqStore.open(path) as store:
        import_file(store, data_dir / "faq.jsonl")
    return path
