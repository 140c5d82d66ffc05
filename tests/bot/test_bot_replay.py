"""Item 6 of the issue: every dev conversation replayed through devserver + bot (offline drafter).
No conversation that needs an urgent escalation may ever receive an autopilot answer."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPLAY = Path(__file__).resolve().parents[2] / "benchmarks" / "replay_routes.py"


def _replay_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("replay_routes", REPLAY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


async def test_replay_of_the_dev_conversations(tmp_path: Path, data_dir: Path) -> None:
    replay = _replay_module()
    conversations = replay.load(data_dir / "conversations_dev.jsonl")
    outcomes = await replay.replay(conversations, tmp_path)
    s = replay.summary(outcomes)
    assert s["conversations"] == len(conversations) == 30
    urgent = [o for o in outcomes if o.expected == "escalate_urgent"]
    assert urgent, "the dev set has urgent conversations"
    assert s["urgent_with_autopilot_answer"] == [], replay.render(s)
    # ...and every one of them reached a person as urgent, with the customer told once
    assert all(o.taken == "escalate_urgent" and o.handovers == 1 for o in urgent), replay.render(s)
    # the autopilot never sends the same text twice to one customer (findings: repeated answers)
    assert s["repeated_answers"] == 0, replay.render(s)
    # every customer's display name (the scripts' customer.name, sent as from_name) reached the desk
    names = {str(c["id"]): c["customer"]["name"] for c in conversations}
    assert {o.id: o.customer_name for o in outcomes} == names
    # not vacuous: the bot does answer on its own where it may
    assert s["conversations_with_autopilot"] > 0
    assert all(o.autopilot_answers == 0 for o in outcomes if o.taken == "escalate_urgent" and o.turns == 1)
