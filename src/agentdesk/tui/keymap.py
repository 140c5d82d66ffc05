"""The user's keymap file: command id → keys, validated against the registry, never fatal.

Format (TOML, `keymap.toml` in the config directory; TOML because the rest of agentdesk's config is
TOML and its tables/arrays say exactly what is meant):

    [keys]
    approve-draft = "f5"                  # replaces the default keys
    send-reply = ["ctrl+s", "f5"]         # several keys: an array (or "ctrl+s,f5")
    discard-draft = []                    # no key (still in the palette and help screen)
    quit = "f10"                          # quit: ADDS f10; ctrl+q always quits

Every problem becomes one warning naming the file, the id and the fix, and that entry (or that key) is
ignored; loading never raises. The same rules apply to a `[keymap]`-style table embedded elsewhere
(`keymap_from_mapping`).
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agentdesk.tui.commands import (
    QUIT,
    QUIT_KEY,
    CommandRegistry,
    InvalidKey,
    normalize_key,
    scopes_overlap,
)

__all__ = ["Keymap", "default_keymap_path", "keymap_from_mapping", "load_keymap"]

KEYMAP_FILE = "keymap.toml"


def default_keymap_path() -> Path:
    """`keymap.toml` in the agentdesk config directory (computed when called, never at import)."""
    from agentdesk.paths import config_dir

    return config_dir() / KEYMAP_FILE


@dataclass(frozen=True, slots=True)
class Keymap:
    """Validated overrides: command id → the keys that replace its defaults."""

    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    source: str | None = None


def _did_you_mean(command_id: str, registry: CommandRegistry) -> str:
    close = difflib.get_close_matches(command_id, registry.ids(), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def keymap_from_mapping(
    table: Mapping[str, object], source: str, registry: CommandRegistry | None = None
) -> Keymap:
    """Validate an id → key(s) table (already parsed) against the registry."""
    if registry is None:
        from agentdesk.tui.command_set import default_registry

        registry = default_registry()
    warnings: list[str] = []
    result: dict[str, tuple[str, ...]] = {}
    claimed: dict[str, str] = {}  # key → id of the keymap entry that took it (first one wins)

    for command_id, value in table.items():
        where = f"{source}: [keys] {command_id!r}"
        if command_id not in registry:
            warnings.append(
                f"{where}: unknown command id; {_did_you_mean(str(command_id), registry)}"
                "the ids are listed in docs/commands.md. Entry ignored."
            )
            continue
        if isinstance(value, str):
            raw_keys = [part for part in value.split(",") if part.strip()]
            if value.strip() and not raw_keys:
                warnings.append(
                    f"{where}: {value!r} has no key in it (write 'comma' for the , key). Entry ignored."
                )
                continue
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            raw_keys = list(value)
        else:
            warnings.append(
                f'{where}: expected a key string or an array of key strings (e.g. "ctrl+s" or '
                f'["ctrl+s", "f5"]), got {type(value).__name__}. Entry ignored.'
            )
            continue
        command = registry.get(command_id)
        keys: list[str] = []
        for raw in raw_keys:
            try:
                key = normalize_key(raw)
            except InvalidKey as error:
                warnings.append(f"{where}: {error}; fix the key or remove it. Key ignored.")
                continue
            if key == QUIT_KEY and command_id != QUIT:
                warnings.append(f"{where}: {QUIT_KEY} always quits and cannot be rebound. Key ignored.")
                continue
            owner = claimed.get(key)
            if (
                owner is not None
                and owner != command_id
                and scopes_overlap(registry.get(owner).scope, command.scope)
            ):
                warnings.append(
                    f"{where}: {key!r} is already given to {owner!r} earlier in the keymap; "
                    "choose another key. Key ignored."
                )
                continue
            if key not in keys:
                keys.append(key)
        if raw_keys and not keys:
            warnings.append(f"{where}: no usable key left, so the default keys stay.")
            continue
        if command_id == QUIT and not keys:
            warnings.append(f"{where}: {QUIT_KEY} always quits; an empty entry has no effect.")
            continue
        for key in keys:
            claimed.setdefault(key, command_id)
        result[command_id] = tuple(key for key in keys if key != QUIT_KEY)
        if command_id == QUIT:
            result[command_id] = (QUIT_KEY, *result[command_id])
    return Keymap(result, tuple(warnings), source)


def load_keymap(path: Path, registry: CommandRegistry | None = None) -> Keymap:
    """Load `path` (TOML, a `[keys]` table). A missing file is an empty keymap, not an error."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return Keymap(source=source)
    except (OSError, UnicodeDecodeError) as error:
        return Keymap(
            warnings=(f"{source}: cannot read the keymap ({error}); default keys used.",), source=source
        )
    except tomllib.TOMLDecodeError as error:
        return Keymap(
            warnings=(f"{source}: not valid TOML ({error}); fix the file. Default keys used.",), source=source
        )
    warnings: list[str] = []
    for section in data:
        if section != "keys":
            warnings.append(f"{source}: unknown section [{section}]; put bindings under [keys]. Ignored.")
    table = data.get("keys", {})
    if not isinstance(table, dict):
        warnings.append(f"{source}: 'keys' must be a table ([keys]); default keys used.")
        table = {}
    keymap = keymap_from_mapping(table, source, registry)
    return Keymap(keymap.keys, (*warnings, *keymap.warnings), source)
