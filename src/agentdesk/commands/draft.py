"""`agentdesk draft`: draft a reply for one conversation file (prompt work and checks).

    agentdesk draft --conversation FILE [--faq-db PATH] [--offline] [--json] [--show-prompt] [--tone T]
                    [--llm-base-url URL --llm-model NAME]   (API key: env AGENTDESK_MODEL_KEY)

FILE holds one conversation in the shared format (`turns` are the customer's messages); `-` reads stdin.
FAQ: `--faq-db PATH` if given; else the user's cache (`agentdesk.paths.default_faq_db()`) when it exists
and is not empty; else an in-memory store built from the bundled `data/faq.jsonl`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from agentdesk import paths
from agentdesk.ai import Conversation, DraftEngine, DraftResult, ModelSettings
from agentdesk.ai.retrieval import gather_hits
from agentdesk.ai.types import TONES
from agentdesk.faq.store import FaqStore

KEY_ENV = "AGENTDESK_MODEL_KEY"
# Control and format characters (ANSI, C1, bidi overrides, zero-width) never reach the terminal raw.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u2028\u2029]")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="agentdesk draft", description="Draft a reply for one conversation file."
    )
    p.add_argument(
        "--conversation",
        required=True,
        metavar="FILE",
        help="one conversation (shared JSON format), - = stdin",
    )
    p.add_argument(
        "--faq-db", metavar="PATH", help="FAQ cache (default: your cache, else the bundled FAQ in memory)"
    )
    p.add_argument(
        "--offline", action="store_true", help="use the offline drafter even if a model is configured"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"route","reason","confidence","text","faq_ids","language"}',
    )
    p.add_argument(
        "--show-prompt", action="store_true", help="print exactly what would be sent to the model, and exit"
    )
    p.add_argument("--tone", choices=TONES, help="regenerate with a tone")
    p.add_argument("--llm-base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--llm-model", help="model name at that endpoint")
    p.add_argument("--connect-timeout", type=float, default=5.0, metavar="S")
    p.add_argument("--read-timeout", type=float, default=20.0, metavar="S")
    p.add_argument("--amount-threshold", type=float, default=500.0, metavar="YUAN")
    return p


def safe(text: str) -> str:
    """Text for a terminal: control and invisible characters shown as escapes, never interpreted."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def dumps(obj: Any, *, indent: int | None = None) -> str:
    """JSON with readable Chinese but every control/format character escaped (still valid JSON)."""
    return safe(json.dumps(obj, ensure_ascii=False, indent=indent))


def read_conversation(arg: str) -> Conversation:
    raw = sys.stdin.read() if arg == "-" else Path(arg).read_text(encoding="utf-8")
    raw = raw.strip()
    try:
        record = json.loads(raw)
    except json.JSONDecodeError:
        # A JSONL file: take its first record.
        first = next((line for line in raw.split("\n") if line.strip()), "")
        record = json.loads(first)
    if not isinstance(record, dict):
        raise ValueError("the file must hold one JSON object with `turns`")
    return Conversation.from_script(record)


def open_faq(path: str | None) -> tuple[FaqStore, str]:
    """The FAQ store to search, and a short description of where it came from."""
    if path is not None:
        if path != ":memory:" and not Path(path).exists():
            raise FileNotFoundError(f"no FAQ cache at {path}")
        return FaqStore.open(path), path
    cache = paths.default_faq_db()
    if cache.exists():
        store = FaqStore.open(cache)
        if store.count() > 0:
            return store, str(cache)
        store.close()
    from agentdesk.faq.importers import load_jsonl

    bundled = paths.bundled_data_dir() / "faq.jsonl"
    store = FaqStore.open(":memory:")
    store.upsert(load_jsonl(bundled))
    return store, f"bundled {bundled.name} (in memory)"


def settings_from_args(args: argparse.Namespace) -> ModelSettings | None:
    if not args.llm_base_url or not args.llm_model:
        return None
    return ModelSettings(
        base_url=args.llm_base_url,
        model=args.llm_model,
        api_key=os.environ.get(KEY_ENV, "") or "unused",
        connect_timeout=args.connect_timeout,
        read_timeout=args.read_timeout,
    )


async def _draft(
    engine: DraftEngine, conversation: Conversation, hits: list[Any], args: argparse.Namespace, out: TextIO
) -> DraftResult:
    stream = engine.draft(conversation, hits, tone=args.tone, offline=args.offline)
    async for chunk in stream:
        if not args.json:
            out.write(safe(chunk.text))
            out.flush()
    return await stream.result()


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out, err = sys.stdout, sys.stderr
    try:
        conversation = read_conversation(args.conversation)
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deeply
        print(f"agentdesk draft: cannot read the conversation: {safe(str(exc))}", file=err)
        return 2
    try:
        store, faq_source = open_faq(args.faq_db)
    except (OSError, ValueError) as exc:
        print(f"agentdesk draft: {safe(str(exc))}", file=err)
        return 2
    settings = settings_from_args(args)
    engine = DraftEngine(settings, amount_threshold=args.amount_threshold)
    try:
        hits = gather_hits(store.search, conversation)
    finally:
        store.close()
    if args.show_prompt:
        prompt = engine.prompt(conversation, hits, tone=args.tone)
        shown = settings or ModelSettings(base_url="", model="(no model configured)")
        body = prompt.request(
            shown.model, json_mode=shown.json_mode, temperature=shown.temperature, max_tokens=shown.max_tokens
        )
        print(dumps(body, indent=2), file=out)
        return 0
    if not args.json:
        mode = "offline drafter" if settings is None or args.offline else f"model {settings.model}"
        print(f"# faq: {safe(faq_source)}; {mode}", file=err)
    result = asyncio.run(_draft(engine, conversation, hits, args, out))
    if args.json:
        print(dumps(result.as_json()), file=out)
        return 0
    out.write("\n\n")
    if result.replaced_stream:
        out.write("# the streamed text was replaced by:\n" + safe(result.text) + "\n\n")
    lines = [
        f"route:      {result.route}",
        f"reason:     {safe(result.reason)}",
        f"confidence: {result.confidence:.2f}",
        f"faq_ids:    {', '.join(result.faq_ids) or '-'}",
        f"language:   {result.language}",
        f"source:     {result.source}"
        + (f" (fallback: {safe(result.fallback_reason)})" if result.fallback_reason else ""),
    ]
    if result.violations:
        lines.append(f"violations: {safe('; '.join(result.violations))}")
    out.write("\n".join(lines) + "\n")
    return 0
