"""Drafts, their fates and the FAQ, for the console core: the drafting engine streams a reply for a
conversation (FAQ hits from the local cache), every draft's fate is recorded (`FateStore`), and the FAQ is
searched offline. SQLite work runs in threads under one lock; nothing here raises for a failed draft."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from agentdesk.ai.engine import DraftEngine
from agentdesk.ai.fate import FateStore
from agentdesk.ai.types import Conversation as AiConversation
from agentdesk.ai.types import DraftResult
from agentdesk.faq.model import FaqHit
from agentdesk.faq.store import FaqStore
from agentdesk.tui.services import (
    DraftDone,
    DraftFailed,
    DraftInfo,
    DraftStreamEvent,
    DraftText,
    FaqCitation,
    FaqItem,
    Fate,
    Tone,
)


class Drafting:
    def __init__(self, engine: DraftEngine, fates: FateStore, faq: FaqStore | None) -> None:
        self.engine = engine
        self.fates = fates
        self.faq = faq
        self._lock = threading.Lock()
        #: results of drafts shown and not yet decided, by draft id
        self._drafts: dict[str, DraftResult] = {}

    @classmethod
    def open(cls, engine: DraftEngine, fates_path: Path, faq_path: Path | None) -> Drafting:
        fates = FateStore.open(fates_path, check_same_thread=False)
        faq = (
            FaqStore.open(faq_path, check_same_thread=False)
            if faq_path is not None and faq_path.exists()
            else None
        )
        return cls(engine, fates, faq)

    def close(self) -> None:
        with self._lock:
            self.fates.close()
            if self.faq is not None:
                self.faq.close()

    async def hits(self, query: str, limit: int = 3) -> tuple[FaqHit, ...]:
        faq = self.faq
        if faq is None or not query.strip():
            return ()

        def run() -> tuple[FaqHit, ...]:
            with self._lock:
                return faq.search(query, limit=limit).hits

        return await asyncio.to_thread(run)

    async def stream(
        self, conversation: AiConversation, channel_id: str, tone: Tone | None
    ) -> AsyncIterator[DraftStreamEvent]:
        """Draft a reply: the text as it streams, then the result with its citations (or a failure)."""
        customer = [m.text for m in conversation.customer_messages() if m.text]
        if not customer:
            yield DraftFailed("no customer message to answer yet")
            return
        hits = await self.hits(" ".join(customer[-2:]))
        offline = self.engine.settings is None
        # the person in the console gets a working draft even where the bot would hand over
        stream = self.engine.draft(conversation, hits, tone=tone, offline=offline, for_agent=True)
        try:
            async for chunk in stream:
                yield DraftText(chunk.text, chunk.reset)
            result = await stream.result()
        except Exception as error:  # the engine falls back itself; anything left is reported, not raised
            yield DraftFailed(f"drafting failed: {error}")
            return
        finally:
            await stream.aclose()
        draft_id = uuid.uuid4().hex
        self._drafts[draft_id] = result
        by_id = {hit.id: hit for hit in hits}
        citations = tuple(
            FaqCitation(
                fid, by_id[fid].entry.question(by_id[fid].lang), by_id[fid].entry.answer(by_id[fid].lang)
            )
            for fid in result.faq_ids
            if fid in by_id
        )
        yield DraftDone(
            DraftInfo(
                draft_id=draft_id,
                channel_id=channel_id,
                text=result.text,
                confidence=result.confidence,
                route=result.route,
                reason=result.reason,
                citations=citations,
                tone=tone,
                source=result.source,
            )
        )

    async def record_fate(self, draft: DraftInfo, fate: Fate, final_text: str | None = None) -> None:
        """Record what happened to a draft (once; a draft already decided is ignored)."""
        result = self._drafts.pop(draft.draft_id, None)
        if result is None:
            return

        def run() -> None:
            with self._lock:
                self.fates.record(
                    result,
                    fate,
                    conversation_id=draft.channel_id,
                    final_text=final_text,
                    draft_id=draft.draft_id,
                )

        await asyncio.to_thread(run)

    async def faq_search(self, query: str, limit: int = 8) -> list[FaqItem]:
        return [
            FaqItem(
                id=hit.id,
                question=hit.entry.question(hit.lang),
                answer=hit.entry.answer(hit.lang),
                category=hit.entry.category,
                score=hit.score,
                snippet=hit.snippet.text,
                matches=hit.snippet.matches,
            )
            for hit in await self.hits(query, limit)
        ]
