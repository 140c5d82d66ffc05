"""`agentdesk logout`: remove a profile's secrets (IM token, model key, manager token) from the store.

``--forget-profile`` also removes the ``[profiles.NAME]`` table from config.toml. When config.toml cannot
be read, logout still removes the secrets of an explicitly named ``--profile`` (removing credentials must not
depend on a tidy config file).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from agentdesk.config import ConfigError, config_path, load_settings, remove_profile
from agentdesk.secrets import (
    SECRET_NAMES,
    PlainFileSecretStore,
    SecretStoreError,
    open_secret_store,
    redact,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="agentdesk logout",
        description="Remove a profile's secrets from the OS keyring (and optionally the profile itself).",
    )
    p.add_argument("--profile", metavar="NAME", help="profile to log out (default: the current profile)")
    p.add_argument(
        "--forget-profile", action="store_true", help="also remove [profiles.NAME] from config.toml"
    )
    p.add_argument(
        "--insecure-file-store",
        action="store_true",
        help="the secrets were saved with --insecure-file-store (the plain-file store)",
    )
    return p


def run(args: argparse.Namespace, *, env: Mapping[str, str], out: TextIO) -> int:
    overrides: dict[str, str | None] = {"profile": args.profile}
    if args.insecure_file_store:
        overrides["secret_store"] = "file"
    path: Path
    try:
        settings = load_settings(overrides, environ=env)
    except ConfigError as e:
        if not args.profile:
            raise
        print(
            f"agentdesk logout: warning: configuration problem (secrets are removed anyway):\n{e}",
            file=sys.stderr,
        )
        name, kind, path = args.profile, "file" if args.insecure_file_store else "keyring", config_path()
    else:
        name, kind, path = settings.profile_name, settings.secret_store, settings.config_path

    store = open_secret_store(kind, insecure_file_store=args.insecure_file_store, warn=False)
    if isinstance(store, PlainFileSecretStore):
        print(store.warning, file=sys.stderr)
    for secret_name in SECRET_NAMES:
        if store.delete(name, secret_name):
            print(f"removed {secret_name} from {store.description}", file=out)
        else:
            print(f"{secret_name}: none stored for profile {name!r}", file=out)
    if args.forget_profile:
        if remove_profile(name, path=path):
            print(f"removed [profiles.{name}] from {path}", file=out)
        else:
            print(f"profile {name!r} is not in {path}", file=out)
    return 0


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args, env=os.environ, out=sys.stdout)
    except ConfigError as e:
        print(f"agentdesk logout: configuration problem:\n{e}", file=sys.stderr)
        return 2
    except SecretStoreError as e:
        print(f"agentdesk logout: {e}", file=sys.stderr)
        return 1
    except Exception:  # a bug: show the traceback, with every secret this process has handled masked
        import traceback

        print(redact(traceback.format_exc()), file=sys.stderr)
        return 1
