"""Fixtures for the AI engine tests: the real FAQ store (SQLite, in memory) and a scripted
OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from helpers_ai import DATA
from helpers_llm_server import ScriptedLLM

from agentdesk.ai import Conversation
from agentdesk.ai.retrieval import gather_hits
from agentdesk.faq.importers import load_jsonl
from agentdesk.faq.model import FaqHit
from agentdesk.faq.store import FaqStore


@pytest.fixture(scope="session")
def faq_store() -> Iterator[FaqStore]:
    store = FaqStore.open(":memory:")
    store.upsert(load_jsonl(DATA / "faq.jsonl"))
    yield store
    store.close()


@pytest.fixture()
def hits_for(faq_store: FaqStore) -> Callable[[Conversation], list[FaqHit]]:
    def _hits(conversation: Conversation) -> list[FaqHit]:
        return gather_hits(faq_store.search, conversation)

    return _hits


@pytest.fixture()
def llm() -> Iterator[ScriptedLLM]:
    server = ScriptedLLM()
    yield server
    server.close()
