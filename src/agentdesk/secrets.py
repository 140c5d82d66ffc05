"""Secrets (IM token, model API key, the bot's manager token) live in the OS keyring, per profile.

* `KeyringSecretStore`: service ``agentdesk``, username ``"{profile}:{name}"``. It refuses keyring's
  fail/null backends and, unless chosen explicitly through ``PYTHON_KEYRING_BACKEND`` or keyringrc.cfg, the
  plain-text backends of ``keyrings.alt``, with a `NoKeyringError` that says how to get a real keyring.
* `PlainFileSecretStore`: an opt-in plain JSON file (mode 0600), only with ``--insecure-file-store`` or
  ``secret_store = "file"`` in config.toml; it warns loudly every time it is opened.
* `MemorySecretStore`: for tests.

A secret value never goes into an exception message, a repr or a log record from this module. Every value a
store reads or writes is added to `known_secrets()`, which `SecretRedactingFilter` (a logging filter the
bot and console install) and `redact()` mask.

keyring is imported lazily (when a `KeyringSecretStore` is built), so importing this module is cheap.
"""

from __future__ import annotations

import abc
import json
import logging
import os
import stat
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final, NoReturn

SERVICE: Final = "agentdesk"
SECRET_NAMES: Final = ("im_token", "model_key", "manager_token")
MASK: Final = "***"
#: what each secret is, for prompts and messages
SECRET_LABELS: Final[Mapping[str, str]] = {
    "im_token": "IM token",
    "model_key": "model API key",
    "manager_token": "manager token",
}

log = logging.getLogger(__name__)

_known: set[str] = set()
_known_lock = threading.Lock()


def remember_secret(value: str) -> None:
    """Add a value to the set that `redact`/`SecretRedactingFilter` mask by default."""
    if value:
        with _known_lock:
            _known.add(value)


def known_secrets() -> frozenset[str]:
    with _known_lock:
        return frozenset(_known)


class SecretStoreError(Exception):
    """A secret store failed. The message names the backend and the operation, never the value."""


class NoKeyringError(SecretStoreError):
    """No usable OS keyring backend; the message says how to get one."""


def _check_name(profile: str, name: str) -> None:
    if name not in SECRET_NAMES:
        raise ValueError(f"unknown secret name {name!r}; expected one of {', '.join(SECRET_NAMES)}")
    if not profile or ":" in profile:
        raise ValueError(f"invalid profile name {profile!r}")


class SecretStore(abc.ABC):
    """get/set/delete one secret (`name` in SECRET_NAMES) of one profile."""

    #: a short human name of where secrets go, e.g. "the keyring (SecretService)"
    description: str = "secret store"

    @abc.abstractmethod
    def get(self, profile: str, name: str) -> str | None: ...

    @abc.abstractmethod
    def set(self, profile: str, name: str, value: str) -> None: ...

    @abc.abstractmethod
    def delete(self, profile: str, name: str) -> bool:
        """Remove a secret; False when there was none."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


class MemorySecretStore(SecretStore):
    """In-memory store for tests."""

    description = "memory"

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], str] = {}

    def get(self, profile: str, name: str) -> str | None:
        _check_name(profile, name)
        value = self._values.get((profile, name))
        if value is not None:
            remember_secret(value)
        return value

    def set(self, profile: str, name: str, value: str) -> None:
        _check_name(profile, name)
        remember_secret(value)
        self._values[(profile, name)] = value

    def delete(self, profile: str, name: str) -> bool:
        _check_name(profile, name)
        return self._values.pop((profile, name), None) is not None


# ------------------------------------------------------------------------------------------ keyring


def no_keyring_message(reason: str) -> str:
    """How to get a keyring backend, on every platform (the NoKeyringError text)."""
    env_backend = os.environ.get("PYTHON_KEYRING_BACKEND")
    lines = [f"no usable OS keyring: {reason}.", "agentdesk keeps secrets only in a keyring. To get one:"]
    if env_backend:
        lines.append(
            f"  * PYTHON_KEYRING_BACKEND={env_backend} is set in your environment and selects that "
            "backend; unset it to let keyring find the system keyring."
        )
    lines += [
        "  * Linux desktop: run a Secret Service provider in your session (GNOME Keyring or KWallet), e.g.",
        "      sudo apt-get install gnome-keyring   (Fedora: sudo dnf install gnome-keyring)",
        "    then log out and back in so it starts with your session.",
        "  * Linux without a desktop (SSH, server, container, WSL): install dbus and gnome-keyring",
        "      sudo apt-get install --no-install-recommends dbus gnome-keyring",
        "    and run agentdesk inside a session bus with an unlocked keyring:",
        '      dbus-run-session -- bash -c \'read -rsp "keyring password: " pw; printf %s "$pw" |',
        "        gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec agentdesk ...'",
        "    (gnome-keyring-daemon reads the keyring password on stdin and creates the keyring on first use).",
        "  * macOS: the login Keychain is used automatically; if you see this, PYTHON_KEYRING_BACKEND or",
        "    ~/Library/Application Support/python_keyring/keyringrc.cfg selects another backend: remove it.",
        "  * Windows: Windows Credential Manager is used automatically; if you see this, reinstall agentdesk",
        "    (keyring needs pywin32-ctypes) and check PYTHON_KEYRING_BACKEND and",
        "    %LOCALAPPDATA%\\Python Keyring\\keyringrc.cfg.",
        "  * Or, knowingly, keep secrets in a plain file readable by your user: pass --insecure-file-store",
        '    or set secret_store = "file" in config.toml; or pip install keyrings.alt and set',
        "    PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring.",
    ]
    return "\n".join(lines)


def _backend_name(backend: Any) -> str:
    module = type(backend).__module__
    if module.startswith("keyring.backends."):
        short = module.removeprefix("keyring.backends.")
        return {"macOS": "macOS Keychain", "Windows": "Windows Credential Manager"}.get(short, short)
    return f"{module}.{type(backend).__qualname__}"


def _explicitly_configured() -> bool:
    """True when the user chose the keyring backend (PYTHON_KEYRING_BACKEND or keyringrc.cfg)."""
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return True
    import keyring.core

    try:
        return keyring.core.load_config() is not None
    except Exception:  # a broken keyringrc is keyring's to report
        return False


def _unusable_reason(backend: Any, explicit: bool) -> str | None:
    from keyring.backends import fail, null

    name = f"{type(backend).__module__}.{type(backend).__qualname__}"
    if isinstance(backend, fail.Keyring):
        return f"keyring found no backend (it chose {name})"
    if isinstance(backend, null.Keyring):
        return f"keyring is set to the null backend ({name}), which stores nothing"
    if type(backend).__module__.startswith("keyrings.alt") and not explicit:
        return (
            f"the only backend available is {name} from keyrings.alt, which keeps secrets in a plain or weakly "
            "protected file; agentdesk uses it only when you choose it explicitly"
        )
    return None


def select_backend(backend: Any | None = None) -> Any:
    """The keyring backend to use, or NoKeyringError. A chainer is reduced to its best usable member."""
    import keyring
    from keyring.backends import chainer

    if backend is None:
        backend = keyring.get_keyring()
    explicit = _explicitly_configured()
    if isinstance(backend, chainer.ChainerBackend):
        members = list(backend.backends)  # already sorted by priority, best first
        usable = [b for b in members if _unusable_reason(b, explicit) is None]
        if usable:
            return usable[0]
        reasons = "; ".join(r for b in members if (r := _unusable_reason(b, explicit))) or "none found"
        raise NoKeyringError(no_keyring_message(f"keyring's chainer has no usable backend ({reasons})"))
    reason = _unusable_reason(backend, explicit)
    if reason:
        raise NoKeyringError(no_keyring_message(reason))
    return backend


class KeyringSecretStore(SecretStore):
    """The OS keyring (Secret Service, macOS Keychain, Windows Credential Manager) via `keyring`."""

    def __init__(self, backend: Any | None = None) -> None:
        self._backend = select_backend(backend)
        self.backend_name = _backend_name(self._backend)
        self.description = f"the keyring ({self.backend_name})"

    @staticmethod
    def username(profile: str, name: str) -> str:
        return f"{profile}:{name}"

    def _fail(
        self, action: str, profile: str, name: str, error: BaseException, value: str | None
    ) -> NoReturn:
        detail = str(error)
        if value:
            detail = redact(detail, [value])
        from keyring.errors import KeyringLocked
        from keyring.errors import NoKeyringError as KeyringNoKeyring

        if isinstance(error, KeyringNoKeyring):
            raise NoKeyringError(no_keyring_message(f"{self.backend_name}: {detail}")) from None
        hint = ""
        if isinstance(error, KeyringLocked):
            hint = (
                "; the keyring is locked: unlock it (log in to your desktop session, or start "
                "gnome-keyring-daemon with --unlock) and try again"
            )
        raise SecretStoreError(
            f"could not {action} {name} for profile {profile!r} in the keyring ({self.backend_name}): "
            f"{type(error).__name__}: {detail}{hint}"
        ) from None

    def get(self, profile: str, name: str) -> str | None:
        _check_name(profile, name)
        try:
            value: str | None = self._backend.get_password(SERVICE, self.username(profile, name))
        except Exception as e:
            self._fail("read", profile, name, e, None)
        if value is not None:
            remember_secret(value)
        return value

    def set(self, profile: str, name: str, value: str) -> None:
        _check_name(profile, name)
        remember_secret(value)
        try:
            self._backend.set_password(SERVICE, self.username(profile, name), value)
        except Exception as e:
            self._fail("save", profile, name, e, value)

    def delete(self, profile: str, name: str) -> bool:
        _check_name(profile, name)
        from keyring.errors import PasswordDeleteError

        username = self.username(profile, name)
        try:
            if self._backend.get_password(SERVICE, username) is None:
                return False
            self._backend.delete_password(SERVICE, username)
        except PasswordDeleteError:
            return False
        except Exception as e:
            self._fail("delete", profile, name, e, None)
        return True


# ------------------------------------------------------------------------------------------ plain file

INSECURE_WARNING: Final = (
    "WARNING: secrets are kept in a PLAIN FILE ({path}), not in the OS keyring: anyone who can read your "
    "files (backups, other processes of your user, root) can read them. You opted in with "
    '--insecure-file-store or secret_store = "file"; prefer a keyring (see docs/configuration.md).'
)


def default_secrets_file() -> Path:
    from agentdesk import paths

    return paths.data_dir() / "secrets.insecure.json"


class PlainFileSecretStore(SecretStore):
    """Opt-in plain JSON file, mode 0600. Only with --insecure-file-store or secret_store = "file"."""

    def __init__(self, path: Path | None = None, *, warn: bool = True) -> None:
        self.path = default_secrets_file() if path is None else path
        self.description = f"the plain file {self.path} (insecure, opted in)"
        self.warning = INSECURE_WARNING.format(path=self.path)
        if warn:
            log.warning("%s", self.warning)

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        if sys.platform != "win32" and stat.S_IMODE(st.st_mode) & 0o077:
            raise SecretStoreError(
                f"{self.path} is readable by other users (mode {stat.S_IMODE(st.st_mode):o}); "
                f"run `chmod 600 {self.path}`"
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise SecretStoreError(f"cannot read {self.path}: {type(e).__name__}") from None
        if not isinstance(data, dict) or not all(
            isinstance(v, dict) and all(isinstance(s, str) for s in v.values()) for v in data.values()
        ):
            raise SecretStoreError(f"{self.path} is not an agentdesk secrets file; move it away")
        for table in data.values():
            for value in table.values():
                remember_secret(value)
        return data

    def _save(self, data: Mapping[str, Mapping[str, str]]) -> None:
        from agentdesk.config import write_atomic

        write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True).encode("utf-8"), mode=0o600)

    def get(self, profile: str, name: str) -> str | None:
        _check_name(profile, name)
        return self._load().get(profile, {}).get(name)

    def set(self, profile: str, name: str, value: str) -> None:
        _check_name(profile, name)
        remember_secret(value)
        data = self._load()
        data.setdefault(profile, {})[name] = value
        self._save(data)

    def delete(self, profile: str, name: str) -> bool:
        _check_name(profile, name)
        data = self._load()
        table = data.get(profile, {})
        if name not in table:
            return False
        del table[name]
        if not table:
            data.pop(profile, None)
        self._save(data)
        return True


def open_secret_store(
    kind: str = "keyring", *, insecure_file_store: bool = False, warn: bool = True
) -> SecretStore:
    """The store the user chose: the keyring, or the plain file when explicitly opted in.

    The plain-file store logs its warning unless `warn` is False (commands print it to stderr themselves).
    """
    if insecure_file_store or kind == "file":
        return PlainFileSecretStore(warn=warn)
    return KeyringSecretStore()


# ------------------------------------------------------------------------------------------ redaction


def _variants(secret: str) -> set[str]:
    """The ways a secret can appear in text: as is, inside a repr, inside JSON."""
    return {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """`text` with every non-empty secret (default: all known secrets) replaced by ***."""
    values = known_secrets() if secrets is None else secrets
    variants = {v for s in values if s for v in _variants(s) if v}
    for v in sorted(variants, key=len, reverse=True):
        text = text.replace(v, MASK)
    return text


class SecretRedactingFilter(logging.Filter):
    """Masks secret values in log records (message, arguments, exception and stack text).

    Attach it to handlers (``handler.addFilter``) or call `install()` once logging is configured; a filter on
    a logger does not see records propagated from child loggers. By default it masks every value a secret
    store of this process has read or written, plus any `extra` values given.
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        super().__init__()
        self._extra = {s for s in extra if s}

    def add(self, secret: str) -> None:
        if secret:
            self._extra.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = known_secrets() | self._extra
        if not secrets:
            return True
        message = record.getMessage()
        masked = redact(message, secrets)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return True

    def install(self, logger: logging.Logger | None = None) -> SecretRedactingFilter:
        """Attach to every handler of `logger` (the root logger by default) and to logging.lastResort."""
        target = logging.getLogger() if logger is None else logger
        for handler in [*target.handlers, logging.lastResort]:
            if handler is not None and self not in handler.filters:
                handler.addFilter(self)
        return self


def install_redaction(logger: logging.Logger | None = None) -> SecretRedactingFilter:
    """Mask known secrets in everything the handlers of `logger` (default root) emit."""
    return SecretRedactingFilter().install(logger)
