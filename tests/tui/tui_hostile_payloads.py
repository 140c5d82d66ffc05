"""Hostile payloads: every customer name and turn from the dev scripts plus the data README's list."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).parent.parent / "data"

# The data README's hostile list, for the kinds the dev scripts do not carry themselves.
EXTRA_PAYLOADS: tuple[str, ...] = (
    "[bold red]URGENT[/bold red] [blink]x[/blink] [/] [/#888888] [0] [b :smiley: \\[escaped] $var",
    "[link=http://evil.example/login]Your order[/link]",
    "\x1b[2J\x1b[H\x1b[8mconcealed\x1b[0m \x1b[1A\x1b[2K",
    "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07",
    "\x1b]52;c;ZWNobyBwd25lZA==\x07 \x1b]0;owned title\x1b\\",
    "refund approved\rrefund DENIED\x08\x08\x08\x08\x08\x08",
    "nul\x00del\x7fcsi\x9b31mnel\x85end",
    "NW2604\u200b0211\u200c73\u200d56\u2060x\ufeff",
    "invoice_\u202egpj.exe",
    "\u2066isolate\u2069 \u200emark\u200f \u061c",
    "line\u2028sep\u2029para",
    "x" * 5000,
    "👩\u200d👩\u200d👧 🏳️\u200d🌈 🇨🇳 e\u0301 ＮＷ１２３ 👍🏽",
    '<img src="http://evil.example/p.gif"> ![x](http://evil.example/t.png)',
    "\U000e0041\U000e0042 hidden tags",
    "\ud800 lone surrogate",
)


def _dev_payloads() -> list[str]:
    out: list[str] = []
    with (DATA / "conversations_dev.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            out.append(record["customer"]["name"])
            for turn in record["turns"]:
                if isinstance(turn, str):
                    out.append(turn)
                elif isinstance(turn, dict):
                    out.extend(str(value) for value in turn.values() if isinstance(value, str))
    return out


HOSTILE: tuple[str, ...] = (*_dev_payloads(), *EXTRA_PAYLOADS)
