"""The drafting engine: one entry point for the console (drafts for a person) and the desk bot (autopilot).

    engine = DraftEngine(ModelSettings(...))          # or DraftEngine() for the offline drafter only
    stream = engine.draft(conversation, hits, tone=None)
    async for chunk in stream:                         # DraftChunk: provisional text as it streams
        panel.append(chunk.text)
    result = await stream.result()                     # DraftResult: authoritative text, route, ids...

`engine.triage(conversation)` is the cheap synchronous rule triage the bot runs on every message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence

from agentdesk.ai.adapter import CircuitBreaker, ModelAdapter, ModelError, ReplyExtractor, parse_output
from agentdesk.ai.guards import Violation, check_output
from agentdesk.ai.offline import offline_draft
from agentdesk.ai.prompt import INSTRUCTIONS, Prompt, build_prompt
from agentdesk.ai.text import conversation_lang
from agentdesk.ai.triage import DEFAULT_AMOUNT_THRESHOLD, combine
from agentdesk.ai.triage import triage as rule_triage
from agentdesk.ai.types import (
    ROUTES,
    Conversation,
    DraftChunk,
    DraftResult,
    ModelSettings,
    Route,
    Tone,
    TriageResult,
    severity,
    worst,
)
from agentdesk.faq.model import FaqHit, Lang

_CJK = re.compile(r"[\u4e00-\u9fff]")


class DraftStream:
    """`async for chunk in stream` yields `DraftChunk`s; `await stream.result()` gives the `DraftResult`
    (draining whatever was not consumed). Closing it early (`await stream.aclose()`) cancels the request."""

    def __init__(self, gen: AsyncIterator[DraftChunk | DraftResult]) -> None:
        self._gen = gen
        self._result: DraftResult | None = None

    def __aiter__(self) -> AsyncIterator[DraftChunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[DraftChunk]:
        async for item in self._gen:
            if isinstance(item, DraftResult):
                self._result = item
            else:
                yield item

    async def result(self) -> DraftResult:
        async for _ in self._chunks():
            pass
        if self._result is None:
            raise RuntimeError("the draft stream was closed before it produced a result")
        return self._result

    async def aclose(self) -> None:
        aclose = getattr(self._gen, "aclose", None)
        if aclose is not None:
            await aclose()


class DraftEngine:
    def __init__(
        self,
        settings: ModelSettings | None = None,
        *,
        amount_threshold: float = DEFAULT_AMOUNT_THRESHOLD,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.perf_counter,
        canary: str | None = None,
    ) -> None:
        self.settings = settings
        #: a marker inside the instructions; seeing it in a draft proves a prompt leak
        self.canary = canary or "NW-" + secrets.token_hex(6)
        self.amount_threshold = amount_threshold
        self.adapter = ModelAdapter(settings, breaker=breaker) if settings is not None else None
        self._clock = clock

    @property
    def model_name(self) -> str | None:
        return self.settings.model if self.settings is not None else None

    def triage(self, conversation: Conversation) -> TriageResult:
        """Rule triage only: cheap, synchronous, no I/O."""
        return rule_triage(conversation, amount_threshold=self.amount_threshold)

    def prompt(
        self,
        conversation: Conversation,
        hits: Sequence[FaqHit],
        *,
        tone: Tone | None = None,
    ) -> Prompt:
        """Exactly what would be sent to the model (redacted)."""
        return build_prompt(
            conversation,
            hits,
            language=conversation_lang(conversation),
            triage=self.triage(conversation),
            tone=tone,
            canary=self.canary,
        )

    def draft(
        self,
        conversation: Conversation,
        hits: Sequence[FaqHit],
        *,
        tone: Tone | None = None,
        offline: bool = False,
        for_agent: bool = False,
    ) -> DraftStream:
        """`for_agent`: a draft for the person handling the conversation (see `offline_draft`)."""
        return DraftStream(self._run(conversation, tuple(hits), tone, offline, for_agent))

    async def draft_result(
        self,
        conversation: Conversation,
        hits: Sequence[FaqHit],
        *,
        tone: Tone | None = None,
        offline: bool = False,
    ) -> DraftResult:
        return await self.draft(conversation, hits, tone=tone, offline=offline).result()

    def offline(
        self, conversation: Conversation, hits: Sequence[FaqHit], *, tone: Tone | None = None
    ) -> DraftResult:
        """The deterministic offline draft, synchronously (no model, no I/O)."""
        return offline_draft(
            conversation,
            hits,
            triage=self.triage(conversation),
            language=conversation_lang(conversation),
            tone=tone,
        )

    async def _run(
        self,
        conversation: Conversation,
        hits: tuple[FaqHit, ...],
        tone: Tone | None,
        offline: bool,
        for_agent: bool = False,
    ) -> AsyncIterator[DraftChunk | DraftResult]:
        start = self._clock()
        first: float | None = None
        triage = self.triage(conversation)
        lang = conversation_lang(conversation)
        fallback: str | None = None
        streamed = False
        violations: tuple[str, ...] = ()
        floor: Route = "ai_ok"
        if self.adapter is not None and not offline:
            prompt = build_prompt(
                conversation, hits, language=lang, triage=triage, tone=tone, canary=self.canary
            )
            extractor = ReplyExtractor()
            shown = ""
            suppressed = False
            try:
                body = prompt.request(
                    self.adapter.settings.model,
                    json_mode=self.adapter.settings.json_mode,
                    temperature=self.adapter.settings.temperature,
                    max_tokens=self.adapter.settings.max_tokens,
                )
                async with contextlib.aclosing(self.adapter.stream(body)) as deltas:
                    async for delta in deltas:
                        piece = extractor.feed(delta)
                        if not piece or suppressed:
                            continue
                        # Never stream text that already fails a check: hold it back, the result replaces it.
                        if self._check(shown + piece, hits, prompt):
                            suppressed = True
                            continue
                        shown += piece
                        if first is None:
                            first = self._clock()
                        streamed = True
                        yield DraftChunk(piece)
                result, fallback, found, floor = self._accept(extractor.raw, prompt, triage, hits, lang, tone)
                violations = tuple(str(v) for v in found)
                if result is not None:
                    if result.text != shown:
                        # Nothing streamed yet (e.g. repaired JSON), or the final text differs: send it whole.
                        result = dataclasses.replace(result, replaced_stream=streamed)
                        if streamed:
                            yield DraftChunk("", reset=True)
                        if first is None:
                            first = self._clock()
                        yield DraftChunk(result.text)
                    yield self._timed(result, start, first)
                    return
            except ModelError as exc:
                fallback = exc.reason
        result = offline_draft(
            conversation,
            hits,
            triage=triage,
            language=lang,
            tone=tone,
            fallback_reason=fallback,
            for_agent=for_agent,
        )
        if severity(floor) > severity(result.route):
            result = offline_draft(
                conversation,
                hits,
                triage=dataclasses.replace(triage, route=floor, reason="the model's draft was rejected"),
                language=lang,
                tone=tone,
                fallback_reason=fallback,
                for_agent=for_agent,
            )
        if fallback:
            result = dataclasses.replace(result, reason=f"{result.reason} [fallback: {fallback}]")
        result = dataclasses.replace(
            result,
            model=self.model_name if self.adapter is not None and not offline else None,
            violations=violations,
            replaced_stream=streamed,
        )
        if streamed:
            yield DraftChunk("", reset=True)
        for piece in _pieces(result.text):
            if first is None:
                first = self._clock()
            yield DraftChunk(piece)
        yield self._timed(result, start, first)

    def _timed(self, result: DraftResult, start: float, first: float | None) -> DraftResult:
        now = self._clock()
        return dataclasses.replace(
            result,
            first_chunk_ms=None if first is None else round((first - start) * 1000, 1),
            total_ms=round((now - start) * 1000, 1),
        )

    def _check(self, text: str, hits: Sequence[FaqHit], prompt: Prompt) -> list[Violation]:
        return check_output(
            text,
            faq_texts=[h.entry.answer(lang) for h in hits for lang in ("zh", "en")],
            pii_values=prompt.redactions,
            system_prompt=INSTRUCTIONS,
            canary=prompt.canary,
        )

    def _accept(
        self,
        raw: str,
        prompt: Prompt,
        triage: TriageResult,
        hits: Sequence[FaqHit],
        lang: Lang,
        tone: Tone | None,
    ) -> tuple[DraftResult | None, str | None, list[Violation], Route]:
        """Validate the model's answer. Returns (result, fallback reason, violations, minimum route)."""
        obj, note = parse_output(raw)
        if obj is None:
            return None, note, [], "ai_ok"
        reply = obj.get("reply")
        if not isinstance(reply, str) or not reply.strip():
            return None, "model answer has no reply text", [], "ai_ok"
        reply = reply.strip()
        if _wrong_language(reply, lang):
            return None, f"model replied in the wrong language (customer writes {lang})", [], "ai_ok"
        found = self._check(reply, hits, prompt)
        if found:
            kinds = ", ".join(sorted({v.kind for v in found}))
            return None, f"model draft failed output checks ({kinds})", found, "needs_human"
        known = {h.id for h in hits}
        raw_ids = obj.get("faq_ids")
        ids = tuple(
            i for i in (raw_ids if isinstance(raw_ids, list) else []) if isinstance(i, str) and i in known
        )
        model_route_raw = obj.get("route")
        model_route: Route = model_route_raw if model_route_raw in ROUTES else "needs_human"
        model_reason = obj.get("reason") if isinstance(obj.get("reason"), str) else ""
        if severity(triage.route) > severity(model_route):
            # The model missed what the rules saw: a holding reply for the person taking over, not the model's.
            return None, f"rules override the model's route {model_route!r}", [], triage.route
        route, reason = combine(triage, model_route, str(model_reason))
        try:
            confidence = float(obj.get("confidence", 0.5))
        except (TypeError, ValueError):
            confidence = 0.5
        confidence = max(0.0, min(1.0, confidence))
        if note:
            reason = f"{reason} ({note})"
        return (
            DraftResult(
                text=reply,
                faq_ids=ids,
                confidence=round(confidence, 3),
                route=worst(route, triage.route),
                reason=reason,
                language=lang,
                source="model",
                model=self.model_name,
                tone=tone,
                triage=triage,
                signals=tuple(s.kind for s in triage.signals),
            ),
            None,
            [],
            "ai_ok",
        )


def _wrong_language(reply: str, lang: Lang) -> bool:
    """A Chinese customer gets Chinese; an English one gets mostly English (menu names may be Chinese)."""
    cjk = len(_CJK.findall(reply))
    if lang == "zh":
        return cjk == 0
    return cjk > 0.3 * max(1, len(re.findall(r"[A-Za-z]", reply)))


def _pieces(text: str) -> list[str]:
    """Split a finished text into sentence-sized chunks (the offline path streams like the model)."""
    parts = re.findall(r"[^。！？!?.\n]*[。！？!?.\n]?", text)
    return [p for p in parts if p] or [text]
