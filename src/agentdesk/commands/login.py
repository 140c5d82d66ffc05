"""`agentdesk login`: save a profile's settings to config.toml and its secrets to the OS keyring.

Interactive (the default) asks with hidden input for the IM token (required), the model API key and the
manager token (both optional: Enter skips and leaves any saved value as it is). ``--non-interactive`` (for
scripts) reads ``AGENTDESK_TOKEN`` / ``AGENTDESK_MODEL_KEY`` / ``AGENTDESK_MANAGER_TOKEN``, or the IM token
from stdin when stdin is not a terminal. Only the settings given as flags (or typed at a prompt) are written
to the profile. Output names what was saved and where, never a value.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Mapping
from typing import TextIO

from agentdesk.config import ROLES, ConfigError, Settings, check_setting, load_settings, save_profile
from agentdesk.secrets import (
    SECRET_LABELS,
    SECRET_NAMES,
    PlainFileSecretStore,
    SecretStore,
    SecretStoreError,
    open_secret_store,
    redact,
    remember_secret,
)

#: where --non-interactive reads each secret from
SECRET_ENV = {
    "im_token": "AGENTDESK_TOKEN",
    "model_key": "AGENTDESK_MODEL_KEY",
    "manager_token": "AGENTDESK_MANAGER_TOKEN",
}
#: flag dest -> profile key
FLAG_KEYS = ("server", "ws", "uid", "role", "llm_base_url", "llm_model")
PROMPT_ATTEMPTS = 3


class LoginError(Exception):
    """A message for the user; exit code 2 (usage) or 1 (runtime)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="agentdesk login",
        description="Save a profile's settings to config.toml and its secrets to the OS keyring.",
        epilog="Secrets: AGENTDESK_TOKEN, AGENTDESK_MODEL_KEY, AGENTDESK_MANAGER_TOKEN (with --non-interactive). "
        "See docs/configuration.md.",
    )
    p.add_argument(
        "--profile",
        metavar="NAME",
        help="profile to save (default: AGENTDESK_PROFILE, the file's default_profile, or 'default')",
    )
    p.add_argument("--server", metavar="URL", help="WuKongIM REST API URL, http(s)://")
    p.add_argument("--ws", metavar="URL", help="WuKongIM WebSocket URL, ws(s):// (optional)")
    p.add_argument("--uid", metavar="UID", help="your WuKongIM user id")
    p.add_argument("--role", choices=ROLES, help="agent, supervisor or admin")
    p.add_argument("--llm-base-url", metavar="URL", help="OpenAI-compatible model endpoint")
    p.add_argument("--llm-model", metavar="MODEL", help="model name")
    p.add_argument(
        "--non-interactive",
        action="store_true",
        help="no prompts: secrets from AGENTDESK_TOKEN / AGENTDESK_MODEL_KEY / AGENTDESK_MANAGER_TOKEN, "
        "or the IM token from stdin",
    )
    p.add_argument(
        "--insecure-file-store",
        action="store_true",
        help="keep secrets in a plain file instead of the OS keyring (not recommended)",
    )
    return p


def _clean_secret(value: str, label: str, where: str) -> str:
    value = value.strip()
    if any(c.isspace() or not c.isprintable() for c in value):
        # never echo the value
        raise LoginError(
            f"the {label} from {where} contains spaces, line breaks or control characters; pass exactly one token"
        )
    return value


def _secrets_non_interactive(env: Mapping[str, str], stdin: TextIO) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in SECRET_NAMES:
        var = SECRET_ENV[name]
        raw = env.get(var)
        if raw:
            found[name] = _clean_secret(raw, SECRET_LABELS[name], var)
    if "im_token" not in found:
        if stdin.isatty():
            raise LoginError(
                "--non-interactive needs the IM token: set AGENTDESK_TOKEN or pipe it on stdin "
                "(e.g. `printf '%s\\n' \"$TOKEN\" | agentdesk login --non-interactive`)"
            )
        raw = stdin.read()
        token = _clean_secret(raw, "IM token", "stdin")
        if not token:
            raise LoginError(
                "--non-interactive: stdin was empty and AGENTDESK_TOKEN is not set; give the IM token"
            )
        found["im_token"] = token
    return found


def _secrets_interactive(ask: Callable[[str], str], settings: Settings) -> dict[str, str]:
    who = f"{settings.profile.uid} on {settings.profile.server}"
    found: dict[str, str] = {}
    for _ in range(PROMPT_ATTEMPTS):
        token = _clean_secret(ask(f"IM token for {who} (hidden): "), "IM token", "the prompt")
        if token:
            found["im_token"] = token
            break
        print("The IM token is required.", file=sys.stderr)
    else:
        raise LoginError("no IM token given")
    for name in ("model_key", "manager_token"):
        label = SECRET_LABELS[name]
        value = _clean_secret(ask(f"{label} (hidden; Enter to skip): "), label, "the prompt")
        if value:
            found[name] = value
    return found


def _ask_setting(key: str, prompt: str, overrides: dict[str, str | None], env: Mapping[str, str]) -> Settings:
    for _ in range(PROMPT_ATTEMPTS):
        value = input(prompt).strip()
        if not value:
            continue
        problem = check_setting(key, value)
        if problem:
            print(problem, file=sys.stderr)
            continue
        overrides[key] = value
        return load_settings(overrides, environ=env)
    raise LoginError(f"no valid {key} given")


def run(args: argparse.Namespace, *, env: Mapping[str, str], stdin: TextIO, out: TextIO) -> int:
    overrides: dict[str, str | None] = {key: getattr(args, key) for key in FLAG_KEYS}
    overrides["profile"] = args.profile
    if args.insecure_file_store:
        overrides["secret_store"] = "file"
    settings = load_settings(overrides, environ=env)
    interactive = not args.non_interactive
    if interactive and not stdin.isatty():
        raise LoginError(
            "stdin is not a terminal, so login cannot prompt; use --non-interactive (secrets from "
            "AGENTDESK_TOKEN / AGENTDESK_MODEL_KEY / AGENTDESK_MANAGER_TOKEN, or the IM token on stdin)"
        )

    # the store first: no point asking for a token that cannot be kept
    store: SecretStore = open_secret_store(
        settings.secret_store, insecure_file_store=args.insecure_file_store, warn=False
    )
    if isinstance(store, PlainFileSecretStore):
        print(store.warning, file=sys.stderr)

    name = settings.profile_name
    for key, label in (("server", "WuKongIM REST URL (e.g. http://localhost:5001)"), ("uid", "your user id")):
        if getattr(settings.profile, key) is None:
            if not interactive:
                flag = "--" + key
                raise LoginError(
                    f"profile {name!r} has no {key}: pass {flag} (or set AGENTDESK_{key.upper()})"
                )
            settings = _ask_setting(key, f"{label}: ", overrides, env)

    secrets = (
        _secrets_non_interactive(env, stdin)
        if not interactive
        else _secrets_interactive(getpass.getpass, settings)
    )
    for value in secrets.values():
        remember_secret(value)

    to_save = {key: overrides[key] for key in FLAG_KEYS if overrides.get(key) is not None}
    for secret_name, value in secrets.items():
        store.set(name, secret_name, value)
        print(f"saved {secret_name} to {store.description}", file=out)
    for secret_name in SECRET_NAMES:
        if secret_name not in secrets:
            print(f"{secret_name}: not given, left as it was", file=out)

    path = save_profile(name, to_save, path=settings.config_path)
    saved = ", ".join(to_save) if to_save else "no settings changed"
    print(f"profile {name!r}: {saved} ({path})", file=out)
    if settings.sources.get("secret_store") == "--insecure-file-store":
        print(
            "note: other commands use the plain-file store only with --insecure-file-store or with "
            f'secret_store = "file" at the top of {path}',
            file=out,
        )
    for key in ("server", "uid"):
        source = settings.sources.get(key, "default")
        if key not in to_save and source.startswith("AGENTDESK_"):
            print(
                f"note: {key} comes from {source} and was not saved to the profile; pass --{key} to save it",
                file=out,
            )
    return 0


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args, env=os.environ, stdin=sys.stdin, out=sys.stdout)
    except ConfigError as e:
        print(f"agentdesk login: configuration problem:\n{e}", file=sys.stderr)
        return 2
    except LoginError as e:
        print(f"agentdesk login: {e}", file=sys.stderr)
        return e.code
    except SecretStoreError as e:
        print(f"agentdesk login: {e}", file=sys.stderr)
        return 1
    except Exception:  # a bug: show the traceback, with every secret this process has handled masked
        import traceback

        print(redact(traceback.format_exc()), file=sys.stderr)
        return 1
    except EOFError:
        print("agentdesk login: input ended before login was complete; nothing more saved", file=sys.stderr)
        return 1
