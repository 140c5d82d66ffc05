"""Settings: defaults < TOML file < ``AGENTDESK_*`` environment < command-line flags. Never secrets.

The file is ``agentdesk.paths.config_dir()/config.toml`` (``AGENTDESK_CONFIG`` names another file)::

    default_profile = "work"
    # secret_store = "file"        # opt in to the plain-file secret store (not recommended)

    [profiles.work]
    server = "https://im.example.com"
    uid = "alice"
    role = "supervisor"

Every problem is reported with the key, where the value came from (file, environment variable or flag)
and the fix, all problems at once. Unknown keys are errors, not warnings: a typo such as ``sever = ...``
would otherwise silently fall back to a default and point the console at the wrong place. Keys that look
like secrets (token, api_key, password, ...) are refused: secrets go to the OS keyring (`agentdesk login`).

Reading uses tomllib. Writing (``save_profile`` / ``remove_profile``) edits only the one ``[profiles.NAME]``
table in the text, so comments and the other profiles stay as they were; the result is re-parsed and
checked, and only if that text edit cannot be verified is the document re-serialised by a small writer
for flat tables. Writes are atomic (temp file + ``os.replace``) with mode 0600. This module imports no
keyring and does no work at import.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import SplitResult, urlsplit

from agentdesk import paths

ROLES: Final = ("agent", "supervisor", "admin")
MODES: Final = ("ai", "assist")
SECRET_STORES: Final = ("keyring", "file")
VISITOR_SUFFIX: Final = "___vstr"
DEFAULT_PROFILE: Final = "default"
CONFIG_FILE_NAME: Final = "config.toml"

Role = Literal["agent", "supervisor", "admin"]
Mode = Literal["ai", "assist"]
SecretStoreKind = Literal["keyring", "file"]

_PROFILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SECRET_KEY = re.compile(
    r"(token|passw(or)?d|passphrase|secret|api[_-]?key|apikey|model[_-]?key|credential|private[_-]?key|auth)",
    re.IGNORECASE,
)
_SECRET_QUERY = re.compile(r"(^|[?&;])[^=&;]*(token|key|secret|passw|auth|sig)[^=&;]*=", re.IGNORECASE)


class ConfigError(Exception):
    """One or more configuration problems; each line names the key, its source and the fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Profile:
    """The non-secret settings of one profile. Secrets live in the keyring (agentdesk.secrets)."""

    name: str = DEFAULT_PROFILE
    server: str | None = None  # WuKongIM REST API base URL, http(s)://
    ws: str | None = None  # WebSocket URL, ws(s)://; None = ask the server (route API)
    uid: str | None = None
    role: Role = "agent"
    desk_channel: str = "desk"
    llm_base_url: str | None = None  # OpenAI-compatible endpoint; None = offline drafter
    llm_model: str | None = None
    faq_sync_url: str | None = None
    theme: str | None = None
    keymap: Path | None = None
    # the desk bot
    bot_listen: str = "127.0.0.1:8787"  # webhook receiver host:port
    roster: Path | None = None
    default_mode: Mode = "assist"
    bot_uid: str = "deskbot"


#: Keys of a `[profiles.NAME]` table, in the order they are written.
PROFILE_KEYS: Final[tuple[str, ...]] = tuple(f.name for f in fields(Profile) if f.name != "name")
#: Keys allowed at the top level of the file.
TOP_LEVEL_KEYS: Final = ("default_profile", "secret_store", "profiles")
#: Environment variable for each profile key (AGENTDESK_PROFILE selects the profile).
ENV_VARS: Final[dict[str, str]] = {key: f"AGENTDESK_{key.upper()}" for key in PROFILE_KEYS}
PROFILE_ENV: Final = "AGENTDESK_PROFILE"
CONFIG_ENV: Final = "AGENTDESK_CONFIG"

_URL_SCHEMES: Final[dict[str, tuple[str, ...]]] = {
    "server": ("http", "https"),
    "ws": ("ws", "wss"),
    "llm_base_url": ("http", "https"),
    "faq_sync_url": ("http", "https"),
}
_PATH_KEYS: Final = ("keymap", "roster")


@dataclass(frozen=True)
class Settings:
    """The resolved settings: the selected profile, the file they came from, and each value's source."""

    profile: Profile
    config_path: Path
    secret_store: SecretStoreKind = "keyring"
    #: key -> "default", the file path with the dotted key, "AGENTDESK_X" or "--flag"
    sources: Mapping[str, str] = field(default_factory=dict)
    #: True when the file has a `[profiles.NAME]` table for this profile
    profile_in_file: bool = False

    @property
    def profile_name(self) -> str:
        return self.profile.name

    def require(self, key: str) -> str:
        """The value of a key that must be set (server, uid, ...), or a ConfigError saying how to set it."""
        value = getattr(self.profile, key)
        if value is None or value == "":
            name = self.profile.name
            flag = "--" + key.replace("_", "-")
            raise ConfigError(
                [
                    f"profile {name!r} has no {key}: run `agentdesk login --profile {name} {flag} ...`, "
                    f"or set {ENV_VARS.get(key, key)}, or pass {flag}"
                ]
            )
        return str(value)


def config_path() -> Path:
    """The configuration file: `AGENTDESK_CONFIG`, else config_dir()/config.toml."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    return paths.config_dir() / CONFIG_FILE_NAME


# --------------------------------------------------------------------------------------------- loading


def _toml_value(value: object) -> str:
    """A value as it would be written in TOML (for messages and the writer)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, default=str, ensure_ascii=False)


def _toml_string(value: str) -> str:
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


@dataclass
class _Source:
    """Where a value came from, to name it in a message."""

    kind: Literal["file", "env", "flag", "input"]
    where: str  # file path, env var name or flag
    key: str  # dotted key for files

    def show(self, value: object) -> str:
        if self.kind == "file":
            return f"{self.where}: {self.key} = {_toml_value(value)}"
        if self.kind == "env":
            return f"environment: {self.where}={_toml_value(value)}"
        if self.kind == "flag":
            return f"flag {self.where} {_toml_value(value)}"
        return f"{self.where} {_toml_value(value)}"

    def label(self) -> str:
        if self.kind == "file":
            return f"{self.where}: {self.key}"
        return self.where


def _suggest_url(value: str, schemes: tuple[str, ...]) -> str:
    secure = {"http": "https", "ws": "wss"}
    swap = {"http": "ws", "https": "wss", "ws": "http", "wss": "https"}
    parts = urlsplit(value)
    if parts.scheme in swap and swap[parts.scheme] in schemes:
        return swap[parts.scheme] + value[len(parts.scheme) :]
    rest = value.split("://", 1)[-1] if "://" in value else value.lstrip("/")
    scheme = schemes[0]
    host = rest.split("/", 1)[0].split(":", 1)[0]
    if host not in {"localhost", "127.0.0.1", "::1", "[::1]"} and "." in host:
        scheme = secure.get(scheme, scheme)
    return f"{scheme}://{rest}"


def _redacted_url(value: str) -> str:
    parts = urlsplit(value)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"***@{netloc}", query="***" if parts.query else "").geturl()


def _check_url(key: str, value: str, src: _Source) -> str | None:
    schemes = _URL_SCHEMES[key]
    parts: SplitResult | None
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a bad port
    except ValueError:
        parts = None
    want = " or ".join(f"{s}://" for s in schemes)
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        fix = f"write {_toml_value(_suggest_url(value, schemes))}"
        if parts is not None and parts.hostname and parts.scheme:
            return f"{src.show(value)} has the wrong scheme (it must be {want}); {fix}"
        return f"{src.show(value)} is not a URL; {fix}"
    if parts.username is not None or parts.password is not None or _SECRET_QUERY.search(parts.query):
        return (
            f"{src.label()} = {_toml_value(_redacted_url(value))} carries credentials in the URL; remove them "
            "and store secrets with `agentdesk login` (they go to the OS keyring)"
        )
    return None


def _check_uid(key: str, value: str, src: _Source) -> str | None:
    if not value.strip():
        return f'{src.show(value)} is empty; write the user id, e.g. {key} = "alice"'
    bad = sorted({c for c in value if c in "@#&" or c.isspace() or not c.isprintable()})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        return f"{src.show(value)} contains {shown}, which WuKongIM user ids cannot contain; remove them"
    if value.endswith(VISITOR_SUFFIX):
        return (
            f"{src.show(value)} ends with {VISITOR_SUFFIX!r}, the suffix WuKongIM reserves for visitors; "
            "use a staff user id without it"
        )
    return None


def _check_listen(value: str, src: _Source) -> str | None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return f'{src.show(value)} is not HOST:PORT; write e.g. "127.0.0.1:8787"'
    return None


def _check_value(key: str, value: object, src: _Source) -> tuple[object, str | None]:
    """(converted value, problem or None) for one profile key."""
    if not isinstance(value, str):
        kind = {bool: "a boolean", int: "a number", float: "a number", dict: "a table", list: "an array"}.get(
            type(value), type(value).__name__
        )
        return value, f"{src.label()} is {kind}; it must be a string, e.g. {key} = {_toml_value(str(value))}"
    if key in _URL_SCHEMES:
        return value, _check_url(key, value, src)
    if key in ("uid", "bot_uid"):
        return value, _check_uid(key, value, src)
    if key == "role" and value not in ROLES:
        return value, f"{src.show(value)} is not a role; write one of {', '.join(map(_toml_value, ROLES))}"
    if key == "default_mode" and value not in MODES:
        return value, f"{src.show(value)} is not a mode; write one of {', '.join(map(_toml_value, MODES))}"
    if key == "bot_listen":
        return value, _check_listen(value, src)
    if key == "desk_channel" and (not value or any(c.isspace() or not c.isprintable() for c in value)):
        return value, f'{src.show(value)} is not a channel id; write e.g. desk_channel = "desk"'
    if key == "theme" and not value.strip():
        return value, f'{src.show(value)} is empty; write a theme name, e.g. theme = "textual-dark"'
    if key in _PATH_KEYS:
        if not value.strip():
            return value, f"{src.show(value)} is empty; write a file path or remove the key"
        return Path(value).expanduser(), None
    return value, None


def check_setting(key: str, value: str) -> str | None:
    """The problem with a value typed at a prompt for profile key `key`, or None when it is valid."""
    if key not in PROFILE_KEYS:
        raise ValueError(f"check_setting: unknown key {key!r}")
    return _check_value(key, value, _Source("input", key, key))[1]


def _unknown_key(key: str, src: _Source, allowed: tuple[str, ...], where: str) -> str:
    if _SECRET_KEY.search(key) and key not in allowed:
        # never echo the value of something that looks like a secret
        return (
            f"{src.label()} looks like a secret; secrets are never kept in the config file. Delete the line "
            "and run `agentdesk login` (it stores secrets in the OS keyring)"
        )
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{src.label()} is not a known {where} key; {hint}valid keys: {', '.join(allowed)}"


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as e:
        raise ConfigError(
            [f"{path}: not UTF-8 ({e.reason} at byte {e.start}); save the file as UTF-8"]
        ) from None
    except OSError as e:
        raise ConfigError(
            [f"{path}: cannot read ({e.strerror}); check the path and its permissions"]
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(
            [f"{path}: not valid TOML ({e}); fix the syntax (format: docs/configuration.md)"]
        ) from None


def _check_document(doc: Mapping[str, Any], path: Path) -> tuple[dict[str, dict[str, object]], list[str]]:
    """Validate the whole file; returns converted profile tables and the problems found."""
    problems: list[str] = []
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            problems.append(_unknown_key(key, _Source("file", str(path), key), TOP_LEVEL_KEYS, "top-level"))
    default = doc.get("default_profile")
    if default is not None and (not isinstance(default, str) or not _PROFILE_NAME.fullmatch(default)):
        src = _Source("file", str(path), "default_profile")
        problems.append(
            f"{src.show(default)} is not a profile name; write the name of a [profiles.NAME] table "
            "(letters, digits, _ and -)"
        )
    store = doc.get("secret_store")
    if store is not None and store not in SECRET_STORES:
        src = _Source("file", str(path), "secret_store")
        problems.append(f'{src.show(store)} is not a secret store; write "keyring" (default) or "file"')
    profiles_raw = doc.get("profiles", {})
    tables: dict[str, dict[str, object]] = {}
    if not isinstance(profiles_raw, dict):
        src = _Source("file", str(path), "profiles")
        problems.append(f"{src.label()} must be tables: write [profiles.NAME] sections")
        return tables, problems
    for name, table in profiles_raw.items():
        prefix = f"profiles.{_toml_key(name)}"
        if not _PROFILE_NAME.fullmatch(name):
            problems.append(
                f"{path}: [{prefix}] is not a valid profile name; use letters, digits, _ and - (at most 64)"
            )
            continue
        if not isinstance(table, dict):
            problems.append(f"{path}: {prefix} must be a table; write [{prefix}] and its keys below it")
            continue
        converted: dict[str, object] = {}
        for key, value in table.items():
            src = _Source("file", str(path), f"{prefix}.{_toml_key(key)}")
            if key not in PROFILE_KEYS:
                problems.append(_unknown_key(key, src, PROFILE_KEYS, "profile"))
                continue
            converted[key], problem = _check_value(key, value, src)
            if problem:
                problems.append(problem)
        tables[name] = converted
    return tables, problems


def load_settings(
    overrides: Mapping[str, object | None] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """Resolve the settings. `overrides` are CLI flags by key (None = not given); "profile" selects one.

    `environ` defaults to os.environ and `path` to `config_path()`. An empty environment variable counts
    as unset. Raises ConfigError listing every problem.
    """
    env = os.environ if environ is None else environ
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    if path is None:
        override = env.get(CONFIG_ENV)
        path = Path(override).expanduser() if override else paths.config_dir() / CONFIG_FILE_NAME
    doc = _read_file(path)
    tables, problems = _check_document(doc, path)

    # which profile
    name_src: str
    if "profile" in flags:
        name, name_src = str(flags["profile"]), "flag --profile"
    elif env.get(PROFILE_ENV):
        name, name_src = env[PROFILE_ENV], f"environment: {PROFILE_ENV}"
    elif isinstance(doc.get("default_profile"), str):
        name, name_src = doc["default_profile"], f"{path}: default_profile"
    else:
        name, name_src = DEFAULT_PROFILE, "default"
    if not _PROFILE_NAME.fullmatch(name):
        problems.append(
            f"{name_src} = {_toml_value(name)} is not a profile name; use letters, digits, _ and - (at most 64)"
        )

    values: dict[str, object] = {}
    sources: dict[str, str] = dict.fromkeys(PROFILE_KEYS, "default")
    for key, value in tables.get(name, {}).items():
        values[key] = value
        sources[key] = f"{path}: profiles.{name}.{key}"
    for key, var in ENV_VARS.items():
        env_value = env.get(var)
        if env_value:
            converted, problem = _check_value(key, env_value, _Source("env", var, key))
            if problem:
                problems.append(problem)
            values[key] = converted
            sources[key] = var
    for key, raw in flags.items():
        if key in ("profile", "secret_store"):
            continue
        flag = "--" + key.replace("_", "-")
        if key not in PROFILE_KEYS:
            raise ValueError(f"load_settings: unknown override {key!r}")  # a programming error
        converted, problem = _check_value(key, raw, _Source("flag", flag, key))
        if problem:
            problems.append(problem)
        values[key] = converted
        sources[key] = flag

    store = flags.get("secret_store") or doc.get("secret_store") or "keyring"
    if flags.get("secret_store") and flags["secret_store"] != doc.get("secret_store"):
        sources["secret_store"] = "--insecure-file-store" if store == "file" else "flag"
    elif doc.get("secret_store"):
        sources["secret_store"] = f"{path}: secret_store"
    else:
        sources["secret_store"] = "default"
    if store not in SECRET_STORES:
        problems.append(f'flag secret_store {_toml_value(store)} must be "keyring" or "file"')
    if problems:
        raise ConfigError(problems)
    profile = replace(Profile(name=name), **values)  # type: ignore[arg-type]  # each value checked above
    return Settings(
        profile=profile,
        config_path=path,
        secret_store="file" if store == "file" else "keyring",
        sources=sources,
        profile_in_file=name in tables,
    )


# --------------------------------------------------------------------------------------------- writing


def _profile_lines(name: str, values: Mapping[str, object]) -> list[str]:
    lines = [f"[profiles.{_toml_key(name)}]"]
    for key in PROFILE_KEYS:
        if key in values and values[key] is not None:
            lines.append(f"{key} = {_toml_value(str(values[key]))}")
    for key, value in values.items():  # keys this version does not know, kept as they were
        if key not in PROFILE_KEYS and value is not None:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    return lines


def _serialise(doc: Mapping[str, Any]) -> str:
    """A full re-serialisation for flat documents (the fallback when a text edit cannot be verified)."""
    lines = [_HEADER.rstrip("\n")]
    for key, value in doc.items():
        if not isinstance(value, dict):
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in doc.items():
        if key == "profiles" and isinstance(value, dict):
            for name, table in value.items():
                lines.append("")
                lines.extend(_profile_lines(name, table))
        elif isinstance(value, dict):
            lines.append("")
            lines.append(f"[{_toml_key(key)}]")
            lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
    return "\n".join(lines) + "\n"


_HEADER = (
    "# agentdesk configuration (format: docs/configuration.md).\n"
    "# Secrets are never kept here: `agentdesk login` stores them in the OS keyring.\n"
)
_TABLE_HEADER = re.compile(r"^\s*\[")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def _section_bounds(lines: list[str], name: str) -> tuple[int, int] | None:
    """(header line, next table's header line) of `[profiles.NAME]`, or None."""
    header = re.compile(
        rf'^\s*\[\s*profiles\s*\.\s*("{re.escape(name)}"|\'{re.escape(name)}\'|{re.escape(name)})\s*\]\s*(#.*)?$'
    )
    for i, line in enumerate(lines):
        if header.match(line):
            end = i + 1
            while end < len(lines) and not _TABLE_HEADER.match(lines[end]):
                end += 1
            return i, end
    return None


def _edit_section(
    lines: list[str], start: int, end: int, old: Mapping[str, Any], new: Mapping[str, Any] | None
) -> list[str]:
    """Edit key lines in place: unchanged keys keep their line (and comment), others are set or dropped."""
    body = lines[start + 1 : end]
    key_lines = [i for i, line in enumerate(body) if _KEY_LINE.match(line)]
    last_key = key_lines[-1] if key_lines else -1
    if new is None:  # drop the table; comments after its last key belong to what follows
        return lines[:start] + body[last_key + 1 :] + lines[end:]
    seen: set[str] = set()
    added = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in new.items() if k not in old]
    out = list(added) if last_key == -1 else []
    for i, line in enumerate(body):
        m = _KEY_LINE.match(line)
        if m:
            key = m.group(1)
            seen.add(key)
            if key in new:
                out.append(
                    line if old.get(key) == new[key] else f"{_toml_key(key)} = {_toml_value(new[key])}"
                )
        else:
            out.append(line)
        if i == last_key:
            out.extend(added)
    return [*lines[: start + 1], *out, *lines[end:]]


def _set_top_level(lines: list[str], key: str, value: str | None) -> list[str]:
    first_table = next((i for i, line in enumerate(lines) if _TABLE_HEADER.match(line)), len(lines))
    out = list(lines)
    for i in range(first_table):
        m = _KEY_LINE.match(out[i])
        if m and m.group(1) == key:
            if value is None:
                del out[i]
            else:
                out[i] = f"{key} = {_toml_string(value)}"
            return out
    if value is not None:
        out.insert(first_table, f"{key} = {_toml_string(value)}")
        if first_table < len(lines):
            out.insert(first_table + 1, "")
    return out


def _edit(text: str, doc: dict[str, Any], new_doc: dict[str, Any], name: str) -> str:
    """Change only profile `name` (and default_profile) in `text`; fall back to re-serialising."""
    lines = text.splitlines() if text else _HEADER.splitlines()
    table = new_doc.get("profiles", {}).get(name)
    bounds = _section_bounds(lines, name)
    new_lines = _profile_lines(name, table) if table is not None else []
    if bounds is not None:
        lines = _edit_section(lines, *bounds, doc.get("profiles", {}).get(name, {}), table)
    elif new_lines:
        while lines and not lines[-1].strip():
            lines.pop()
        lines += ["", *new_lines]
    if doc.get("default_profile") != new_doc.get("default_profile"):
        lines = _set_top_level(lines, "default_profile", new_doc.get("default_profile"))
    tidy: list[str] = []
    for line in lines:  # no runs of blank lines left behind by a removal
        if line.strip() or (tidy and tidy[-1].strip()):
            tidy.append(line)
    while tidy and not tidy[-1].strip():
        tidy.pop()
    candidate = "\n".join(tidy) + "\n"
    try:
        if tomllib.loads(candidate) == new_doc:
            return candidate
    except tomllib.TOMLDecodeError:
        pass
    return _serialise(new_doc)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of the config file between processes (POSIX; no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` through a temp file in the same directory and os.replace; `mode` applies."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):
        dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _update(path: Path, name: str, change: Any) -> None:
    if not _PROFILE_NAME.fullmatch(name):
        raise ConfigError(
            [f"profile {name!r} is not a valid name; use letters, digits, _ and - (at most 64)"]
        )
    target = path.resolve() if path.is_symlink() else path  # replace the file a symlink points to
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(target):
        try:
            text = target.read_bytes().decode("utf-8")
        except FileNotFoundError:
            text = ""
        except UnicodeDecodeError as e:
            raise ConfigError([f"{path}: not UTF-8 ({e.reason}); save the file as UTF-8"]) from None
        doc = _read_file(target) if text else {}
        _tables, problems = _check_document(doc, path)
        if problems:
            raise ConfigError(problems)
        new_doc: dict[str, Any] = _deep_copy(doc)
        change(new_doc)
        if not new_doc.get("profiles"):
            new_doc.pop("profiles", None)
        out = _edit(text, doc, new_doc, name)
        write_atomic(target, out.encode("utf-8"))


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def save_profile(
    name: str,
    values: Mapping[str, object | None],
    *,
    path: Path | None = None,
    make_default: bool | None = None,
) -> Path:
    """Set `values` (profile keys; None removes a key) in `[profiles.NAME]`, keeping everything else.

    `make_default`: True sets default_profile; None sets it only when the file has none yet. The values
    are validated first. Returns the path written.
    """
    path = config_path() if path is None else path
    problems = []
    clean: dict[str, str | None] = {}
    for key, value in values.items():
        if key not in PROFILE_KEYS:
            raise ValueError(f"save_profile: unknown key {key!r}")  # a programming error
        if value is None:
            clean[key] = None
            continue
        _converted, problem = _check_value(
            key, str(value), _Source("flag", "--" + key.replace("_", "-"), key)
        )
        if problem:
            problems.append(problem)
        clean[key] = str(value)
    if problems:
        raise ConfigError(problems)

    def change(doc: dict[str, Any]) -> None:
        table = doc.setdefault("profiles", {}).setdefault(name, {})
        for key, value in clean.items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
        if make_default or (make_default is None and "default_profile" not in doc):
            doc["default_profile"] = name

    _update(path, name, change)
    return path


def remove_profile(name: str, *, path: Path | None = None) -> bool:
    """Remove `[profiles.NAME]` (and default_profile if it names it). False when there was none."""
    path = config_path() if path is None else path
    if not path.exists():
        return False
    found = False

    def change(doc: dict[str, Any]) -> None:
        nonlocal found
        found = doc.get("profiles", {}).pop(name, None) is not None
        if doc.get("default_profile") == name:
            del doc["default_profile"]

    _update(path, name, change)
    return found


def file_mode(path: Path) -> int:
    """The permission bits of `path` (for checks and tests)."""
    return stat.S_IMODE(path.stat().st_mode)
