"""KeyringSecretStore on a REAL Secret Service (gnome-keyring on a private D-Bus; tests/keyring_ci.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from secretkit import unique_profile, unique_secret

from agentdesk.secrets import SERVICE, KeyringSecretStore, SecretStoreError
from keyring_ci import SecretServiceDaemon


def test_round_trip_on_the_secret_service(secret_service: SecretServiceDaemon) -> None:
    store = KeyringSecretStore(secret_service.backend())
    assert store.backend_name == "SecretService"
    assert store.description == "the keyring (SecretService)"
    profile, secret = unique_profile(), unique_secret("im")
    assert store.get(profile, "im_token") is None
    store.set(profile, "im_token", secret)
    assert store.get(profile, "im_token") == secret
    # stored under service "agentdesk", username "PROFILE:NAME", visible to any keyring client
    assert secret_service.backend().get_password(SERVICE, f"{profile}:im_token") == secret
    assert store.get(unique_profile(), "im_token") is None
    assert store.delete(profile, "im_token") is True
    assert store.delete(profile, "im_token") is False
    assert secret_service.backend().get_password(SERVICE, f"{profile}:im_token") is None


def test_the_default_backend_is_the_selected_secret_service(secret_service: SecretServiceDaemon) -> None:
    from keyring.backends import SecretService

    assert isinstance(keyring.get_keyring(), SecretService.Keyring)
    store = KeyringSecretStore()
    profile, secret = unique_profile(), unique_secret("mk")
    store.set(profile, "model_key", secret)
    assert KeyringSecretStore().get(profile, "model_key") == secret
    assert store.delete(profile, "model_key")


@pytest.mark.parametrize("action", ["get", "set", "delete"])
def test_a_locked_keyring_gives_a_clear_error_without_the_value(
    locked_secret_service: SecretServiceDaemon, action: str
) -> None:
    assert locked_secret_service.collection_locked()
    store = KeyringSecretStore(locked_secret_service.backend())
    secret = unique_secret("im")
    with pytest.raises(SecretStoreError) as info:
        if action == "get":
            store.get("work", "im_token")
        elif action == "set":
            store.set("work", "im_token", secret)
        else:
            store.delete("work", "im_token")
    message = str(info.value)
    verb = {"get": "read", "set": "save", "delete": "delete"}[action]
    assert f"could not {verb} im_token for profile 'work' in the keyring (SecretService)" in message
    assert "KeyringLocked" in message
    assert "the keyring is locked: unlock it" in message
    assert secret not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_daemon_pair_leaves_nothing_behind() -> None:
    daemon = SecretServiceDaemon()
    daemon.start()
    pids, root = daemon.pids(), daemon.root
    assert len(pids) == 2 and root.exists()
    daemon.stop()
    for pid in pids:  # both were waited for: no process, not even a zombie, is left
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not root.exists()


FIXTURE_USER = """
def test_needs_keyring(secret_service):
    assert secret_service.collection_locked() is False
"""


@pytest.mark.parametrize("allow", [False, True], ids=["fails-without-binaries", "skips-when-allowed"])
def test_missing_binaries_fail_unless_explicitly_allowed(tmp_path: Path, allow: bool) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["keyring_ci"]\n')
    (tmp_path / "test_user.py").write_text(FIXTURE_USER)
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "AGENTDESK_ALLOW_NO_KEYRING"}
    env.update(PATH=str(empty_bin), PYTHONPATH=str(Path(__file__).parents[1]))
    if allow:
        env["AGENTDESK_ALLOW_NO_KEYRING"] = "1"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if allow:
        assert result.returncode == 0, result.stdout
        assert "1 skipped" in result.stdout
        assert "AGENTDESK_ALLOW_NO_KEYRING=1" in result.stdout
    else:
        assert result.returncode == 1, result.stdout
        assert "1 error" in result.stdout
        assert "apt-get install -y --no-install-recommends dbus gnome-keyring" in result.stdout
