"""Replay the dev conversations through devserver + desk bot (offline drafter) and report the routes.

Each conversation's customer writes its turns one at a time on its own visitors channel (REST sends as
the visitor uid, as a visitor's app would), waiting for the bot to finish with each turn. Afterwards the
desk log (the bot's facts) and the visitors channels are read back over REST, as a console would:

* route taken: ``escalate_urgent`` if the conversation was queued urgent or escalated, ``needs_human`` if it
  was queued at all, else ``ai_ok``;
* autopilot answers: the bot's replies to a customer message (not the handover notices);
* repeated answers: bot replies whose text the customer had already received from the bot (must be 0).

Each turn carries the script's ``customer.name`` as ``"from_name"`` (docs/desk-protocol.md).

    .venv/bin/python benchmarks/replay_routes.py [--data tests/data/conversations_dev.jsonl] [--json]
                                                 [--min-confidence 0.3] [--default-mode ai]

Exit code 1 when an ``escalate_urgent`` conversation received an autopilot answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentdesk.bot.config import BotConfig
from agentdesk.bot.router import client_msg_no
from agentdesk.bot.service import DeskBot
from agentdesk.bot.turns import turn_payload
from agentdesk.desk import protocol as p
from agentdesk.desk.rules import Roster
from agentdesk.devserver.config import DevServerConfig
from agentdesk.devserver.server import DevServer
from agentdesk.wukongim.rest import MessageResp, RestClient

ROOT = Path(__file__).resolve().parents[1]
DEV_SET = ROOT / "tests" / "data" / "conversations_dev.jsonl"
ROUTES = ("ai_ok", "needs_human", "escalate_urgent")
TOKEN = "replay-manager-token"
ROSTER = '[users]\nalice = "agent"\nsam = "supervisor"\n'
#: a safety net for waits, not a measurement
WAIT = 60.0


@dataclass
class Outcome:
    id: str
    expected: str
    taken: str
    turns: int
    autopilot_answers: int
    handovers: int
    repeated_answers: int = 0
    customer_name: str = ""
    reasons: list[str] = field(default_factory=list)


async def _history(rest: RestClient, channel: str, channel_type: int) -> list[MessageResp]:
    out: list[MessageResp] = []
    start = 1
    while True:
        page = await rest.channel_messagesync(
            "deskbot", channel, channel_type, start_message_seq=start, limit=1000, pull_mode=1
        )
        out.extend(page.messages)
        if not page.more or not page.messages:
            return out
        start = page.messages[-1].message_seq + 1


async def _settle(server: DevServer, bot: DeskBot) -> None:
    """The bot processed everything stored so far (its own sends come back as webhooks: idle twice)."""
    await bot.wait_idle(WAIT)
    async with asyncio.timeout(WAIT):
        while True:
            if not server.storage.webhook_backlog():
                break
            await asyncio.sleep(0.01)
    await bot.wait_idle(WAIT)


async def replay(
    conversations: list[dict[str, Any]],
    work_dir: Path,
    *,
    min_confidence: float = 0.3,
    default_mode: str = "ai",
) -> list[Outcome]:
    bot = DeskBot(
        BotConfig(
            api_url="",
            roster=Roster.parse(ROSTER),
            db_path=work_dir / "bot.sqlite3",
            manager_token=TOKEN,
            listen_port=0,
            min_confidence=min_confidence,
            default_mode="assist" if default_mode == "assist" else "ai",
            retry_base=0.05,
            retry_max=0.5,
        )
    )
    await bot.listen()
    server = DevServer(
        DevServerConfig(
            api_port=0,
            ws_port=0,
            data_dir=work_dir / "wk",
            manager_token=TOKEN,
            webhook_url=bot.webhook_url,
            webhook_push_interval=0.01,
            webhook_retry_base=0.05,
        )
    )
    await server.start()
    bot.config.api_url = server.api_url
    rest = RestClient(server.api_url, manager_token=TOKEN)
    outcomes: list[Outcome] = []
    try:
        await bot.start()
        await _settle(server, bot)
        sent: dict[str, list[int]] = {}
        for conv in conversations:
            uid = f"{conv['customer']['uid']}{p.VISITOR_SUFFIX}"
            name = conv["customer"].get("name")
            sent[uid] = []
            for turn in conv["turns"]:
                payload = turn_payload(turn)
                if isinstance(name, str) and name:
                    payload.setdefault("from_name", name)
                r = await rest.message_send(uid, 10, payload, from_uid=uid)
                sent[uid].append(r.message_id)
                await _settle(server, bot)
        facts = [
            f
            for m in await _history(rest, "desk", 2)
            if m.from_uid == "deskbot" and isinstance(f := p.parse_payload(m.payload), p.Fact)
        ]
        for conv in conversations:
            uid = f"{conv['customer']['uid']}{p.VISITOR_SUFFIX}"
            mine = [f for f in facts if f.channel == uid]
            urgent = any(
                (isinstance(f, p.Queued) and f.urgency == "urgent") or isinstance(f, p.Escalated)
                for f in mine
            )
            queued = [f for f in mine if isinstance(f, p.Queued)]
            taken = "escalate_urgent" if urgent else "needs_human" if queued else "ai_ok"
            bot_msgs = [m for m in await _history(rest, uid, 10) if m.from_uid == "deskbot"]
            replies = {m.client_msg_no for m in bot_msgs}
            texts = [m.payload for m in bot_msgs]
            opened = next((f for f in mine if isinstance(f, p.Opened)), None)
            answers = sum(client_msg_no("reply", str(mid)) in replies for mid in sent[uid])
            handovers = sum(
                client_msg_no(k, str(mid)) in replies
                for mid in sent[uid]
                for k in ("handover", "urgent_handover")
            )
            outcomes.append(
                Outcome(
                    id=str(conv["id"]),
                    expected=str(conv["expect"]["route"]),
                    taken=taken,
                    turns=len(conv["turns"]),
                    autopilot_answers=answers,
                    handovers=handovers,
                    repeated_answers=len(texts) - len(set(texts)),
                    customer_name=opened.customer_name if opened is not None else "",
                    reasons=[f.reason for f in queued],
                )
            )
    finally:
        await rest.aclose()
        await bot.stop()
        await server.stop()
    return outcomes


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    matrix = Counter((o.expected, o.taken) for o in outcomes)
    violations = [o.id for o in outcomes if o.expected == "escalate_urgent" and o.autopilot_answers]
    return {
        "conversations": len(outcomes),
        "matrix": {e: {t: matrix[(e, t)] for t in ROUTES} for e in ROUTES},
        "accuracy": round(sum(o.expected == o.taken for o in outcomes) / max(1, len(outcomes)), 3),
        "autopilot_answers": sum(o.autopilot_answers for o in outcomes),
        "conversations_with_autopilot": sum(1 for o in outcomes if o.autopilot_answers),
        "repeated_answers": sum(o.repeated_answers for o in outcomes),
        "urgent_with_autopilot_answer": violations,
        "outcomes": [asdict(o) for o in outcomes],
    }


def render(s: dict[str, Any]) -> str:
    width = max(len(r) for r in ROUTES)
    lines = ["route taken per expected class (rows: expected, columns: taken)", ""]
    lines.append(" " * (width + 2) + "  ".join(t.rjust(width) for t in ROUTES))
    for e in ROUTES:
        lines.append(e.ljust(width + 2) + "  ".join(str(s["matrix"][e][t]).rjust(width) for t in ROUTES))
    lines += [
        "",
        f"conversations: {s['conversations']}, route accuracy: {s['accuracy']:.1%}",
        f"autopilot answers: {s['autopilot_answers']} in {s['conversations_with_autopilot']} conversations",
        f"repeated answers (same text twice to one customer): {s['repeated_answers']}",
        "escalate_urgent conversations that got an autopilot answer: "
        + (", ".join(s["urgent_with_autopilot_answer"]) or "none"),
        "",
    ]
    for o in s["outcomes"]:
        mark = "  " if o["expected"] == o["taken"] else "x "
        lines.append(
            f"{mark}{o['id']}  expected {o['expected']:<15} taken {o['taken']:<15} "
            f"answers {o['autopilot_answers']}/{o['turns']}  handovers {o['handovers']}"
            + (f"  REPEATED {o['repeated_answers']}" if o["repeated_answers"] else "")
            + (f"  ({'; '.join(o['reasons'])})" if o["reasons"] else "")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEV_SET)
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--min-confidence", type=float, default=0.3)
    ap.add_argument("--default-mode", choices=("ai", "assist"), default="ai")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="replay-routes-") as tmp:
        outcomes = asyncio.run(
            replay(
                load(args.data), Path(tmp), min_confidence=args.min_confidence, default_mode=args.default_mode
            )
        )
    s = summary(outcomes)
    s["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(s, ensure_ascii=False, indent=2) if args.json else render(s))
    return 1 if s["urgent_with_autopilot_answer"] else 0


if __name__ == "__main__":
    sys.exit(main())
