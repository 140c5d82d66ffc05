"""The secret stores without a keyring daemon: memory, the opt-in plain file, backend refusal, redaction."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import pytest
from keyring.backends import fail, null
from secretkit import unique_secret

from agentdesk.secrets import (
    SECRET_NAMES,
    KeyringSecretStore,
    MemorySecretStore,
    NoKeyringError,
    PlainFileSecretStore,
    SecretRedactingFilter,
    SecretStoreError,
    known_secrets,
    redact,
    select_backend,
)


def test_memory_store_round_trip_per_profile() -> None:
    store = MemorySecretStore()
    secret = unique_secret("im")
    assert store.get("work", "im_token") is None
    store.set("work", "im_token", secret)
    assert store.get("work", "im_token") == secret
    assert store.get("home", "im_token") is None
    assert store.delete("work", "im_token") is True
    assert store.delete("work", "im_token") is False
    assert store.get("work", "im_token") is None
    assert secret in known_secrets()


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_every_secret_name_is_accepted(name: str) -> None:
    store = MemorySecretStore()
    store.set("p", name, "v")
    assert store.get("p", name) == "v"


def test_unknown_names_and_bad_profiles_are_programming_errors() -> None:
    store = MemorySecretStore()
    with pytest.raises(ValueError, match="unknown secret name 'password'"):
        store.set("p", "password", "v")
    with pytest.raises(ValueError, match="invalid profile name"):
        store.get("a:b", "im_token")


def test_repr_of_a_store_holds_no_value() -> None:
    store = MemorySecretStore()
    secret = unique_secret("im")
    store.set("p", "im_token", secret)
    assert secret not in repr(store)


# ------------------------------------------------------------------------------ the opt-in plain file


def test_plain_file_store_is_0600_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "data" / "secrets.json"
    with caplog.at_level(logging.WARNING, logger="agentdesk.secrets"):
        store = PlainFileSecretStore(path)
    assert "PLAIN FILE" in caplog.text
    assert str(path) in caplog.text
    secret = unique_secret("mk")
    store.set("work", "model_key", secret)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert json.loads(path.read_text()) == {"work": {"model_key": secret}}
    assert PlainFileSecretStore(path, warn=False).get("work", "model_key") == secret
    assert store.delete("work", "model_key") is True
    assert store.delete("work", "model_key") is False
    assert json.loads(path.read_text()) == {}


def test_plain_file_store_refuses_a_file_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    secret = unique_secret("im")
    path.write_text(json.dumps({"p": {"im_token": secret}}))
    os.chmod(path, 0o644)
    with pytest.raises(SecretStoreError) as info:
        PlainFileSecretStore(path, warn=False).get("p", "im_token")
    assert f"chmod 600 {path}" in str(info.value)
    assert secret not in str(info.value)


def test_plain_file_store_rejects_a_foreign_file_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    secret = unique_secret("im")
    path.write_text(json.dumps([secret]))
    os.chmod(path, 0o600)
    with pytest.raises(SecretStoreError, match="not an agentdesk secrets file") as info:
        PlainFileSecretStore(path, warn=False).get("p", "im_token")
    assert secret not in str(info.value)


# ------------------------------------------------------------------------------ no usable keyring


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()], ids=["fail", "null"])
def test_fail_and_null_backends_are_refused_with_instructions(backend: object) -> None:
    with pytest.raises(NoKeyringError) as info:
        KeyringSecretStore(backend)
    message = str(info.value)
    for fragment in (
        "no usable OS keyring",
        "apt-get install --no-install-recommends dbus gnome-keyring",
        "dbus-run-session",
        "gnome-keyring-daemon --unlock --components=secrets",
        "macOS",
        "Keychain",
        "Windows",
        "Credential Manager",
        "--insecure-file-store",
        'secret_store = "file"',
        "keyrings.alt",
    ):
        assert fragment in message
    with pytest.raises(NoKeyringError):
        select_backend(backend)


# ------------------------------------------------------------------------------ redaction


def test_redact_masks_every_form_of_a_secret() -> None:
    secret = 'tok"en\\' + unique_secret("x")
    text = f"plain {secret} repr {secret!r} json {json.dumps(secret)}"
    masked = redact(text, [secret])
    assert secret not in masked
    assert repr(secret)[1:-1] not in masked
    assert json.dumps(secret)[1:-1] not in masked
    assert masked.count("***") == 3
    assert redact("nothing here", ["", "zzz"]) == "nothing here"


def test_redact_masks_longer_secrets_first() -> None:
    assert redact("abcdef", ["abc", "abcdef"]) == "***"


def test_the_logging_filter_masks_messages_arguments_and_tracebacks() -> None:
    secret = unique_secret("mgr")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("agentdesk.test.redaction")
    logger.propagate = False
    logger.addHandler(handler)
    redactor = SecretRedactingFilter([secret]).install(logger)
    try:
        logger.warning("token is %s", secret)
        logger.warning(f"inline {secret}")
        logger.warning("mapping %(t)s", {"t": secret})
        try:
            raise RuntimeError(f"boom {secret}")
        except RuntimeError:
            logger.exception("failed")
        logger.warning("stack", stack_info=True, extra={})
    finally:
        logger.removeHandler(handler)
        if logging.lastResort is not None:
            logging.lastResort.removeFilter(redactor)
    out = stream.getvalue()
    assert "token is ***" in out
    assert "inline ***" in out
    assert "mapping ***" in out
    assert "RuntimeError: boom ***" in out
    assert secret not in out


def test_the_filter_masks_values_any_store_has_handled() -> None:
    secret = unique_secret("im")
    MemorySecretStore().set("p", "im_token", secret)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "got %s", (secret,), None)
    assert SecretRedactingFilter().filter(record) is True
    assert record.getMessage() == "got ***"
