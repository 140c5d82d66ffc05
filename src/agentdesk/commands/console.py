"""`agentdesk [--server URL --uid U --profile P --theme T --keymap F --themes-dir D]`: the operator console.

Loads the settings (file < env < flags), builds the console core (`agentdesk.console`), loads themes and
the keymap, then imports the Textual app (only here) and runs it. The IM token comes from the environment
variable `AGENTDESK_TOKEN`, else from the OS keyring (`agentdesk login`); the manager token (for the REST
catch-up on servers that protect it) likewise from `AGENTDESK_MANAGER_TOKEN`, else the keyring. Neither
is ever printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

USAGE = "agentdesk [--server URL] [--uid U] [--profile P] [--theme T] [--keymap FILE] [--themes-dir DIR]"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="agentdesk",
        usage=USAGE,
        description="The operator console. The IM token comes from AGENTDESK_TOKEN or the OS keyring.",
    )
    ap.add_argument("--server", help="WuKongIM REST API base URL (http[s]://…)")
    ap.add_argument("--ws", help="WebSocket URL (default: ask the server's route API)")
    ap.add_argument("--uid", help="your WuKongIM user id")
    ap.add_argument("--profile", help="settings profile (config.toml)")
    ap.add_argument("--role", choices=("agent", "supervisor", "admin"))
    ap.add_argument("--theme", help="theme name (the choice is remembered)")
    ap.add_argument("--keymap", type=Path, help="keymap file (TOML, [keys] id = key)")
    ap.add_argument("--themes-dir", type=Path, action="append", default=[], help="extra themes directory")
    ap.add_argument("--faq-db", type=Path, help="FAQ cache file (default: the user data directory)")
    ap.add_argument("--data-dir", type=Path, help="where the console keeps its caches")
    return ap


def _secret(profile: str, secret_store: str, name: str, env: str) -> str | None:
    """The environment variable `env` if set, else the profile's `name` from the secret store that
    `agentdesk login` writes (`agentdesk.secrets`); None when neither has it or the store can't be read."""
    value = os.environ.get(env)
    if value:
        return value
    try:
        from agentdesk.secrets import open_secret_store

        return open_secret_store(secret_store, warn=False).get(profile, name) or None
    except Exception:
        return None


def _token(profile: str, secret_store: str) -> str | None:
    return _secret(profile, secret_store, "im_token", "AGENTDESK_TOKEN")


def _manager_token(profile: str, secret_store: str) -> str | None:
    return _secret(profile, secret_store, "manager_token", "AGENTDESK_MANAGER_TOKEN")


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    from agentdesk import paths
    from agentdesk.config import ConfigError, load_settings

    overrides: dict[str, object | None] = {
        "server": args.server,
        "ws": args.ws,
        "uid": args.uid,
        "profile": args.profile,
        "role": args.role,
        "theme": args.theme,
        "keymap": str(args.keymap) if args.keymap else None,
    }
    try:
        settings = load_settings(overrides)
        server = settings.require("server")
        uid = settings.require("uid")
    except ConfigError as error:
        for problem in error.problems:
            print(f"agentdesk: {problem}", file=sys.stderr)
        return 2
    profile = settings.profile
    token = _token(profile.name, settings.secret_store)
    if not token:
        print(
            f"agentdesk: no IM token for profile {profile.name!r}: set AGENTDESK_TOKEN or run "
            f"`agentdesk login --profile {profile.name}`",
            file=sys.stderr,
        )
        return 2

    from agentdesk.ai.engine import DraftEngine
    from agentdesk.ai.types import ModelSettings
    from agentdesk.console.core import ConsoleConfig, ConsoleCore

    model = None
    if profile.llm_base_url and profile.llm_model:
        model = ModelSettings(
            profile.llm_base_url, profile.llm_model, os.environ.get("AGENTDESK_MODEL_KEY", "unused")
        )
    data_dir = args.data_dir or paths.data_dir() / "console" / profile.name
    core = ConsoleCore(
        ConsoleConfig(
            uid=uid,
            token=token,
            api_url=server,
            ws_url=profile.ws,
            data_dir=data_dir,
            role=profile.role,
            desk_channel=profile.desk_channel,
            bot_uid=profile.bot_uid,
            faq_db=args.faq_db or paths.default_faq_db(),
            manager_token=_manager_token(profile.name, settings.secret_store),
        ),
        engine=DraftEngine(model),
    )

    from agentdesk.tui.app import make_app
    from agentdesk.tui.keymap import default_keymap_path, load_keymap
    from agentdesk.tui.themes import load_themes

    keymap = load_keymap(profile.keymap or default_keymap_path())
    themes, theme_warnings = load_themes(args.themes_dir)
    app = make_app(
        core,
        keymap=keymap,
        themes=themes,
        theme=args.theme or core.preference("theme") or profile.theme,
        warnings=[*theme_warnings, *keymap.warnings],
        animations=os.environ.get("AGENTDESK_ANIMATIONS", "1") != "0",
        tune_gc=True,
    )
    app.run()
    return 0
