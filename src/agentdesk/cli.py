"""The composition root: `agentdesk <command> ...`.

Each command lives in `agentdesk.commands.<module>` and is imported only when it runs, so
`agentdesk --help` and `import agentdesk` stay cheap and a broken subsystem cannot break the others.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import cast

from agentdesk import __version__

#: command name -> (module under agentdesk.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "devserver": ("devserver", "run the embedded WuKongIM-compatible server"),
    "im": ("im", "low-level WuKongIM tools: `im listen`, `im send` (JSON lines)"),
    "faq": ("faq", "the offline FAQ cache: import, sync, search, stats"),
    "draft": ("draft", "draft a reply for one conversation file (prompt work and checks)"),
    "bot": ("bot", "run the desk bot beside WuKongIM (webhooks, autopilot, routing)"),
    "login": ("login", "save a profile's settings and its secrets (to the OS keyring)"),
    "logout": ("logout", "remove a profile's secrets from the OS keyring"),
    "demo": ("demo", "the embedded demo: devserver + desk bot + simulated customers (+ console)"),
    "doctor": ("doctor", "check config, keyring, server, token, desk channel, model and FAQ cache"),
}

USAGE = """usage: agentdesk [--version] <command> [args...]
       agentdesk [--server URL --uid U --profile P --theme T --keymap FILE]   (the operator console)

commands:
{commands}

Run `agentdesk <command> --help` for a command's options.
"""


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    return USAGE.format(commands="\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0].startswith("--") and args[0] not in {"--help", "--version"}):
        from agentdesk.commands.console import main as console_main  # the console: no sub-command

        try:
            return console_main(args)
        except KeyboardInterrupt:
            return 130
    if args[0] in {"-h", "--help", "help"}:
        print(_usage(), end="")
        return 0
    if args[0] == "--version":
        print(f"agentdesk {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"agentdesk: unknown command {name!r}\n", file=sys.stderr)
        print(_usage(), end="", file=sys.stderr)
        return 2
    module = importlib.import_module(f"agentdesk.commands.{COMMANDS[name][0]}")
    run = cast(Callable[[list[str]], int], module.main)
    try:
        return run(rest)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
