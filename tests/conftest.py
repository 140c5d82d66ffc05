"""Shared fixtures. Test data lives in tests/data (copied from the team's shared kit)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: tests/ itself is on sys.path (pytest prepends a rootdir conftest's directory), so plugins are top-level names
pytest_plugins = ["fixtures_devserver", "keyring_ci"]

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
