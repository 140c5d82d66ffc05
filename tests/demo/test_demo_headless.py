"""`agentdesk demo --headless --json` end to end, as a subprocess: devserver + desk bot + simulated
customers replaying the dev conversations over the real protocol, then nothing left behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from demokit import REPO, assert_nothing_left, assert_shape, run_demo

from agentdesk.bot.turns import HANDOVER_TEXTS

DEV_SET = REPO / "tests" / "data" / "conversations_dev.jsonl"


def _records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").split("\n") if line.strip()]


def _expected() -> dict[str, str]:
    return {str(r["id"]): str(r["expect"]["route"]) for r in _records()}


def test_headless_dev_set(tmp_path: Path) -> None:
    run = run_demo(["--headless", "--json", "--conversations", str(DEV_SET)], tmp_path)
    assert run.code == 0, run.stderr[-3000:]
    convs = assert_shape(run.summary())
    expected = _expected()

    # every conversation, in file order, nothing errored
    assert [c["id"] for c in convs] == list(expected)
    assert run.summary()["errors"] == []
    assert {c["id"]: c["errors"] for c in convs if c["errors"]} == {}
    assert len({c["customer_uid"] for c in convs}) == len(convs)
    assert all(str(c["customer_uid"]).endswith("___vstr") for c in convs)

    # the console shows the customers' names: the scripts' names reached the desk's opened facts
    names = {str(r["id"]): r["customer"]["name"] for r in _records()}
    assert {c["id"]: c["customer_name"] for c in convs} == names

    handovers = {text for texts in HANDOVER_TEXTS.values() for text in texts.values()}
    for c in convs:
        # the bot never sends a customer the same text twice
        replies = c["bot_replies"]
        assert isinstance(replies, list) and len(set(replies)) == len(replies), c
        assert c["route"] is not None, c
        replies = c["bot_replies"]
        assert isinstance(replies, list)
        if c["route"] == "ai_ok":
            # the autopilot's answers reached the customer, and nobody queued it
            assert replies and all(r.strip() for r in replies), c
            assert c["queued"] is False and c["mode"] == "ai", c
        else:
            # handed to people: in the queue, out of AI mode, and the customer was told
            assert c["queued"] is True and c["mode"] != "ai", c
            assert c["reason"], c
            assert replies, c
            # once handed over, the autopilot is silent: everything from the first handover on is one
            first = next(i for i, r in enumerate(replies) if r in handovers)
            assert all(r in handovers for r in replies[first:]), c
        if c["route"] == "escalate_urgent":
            assert c["urgency"] == "urgent", c

    # the desk queued every conversation the scripts say needs a person; urgent ones as urgent
    by_id = {c["id"]: c for c in convs}
    for cid, route in expected.items():
        if route == "escalate_urgent":
            assert by_id[cid]["route"] == "escalate_urgent", by_id[cid]
        if route == "needs_human":
            assert by_id[cid]["queued"] is True, by_id[cid]

    assert_nothing_left(run)


def test_headless_text_summary_default_scripts(tmp_path: Path) -> None:
    """The bundled demo set without --json: a readable summary, all three routes shown."""
    run = run_demo(["--headless"], tmp_path)
    assert run.code == 0, run.stderr[-3000:]
    first = run.stdout.splitlines()[0]
    assert first.startswith("12 conversations:"), run.stdout
    for route in ("ai_ok", "needs_human", "escalate_urgent"):
        assert route in first
    assert "\x1b" not in run.stdout and "\x1b" not in run.stderr  # hostile names are made visible
    assert "error" not in run.stdout
    assert_nothing_left(run)
