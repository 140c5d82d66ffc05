"""Fixtures for the FAQ cache tests: real SQLite files built from the shared Northwind FAQ."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentdesk.faq.importers import import_file
from agentdesk.faq.store import FaqStore

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="session")
def faq_file() -> Path:
    return DATA / "faq.jsonl"


@pytest.fixture(scope="module")
def faq_store(tmp_path_factory: pytest.TempPathFactory, faq_file: Path) -> Iterator[FaqStore]:
    """A cache file holding the 160 shared entries (read-only for the tests that use it)."""
    store = FaqStore.open(tmp_path_factory.mktemp("faq") / "faq.sqlite")
    import_file(store, faq_file)
    yield store
    store.close()
