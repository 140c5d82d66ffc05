"""The engine against a real local OpenAI-compatible streaming server, scripted per test.

Slowness comes from the scripted server and small timeouts; assertions are on outcomes, never durations.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from helpers_ai import DEV_BY_ID, fast_settings
from helpers_llm_server import ScriptedLLM, Step, json_answer, refused_url

from agentdesk.ai import Conversation, DraftEngine, DraftResult
from agentdesk.ai.adapter import CircuitBreaker
from agentdesk.faq.model import FaqHit

HitsFor = Callable[[Conversation], list[FaqHit]]
RETURN_Q = Conversation.from_script(DEV_BY_ID["cvd-029"])  # "How do I return an item?" (en, ai_ok)


async def run(engine: DraftEngine, conv: Conversation, hits: list[FaqHit]) -> tuple[list[str], DraftResult]:
    stream = engine.draft(conv, hits)
    chunks = [c.text async for c in stream]
    return chunks, await stream.result()


async def test_good_stream(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    hits = hits_for(RETURN_Q)
    reply = "You can return it within 7 days: go to My Orders > After-sales Service > Return & Refund."
    llm.script(Step(chunks=json_answer(reply, faq_ids=[hits[0].id, "faq-999"], confidence=0.8)))
    chunks, result = await run(DraftEngine(fast_settings(llm.url)), RETURN_Q, hits)
    assert result.source == "model" and result.fallback_reason is None
    assert result.text == reply and "".join(chunks) == reply and len(chunks) > 1
    assert result.faq_ids == (hits[0].id,)  # an id the model was not given is dropped
    assert result.route == "ai_ok" and result.confidence == 0.8 and result.language == "en"
    assert result.first_chunk_ms is not None and result.model == "scripted"
    (req,) = llm.requests
    assert req["stream"] is True and req["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in req["messages"]] == ["system", "user"]


async def test_tool_call_arguments_are_read_too(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    reply = "Returns are accepted within 7 days of delivery."
    llm.script(Step(chunks=json_answer(reply), as_tool_call=True))
    _, result = await run(DraftEngine(fast_settings(llm.url)), RETURN_Q, hits_for(RETURN_Q))
    assert result.source == "model" and result.text == reply


async def test_malformed_json_is_repaired(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    body = '```json\n{"reply": "Returns are accepted within 7 days.", "faq_ids": [], "confidence": 0.7, "route": "ai_ok", "reason": "faq",}\n```'
    llm.script(Step(chunks=[body[:20], body[20:]]))
    _, result = await run(DraftEngine(fast_settings(llm.url)), RETURN_Q, hits_for(RETURN_Q))
    assert result.source == "model" and "repaired" in result.reason
    assert result.text == "Returns are accepted within 7 days."


async def test_unparseable_output_falls_back(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    llm.script(Step(chunks=["Sure! ", "You can return ", "it any time."]))
    hits = hits_for(RETURN_Q)
    _, result = await run(DraftEngine(fast_settings(llm.url)), RETURN_Q, hits)
    assert result.source == "offline" and result.fallback_reason is not None
    assert "malformed" in result.fallback_reason and "fallback" in result.reason
    assert result.faq_ids and result.faq_ids[0] == hits[0].id


async def test_slow_stream_within_read_timeout_succeeds(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    llm.script(Step(chunks=json_answer("Returns are accepted within 7 days.", pieces=4), chunk_delay=0.25))
    _, result = await run(DraftEngine(fast_settings(llm.url, read_timeout=2.0)), RETURN_Q, hits_for(RETURN_Q))
    assert result.source == "model" and result.fallback_reason is None


async def test_stall_mid_stream_times_out_and_falls_back(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    llm.script(
        Step(
            chunks=json_answer("Returns are accepted within 7 days of delivery.", pieces=8),
            stall_after=3,
            stall_for=5,
        )
    )
    chunks, result = await run(
        DraftEngine(fast_settings(llm.url, read_timeout=0.4)), RETURN_Q, hits_for(RETURN_Q)
    )
    assert result.source == "offline"
    assert result.fallback_reason == "model stream stalled (read timeout)"
    assert len(llm.requests) == 1  # a partial answer is not replayed
    assert chunks and result.replaced_stream  # the console is told to replace what it showed


async def test_connection_closed_mid_stream_falls_back(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    llm.script(Step(chunks=json_answer("Returns are accepted within 7 days.", pieces=6), close_after=2))
    _, result = await run(DraftEngine(fast_settings(llm.url)), RETURN_Q, hits_for(RETURN_Q))
    assert result.source == "offline" and result.fallback_reason is not None
    assert "model stream" in result.fallback_reason


async def test_http_500_bounded_retries_then_fallback(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    llm.script(Step(status=500))
    _, result = await run(DraftEngine(fast_settings(llm.url, max_retries=2)), RETURN_Q, hits_for(RETURN_Q))
    assert len(llm.requests) == 3
    assert result.source == "offline" and result.fallback_reason == "HTTP 500 from the model endpoint"


async def test_http_500_then_success_after_retry(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    llm.script(
        Step(status=500), Step(status=503), Step(chunks=json_answer("Returns are accepted within 7 days."))
    )
    _, result = await run(DraftEngine(fast_settings(llm.url, max_retries=2)), RETURN_Q, hits_for(RETURN_Q))
    assert len(llm.requests) == 3 and result.source == "model"


async def test_client_error_is_not_retried(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    llm.script(Step(status=401))
    _, result = await run(DraftEngine(fast_settings(llm.url, max_retries=2)), RETURN_Q, hits_for(RETURN_Q))
    assert len(llm.requests) == 1 and result.fallback_reason == "HTTP 401 from the model endpoint"


async def test_connection_refused_falls_back(hits_for: HitsFor) -> None:
    engine = DraftEngine(fast_settings(refused_url(), max_retries=1))
    _, result = await run(engine, RETURN_Q, hits_for(RETURN_Q))
    assert result.source == "offline" and result.fallback_reason is not None
    assert result.fallback_reason.startswith("cannot reach the model endpoint")


async def test_circuit_breaker_opens_then_half_opens(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    now = [1000.0]
    breaker = CircuitBreaker(threshold=2, cooldown=30.0, clock=lambda: now[0])
    engine = DraftEngine(fast_settings(llm.url, max_retries=0), breaker=breaker)
    hits = hits_for(RETURN_Q)
    llm.script(Step(status=500))
    for _ in range(2):
        _, result = await run(engine, RETURN_Q, hits)
        assert result.source == "offline"
    assert len(llm.requests) == 2 and breaker.state == "open"
    # Open: the next draft costs no network at all.
    _, result = await run(engine, RETURN_Q, hits)
    assert len(llm.requests) == 2
    assert result.source == "offline" and result.fallback_reason is not None
    assert "circuit breaker open" in result.fallback_reason
    # After the cooldown one probe goes through; it fails, so the breaker opens again.
    now[0] += 31
    assert breaker.state == "half_open"
    _, result = await run(engine, RETURN_Q, hits)
    assert len(llm.requests) == 3 and breaker.state == "open"
    # Next cooldown: the endpoint is back, the probe succeeds and the breaker closes.
    now[0] += 31
    llm.steps = [Step(chunks=json_answer("Returns are accepted within 7 days."))]
    _, result = await run(engine, RETURN_Q, hits)
    assert result.source == "model" and breaker.state == "closed" and len(llm.requests) == 4


async def test_urgent_is_never_downgraded_by_the_model(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    conv = Conversation.from_script(DEV_BY_ID["cvd-012"])  # small-claims court threat
    llm.script(Step(chunks=json_answer("Sorry about the heater! Here is how returns work.", route="ai_ok")))
    _, result = await run(DraftEngine(fast_settings(llm.url)), conv, hits_for(conv))
    assert result.route == "escalate_urgent"
    assert result.fallback_reason is not None and "rules override" in result.fallback_reason


async def test_model_may_raise_the_route(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    llm.script(
        Step(
            chunks=json_answer("A colleague will look into this.", route="escalate_urgent", reason="distress")
        )
    )
    _, result = await run(DraftEngine(fast_settings(llm.url)), RETURN_Q, hits_for(RETURN_Q))
    assert result.route == "escalate_urgent" and result.source == "model" and "distress" in result.reason


async def test_wrong_language_falls_back(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    conv = Conversation.from_script(DEV_BY_ID["cvd-009"])  # Chinese customer
    llm.script(Step(chunks=json_answer("You can download the e-invoice from Order Details.")))
    _, result = await run(DraftEngine(fast_settings(llm.url)), conv, hits_for(conv))
    assert result.source == "offline" and result.language == "zh"
    assert result.fallback_reason is not None and "wrong language" in result.fallback_reason


async def test_long_line_is_truncated_in_the_prompt(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    conv = Conversation.from_script(DEV_BY_ID["cvd-017"])
    llm.script(Step(chunks=json_answer("请检查银行卡余额和限额，或者换一种支付方式。", language="zh")))
    _, result = await run(DraftEngine(fast_settings(llm.url)), conv, hits_for(conv))
    user = llm.requests[0]["messages"][1]["content"]
    data = json.loads(user.split("\n", 1)[1])
    first = data["conversation"][0]["message"]
    assert len(first) < 1000 and first.endswith("[truncated]")
    assert result.source == "model"


async def test_slow_headers_time_out_and_are_retried(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    llm.script(Step(chunks=json_answer("late"), headers_delay=3))
    engine = DraftEngine(fast_settings(llm.url, read_timeout=0.3, max_retries=1))
    _, result = await run(engine, RETURN_Q, hits_for(RETURN_Q))
    assert len(llm.requests) == 2
    assert (
        result.source == "offline" and result.fallback_reason == "model endpoint timed out before answering"
    )


async def test_slow_drip_hits_the_total_deadline(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    llm.script(
        Step(
            chunks=json_answer("Returns are accepted within 7 days of delivery.", pieces=10), chunk_delay=0.15
        )
    )
    engine = DraftEngine(fast_settings(llm.url, read_timeout=1.0, total_timeout=0.5))
    _, result = await run(engine, RETURN_Q, hits_for(RETURN_Q))
    assert (
        result.source == "offline" and result.fallback_reason == "model answer exceeded the total time limit"
    )


async def test_closing_a_stream_early_cancels_cleanly(llm: ScriptedLLM, hits_for: HitsFor) -> None:
    llm.script(
        Step(
            chunks=json_answer("Returns are accepted within 7 days of delivery.", pieces=8),
            stall_after=3,
            stall_for=5,
        )
    )
    engine = DraftEngine(fast_settings(llm.url, read_timeout=3.0))
    stream = engine.draft(RETURN_Q, hits_for(RETURN_Q))
    async for _chunk in stream:
        break
    await stream.aclose()
    assert engine.adapter is not None and engine.adapter.breaker.state == "closed"
    # A cancelled draft is not a failure of the endpoint: the next one still goes to the model.
    llm.script(Step(chunks=json_answer("Returns are accepted within 7 days.")))
    _, result = await run(engine, RETURN_Q, hits_for(RETURN_Q))
    assert result.source == "model"
