"""`agentdesk doctor`: is everything the console needs in place? (docs/doctor.md)

Checks the configuration, the keyring and which secrets are saved (never their values), the REST API and
the manager token, a WebSocket login, the desk channel, the model endpoint and the FAQ cache. Text by
default, ``--json`` for one object ``{"ok": bool, "checks": [{"name","status","detail","fix"}]}``.
Exit codes: 0 nothing needed is broken (warnings allowed), 1 at least one check failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TextIO

from agentdesk.doctor import Report, diagnose
from agentdesk.secrets import known_secrets, redact
from agentdesk.sim.customer import visible

_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="agentdesk doctor",
        description="Check the configuration, keyring, server, token, desk channel, model and FAQ cache.",
    )
    p.add_argument(
        "--profile", metavar="NAME", help="the profile to check (default: as the console picks it)"
    )
    p.add_argument("--server", metavar="URL", help="check this REST API URL instead of the profile's")
    p.add_argument("--uid", metavar="UID", help="check this user id instead of the profile's")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S", help="network timeout per check (5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not args.timeout > 0:
        print("agentdesk doctor: --timeout must be positive", file=sys.stderr)
        return 2
    overrides = {"profile": args.profile, "server": args.server, "uid": args.uid}
    report = asyncio.run(diagnose(overrides, net_timeout=args.timeout))
    if args.json:
        print(_scrub(json.dumps(report.as_json(), ensure_ascii=False)))
    else:
        print_report(report, sys.stdout)
    return 0 if report.ok else 1


def _scrub(text: str) -> str:
    """Belt and braces: no check puts a secret in its text, but mask any the process has read."""
    return redact(text, known_secrets())


def print_report(report: Report, out: TextIO) -> None:
    for c in report.checks:
        print(_scrub(visible(f"{_MARK[c.status]}  {c.name}: {c.detail}")), file=out)
        if c.fix and c.status != "ok":
            print(_scrub(visible(f"      fix: {c.fix}")), file=out)
    failed = [c.name for c in report.checks if c.status == "fail"]
    warned = [c.name for c in report.checks if c.status == "warn"]
    if failed:
        print(f"\n{len(failed)} problem(s) to fix: {', '.join(failed)}", file=out)
    elif warned:
        print(f"\nready, with {len(warned)} warning(s): {', '.join(warned)}", file=out)
    else:
        print("\neverything is ready", file=out)
