"""`agentdesk demo`: devserver + desk bot + FAQ + simulated customers, then the console (docs/demo.md).

* ``agentdesk demo [--as agent|supervisor]``: the live demo with the console, as ``alice`` (agent) or
  ``sam`` (supervisor). Customers replay the bundled scripts at a readable pace.
* ``agentdesk demo --headless [--duration S] [--conversations FILE] [--json]``: no console; replay the
  scripts as fast as sensible and print a summary (``--json``: one object, see docs/demo.md).

No network, no model (``--llm-base-url`` to use one), no child process: everything runs in this process,
so quitting leaves nothing behind. Exit codes: 0 the demo ran (problems of single conversations are in
the summary), 1 it could not start, 2 bad arguments, 130/143 interrupted by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO, cast

from agentdesk.demo import DemoError, DemoOptions, LiveDemo, StaffLogin
from agentdesk.sim.customer import FAST, READABLE, Pace, visible

#: Ctrl+C, kill, and a closed terminal (SSH gone) all stop the demo cleanly
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="agentdesk demo",
        description="Run the embedded demo: a WuKongIM devserver, the desk bot, the Northwind FAQ and "
        "simulated customers, then the console. No network and no model needed.",
    )
    p.add_argument(
        "--as",
        dest="role",
        choices=("agent", "supervisor"),
        default="agent",
        help="open the console as the agent alice (default) or the supervisor sam",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep the demo's data here (default: a temporary directory removed on exit)",
    )
    p.add_argument(
        "--llm-base-url",
        metavar="URL",
        default=None,
        help="OpenAI-compatible model endpoint (default: the offline drafter); key from $AGENTDESK_MODEL_KEY",
    )
    p.add_argument("--llm-model", metavar="MODEL", default=None, help="model name for --llm-base-url")
    p.add_argument(
        "--headless",
        action="store_true",
        help="no console: replay the scripts as fast as sensible and print a summary",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop replaying after S seconds (headless default 600; live: until you quit)",
    )
    p.add_argument(
        "--conversations",
        type=Path,
        default=None,
        metavar="FILE",
        help="conversation scripts (JSON Lines, the shared format); default: the bundled demo set",
    )
    p.add_argument("--json", action="store_true", help="with --headless: print one JSON object")
    p.add_argument("-v", "--verbose", action="store_true", help="log the services at INFO level on stderr")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.duration is not None and not args.duration > 0:
        print("agentdesk demo: --duration must be a positive number of seconds", file=sys.stderr)
        return 2
    if args.json and not args.headless:
        print("agentdesk demo: --json needs --headless", file=sys.stderr)
        return 2
    if args.llm_base_url and not args.llm_base_url.startswith(("http://", "https://")):
        print(
            f"agentdesk demo: --llm-base-url must start with http:// or https:// (got {args.llm_base_url!r})",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    options = DemoOptions(
        data=args.data,
        headless=args.headless,
        duration=args.duration,
        conversations=args.conversations,
        role=args.role,
        llm_base_url=args.llm_base_url,
        llm_model=args.llm_model,
        pace=_pace(args.headless, bool(args.llm_base_url)),
        concurrency=8 if args.headless else 4,
    )
    if args.headless:
        return _headless(options, as_json=args.json)
    return _live(options)


def _pace(headless: bool, model: bool) -> Pace:
    pace = FAST if headless else READABLE
    # a model answers in seconds, not milliseconds (its own timeouts are up to 60 s)
    return replace(pace, reply_timeout=max(pace.reply_timeout, 90.0)) if model else pace


def _stderr_log(line: str) -> None:
    print(f"demo: {visible(line)}", file=sys.stderr, flush=True)


def _headless(options: DemoOptions, *, as_json: bool) -> int:
    from agentdesk.demo import run_headless

    async def go() -> tuple[dict[str, object], int]:
        stop = asyncio.Event()
        got: list[int] = []
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, _on_signal(stop, got, sig))
        try:
            summary = await run_headless(
                options, on_log=_stderr_log, on_activity=None if as_json else _stderr_log, stop=stop
            )
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)
        return summary, (128 + got[0]) if got else 0

    try:
        summary, code = asyncio.run(go())
    except DemoError as exc:
        if as_json:
            print(dump_json({"conversations": [], "errors": [str(exc)]}))
        print(f"agentdesk demo: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(dump_json(summary))
    else:
        print_summary(summary, sys.stdout)
    return code


def dump_json(obj: object) -> str:
    """One line of JSON; escaped ASCII when the text holds lone surrogates (which UTF-8 cannot carry)."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True)
    return text


def _on_signal(stop: asyncio.Event, got: list[int], sig: signal.Signals) -> Callable[[], None]:
    def handler() -> None:
        got.append(int(sig))
        stop.set()

    return handler


def print_summary(summary: dict[str, Any], out: TextIO) -> None:
    """The human-readable summary: one line per conversation (untrusted text made visible)."""
    convs: list[dict[str, Any]] = summary.get("conversations", [])
    routes: dict[str, int] = {}
    for c in convs:
        routes[str(c.get("route"))] = routes.get(str(c.get("route")), 0) + 1
    print(
        f"{len(convs)} conversations: " + ", ".join(f"{k} {v}" for k, v in sorted(routes.items())), file=out
    )
    for c in convs:
        flag = "!" if c.get("errors") else " "
        line = (
            f"{flag} {c.get('id')}: {c.get('route')} (mode {c.get('mode')}, urgency {c.get('urgency')}, "
            f"{len(c.get('bot_replies') or [])} bot repl{'y' if len(c.get('bot_replies') or []) == 1 else 'ies'})"
        )
        if c.get("reason"):
            line += f" — {str(c['reason'])[:100]}"
        print(visible(line), file=out)
        for e in c.get("errors") or []:
            print(visible(f"    error: {e}"), file=out)
    for e in summary.get("errors") or []:
        print(visible(f"error: {e}"), file=out)


CONSOLE_MISSING = (
    "agentdesk demo: the console is not available yet ({why}); running the live demo without it.\n"
    "agentdesk demo: customers, the desk bot and the server are running; watch the log below. "
    "Press Ctrl+C to stop."
)


def _console() -> tuple[Callable[[list[str]], int] | None, str]:
    """The console's entry point, or None and why not (never raises: a half-written console is
    reported, not a traceback)."""
    try:
        module = importlib.import_module("agentdesk.commands.console")
    except ImportError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a console module that fails to import
        return None, f"it failed to load: {type(exc).__name__}: {exc}"
    entry = getattr(module, "main", None)
    if not callable(entry):
        return None, "agentdesk.commands.console has no main()"
    return cast(Callable[[list[str]], int], entry), ""


def console_argv(login: StaffLogin) -> list[str]:
    """The console's flags for the demo's server (the tokens go through the environment)."""
    return [
        "--server",
        login.api_url,
        "--ws",
        login.ws_url,
        "--uid",
        login.uid,
        "--role",
        login.role,
        "--faq-db",
        str(login.faq_db),
        "--data-dir",
        str(login.data_dir / "console"),
    ]


def console_env(login: StaffLogin, options: DemoOptions) -> dict[str, str]:
    """Environment for the console in the demo: its token, the manager token, the desk settings and a
    config file of its own (absent), so nothing of the user's profile or keyring is read or written."""
    env = {
        "AGENTDESK_TOKEN": login.token,
        "AGENTDESK_MANAGER_TOKEN": login.manager_token,
        "AGENTDESK_CONFIG": str(login.data_dir / "console-config.toml"),
        "AGENTDESK_PROFILE": "demo",
        "AGENTDESK_DESK_CHANNEL": login.desk_channel,
        "AGENTDESK_BOT_UID": login.bot_uid,
        "AGENTDESK_LLM_BASE_URL": options.llm_base_url or "",
        "AGENTDESK_LLM_MODEL": options.llm_model or "",
    }
    return env


def _live(options: DemoOptions) -> int:
    entry, why = _console()
    #: with the console on screen the live log is kept (bounded) and shown only if the console fails
    lines: deque[str] = deque(maxlen=40)
    log_sink: Callable[[str], None] = _stderr_log if entry is None else lines.append
    live = LiveDemo(options, on_log=log_sink)
    got: list[int] = []
    stop = threading.Event()

    def on_signal(sig: int, frame: object) -> None:
        got.append(sig)
        stop.set()
        if entry is not None:
            raise KeyboardInterrupt  # ends the console's run loop; the finally below cleans up

    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    try:
        try:
            login = live.start()
        except DemoError as exc:
            print(f"agentdesk demo: {exc}", file=sys.stderr)
            return 1
        who = f"{login.uid} ({login.role})"
        if entry is None:
            print(CONSOLE_MISSING.format(why=why), file=sys.stderr)
            print(
                f"agentdesk demo: staff login for another console: {who} on {login.api_url}", file=sys.stderr
            )
            while not stop.is_set() and not live.wait(0.2):
                pass
            return 128 + got[0] if got else 0
        print(f"agentdesk demo: opening the console as {who}…", file=sys.stderr)
        env = console_env(login, options)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            code = entry(console_argv(login))
        except KeyboardInterrupt:
            code = 128 + got[0] if got else 130
        except Exception as exc:  # a broken console: say so, never a traceback
            print(f"agentdesk demo: the console failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            for line in lines:
                _stderr_log(line)
            code = 1
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        return code
    finally:
        if entry is None:
            print("agentdesk demo: stopping…", file=sys.stderr)
        live.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        if entry is None:
            print("agentdesk demo: stopped; nothing is left running", file=sys.stderr)
