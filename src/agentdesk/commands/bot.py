"""`agentdesk bot`: run the desk bot beside WuKongIM until SIGINT/SIGTERM (see docs/bot.md).

stdout gets exactly one JSON line once the HTTP port is bound (for scripts and tests):
    {"event":"ready","url":"http://127.0.0.1:8090","webhook_url":"http://127.0.0.1:8090/webhook","pid":123}
and `{"event":"stopped"}` after a clean stop. Logs go to stderr (customer text only ever with repr).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

MANAGER_TOKEN_ENV = "AGENTDESK_MANAGER_TOKEN"
MODEL_KEY_ENV = "AGENTDESK_MODEL_KEY"


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="agentdesk bot",
        description="Run the desk bot: WuKongIM webhooks in, triage, autopilot and routing out. "
        f"The WuKongIM manager token is read from ${MANAGER_TOKEN_ENV}, a model API key from ${MODEL_KEY_ENV}.",
    )
    p.add_argument("--api-url", required=True, help="WuKongIM REST API, e.g. http://127.0.0.1:5001")
    p.add_argument(
        "--listen",
        type=_listen,
        default=("127.0.0.1", 8090),
        metavar="HOST:PORT",
        help="webhook (/webhook), FAQ (/faq.jsonl) and /health (default 127.0.0.1:8090; port 0 = any)",
    )
    p.add_argument(
        "--roster", type=Path, required=True, metavar="FILE", help="roster TOML ([users] uid = role)"
    )
    p.add_argument("--db", type=Path, default=None, metavar="PATH", help="the bot's state (SQLite)")
    p.add_argument(
        "--faq-db", type=Path, default=None, metavar="PATH", help="FAQ cache (default: the bundled FAQ)"
    )
    p.add_argument("--desk-channel", default="desk", metavar="ID", help="desk channel id (default desk)")
    p.add_argument("--default-mode", choices=("ai", "assist"), default="ai", help="mode of new conversations")
    p.add_argument("--bot-uid", default="deskbot", metavar="UID", help="the bot's uid (default deskbot)")
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.3,
        metavar="X",
        help="the autopilot answers only at this draft confidence or above (default 0.3)",
    )
    p.add_argument("--llm-base-url", help="OpenAI-compatible endpoint (none = offline drafter)")
    p.add_argument("--llm-model", help="model name at that endpoint")
    p.add_argument("--connect-timeout", type=float, default=5.0, metavar="S")
    p.add_argument("--read-timeout", type=float, default=20.0, metavar="S")
    p.add_argument("--amount-threshold", type=float, default=500.0, metavar="YUAN")
    p.add_argument(
        "--profile",
        metavar="NAME",
        help="read the manager token and model key saved by `agentdesk login --profile NAME` from the "
        "OS keyring when the environment variables are not set",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from agentdesk import paths
    from agentdesk.ai.types import ModelSettings
    from agentdesk.bot.config import BotConfig
    from agentdesk.desk.protocol import VISITOR_SUFFIX, is_uid
    from agentdesk.desk.rules import Roster, RosterError
    from agentdesk.secrets import SecretStoreError, install_redaction, open_secret_store, remember_secret

    try:
        roster = Roster.load(args.roster)
    except RosterError as exc:
        print(f"agentdesk bot: {exc}", file=sys.stderr)
        return 2
    if not is_uid(args.bot_uid) or args.bot_uid.endswith(VISITOR_SUFFIX) or args.bot_uid in roster.users:
        print(
            f"agentdesk bot: --bot-uid {args.bot_uid!r} must be a uid of its own (not a visitor, not staff)",
            file=sys.stderr,
        )
        return 2
    if args.faq_db is not None and not args.faq_db.is_file():
        print(
            f"agentdesk bot: no FAQ cache at {args.faq_db} (create one with `agentdesk faq import`)",
            file=sys.stderr,
        )
        return 2
    if not 0.0 <= args.min_confidence <= 1.0:
        print("agentdesk bot: --min-confidence must be between 0 and 1", file=sys.stderr)
        return 2
    install_redaction()
    token = os.environ.get(MANAGER_TOKEN_ENV) or None
    model_key = os.environ.get(MODEL_KEY_ENV) or None
    if args.profile and (token is None or model_key is None):
        try:
            store = open_secret_store()
            token = token or store.get(args.profile, "manager_token")
            model_key = model_key or store.get(args.profile, "model_key")
        except (SecretStoreError, ValueError) as exc:
            print(f"agentdesk bot: cannot read the profile's secrets: {exc}", file=sys.stderr)
            return 2
    for secret in (token, model_key):
        if secret:
            remember_secret(secret)  # masked in every log line
    model = None
    if args.llm_base_url or args.llm_model:
        if not (args.llm_base_url and args.llm_model):
            print("agentdesk bot: --llm-base-url and --llm-model go together", file=sys.stderr)
            return 2
        model = ModelSettings(
            base_url=args.llm_base_url,
            model=args.llm_model,
            api_key=model_key or "unused",
            connect_timeout=args.connect_timeout,
            read_timeout=args.read_timeout,
        )
    host, port = args.listen
    cfg = BotConfig(
        api_url=args.api_url,
        roster=roster,
        db_path=args.db if args.db is not None else paths.data_dir() / "deskbot.sqlite3",
        manager_token=token,
        listen_host=host,
        listen_port=port,
        faq_db=args.faq_db,
        desk_channel=args.desk_channel,
        default_mode=args.default_mode,
        bot_uid=args.bot_uid,
        model=model,
        amount_threshold=args.amount_threshold,
        min_confidence=args.min_confidence,
    )
    if token is None:
        print(
            f"agentdesk bot: WARNING: ${MANAGER_TOKEN_ENV} is not set; REST calls carry no token",
            file=sys.stderr,
        )
    try:
        return asyncio.run(_run(cfg))
    except OSError as exc:
        print(f"agentdesk bot: cannot start: {exc}", file=sys.stderr)
        return 1


async def _run(cfg: object) -> int:
    from agentdesk.bot.config import BotConfig
    from agentdesk.bot.service import DeskBot
    from agentdesk.sqlite_db import DatabaseError

    assert isinstance(cfg, BotConfig)
    bot = DeskBot(cfg)
    try:
        await bot.start()
    except DatabaseError as exc:
        print(f"agentdesk bot: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"agentdesk bot: listening on {bot.url} (webhook {bot.webhook_url}), WuKongIM {cfg.api_url}",
        file=sys.stderr,
    )
    ready = {"event": "ready", "url": bot.url, "webhook_url": bot.webhook_url, "pid": os.getpid()}
    print(json.dumps(ready), flush=True)
    code = 0
    waiter = asyncio.create_task(stop.wait())
    try:
        worker = bot.worker
        assert worker is not None
        await asyncio.wait({waiter, worker}, return_when=asyncio.FIRST_COMPLETED)
        if worker.done():
            failure = worker.exception()
            print(f"agentdesk bot: stopped on a fatal error: {failure!r}", file=sys.stderr)
            code = 1
    finally:
        waiter.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await bot.stop()
    print(json.dumps({"event": "stopped"}), flush=True)
    return code
