"""Fault (e): the bot's model endpoint is down (connection refused, HTTP 503), slow (no headers within the
read timeout) or stalls mid-stream, while customers keep asking (devserver + in-process bot + a real
OpenAI-compatible SSE server on loopback).

Asserted: every customer question gets exactly one answer — the offline drafter's reply or a handover
notice, never silence and never two — the circuit breaker opens after its threshold, and once it is
open no request reaches the endpoint any more."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faultkit import (
    BOT,
    FAQ_QUESTIONS,
    ScriptedLLM,
    Step,
    dupes,
    json_answer,
    refused_url,
    start_desk,
    visitor,
)

from agentdesk.ai.types import ModelSettings
from agentdesk.bot.router import client_msg_no

PURPOSES = ("reply", "handover", "urgent_handover")
THRESHOLD = 2

CASES = {
    "refused": None,
    "http503": Step(status=503),
    "slow": Step(headers_delay=5.0, chunks=json_answer("运费满99元包邮。")),
    "stall_mid_stream": Step(chunks=json_answer("运费满99元包邮。", pieces=6), stall_after=2, stall_for=5.0),
}


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    server = ScriptedLLM()
    yield server
    server.close()


@pytest.mark.parametrize("case", list(CASES))
async def test_model_endpoint_faults_fall_back_and_open_the_breaker(
    case: str, llm: ScriptedLLM, devserver_factory: Any, tmp_path: Path
) -> None:
    step = CASES[case]
    if step is not None:
        llm.script(step)
    model = ModelSettings(
        base_url=refused_url() if step is None else llm.url,
        model="m",
        connect_timeout=0.5,
        read_timeout=0.5,
        total_timeout=2.0,
        max_retries=0,
        retry_backoff=0.05,
        breaker_threshold=THRESHOLD,
        breaker_cooldown=600.0,
    )
    desk = await start_desk(devserver_factory, tmp_path, model=model)
    asked: dict[int, str] = {}
    try:

        async def ask(n: int) -> None:
            for i in range(n):
                v = visitor("m")
                r = await desk.rest.message_send(
                    v, 10, {"type": 1, "content": FAQ_QUESTIONS[i % len(FAQ_QUESTIONS)]}, from_uid=v
                )
                asked[r.message_id] = v
                await desk.settled()  # one at a time: the breaker's count is per failed draft

        await ask(THRESHOLD + 1)
        assert desk.bot.router is not None
        adapter = desk.bot.router.engine.adapter
        assert adapter is not None
        assert adapter.breaker.state == "open", adapter.breaker.state
        requests = len(llm.requests)
        await ask(2)  # with the breaker open: straight to the offline drafter, no request at all
        assert len(llm.requests) == requests
        if step is not None:
            assert 1 <= requests <= THRESHOLD  # the endpoint was really tried before it opened

        for mid, v in asked.items():
            bot_msgs = Counter(m.client_msg_no for m in await desk.bot_replies(v))
            assert dupes(bot_msgs) == {}, bot_msgs
            answers = sum(bot_msgs[client_msg_no(k, str(mid))] for k in PURPOSES)
            assert answers == 1, f"{v}: {answers} answers ({bot_msgs})"
        # the offline drafter still answers FAQ questions on its own (not everything was handed over)
        replies = [m for v in set(asked.values()) for m in await desk.bot_replies(v) if m.from_uid == BOT]
        assert any(m.client_msg_no.startswith("deskbot-") for m in replies)
        assert desk.bot.router.autopilot_answers >= 1
        health = await desk.bot.health()
        assert health["status"] == "ok" and health["worker_alive"], health
    finally:
        await desk.close()
