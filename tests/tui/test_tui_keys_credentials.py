"""Credentials: a wrong IM token shows "authentication failed" and the `agentdesk login` hint in the status
bar (real core against the devserver); the console reads the manager token from the environment, else
from the profile's keyring entry, and never prints it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from consolekit import Desk
from tui_pilotkit import SIZE, console_app, until

from agentdesk.commands import console as console_command
from agentdesk.console.core import ConsoleConfig, ConsoleCore
from agentdesk.secrets import MemorySecretStore
from agentdesk.tui.widgets.status_bar import AUTH_HINT, StatusBar


async def test_wrong_token_shows_authentication_failed_and_the_login_hint(desk: Desk) -> None:
    await desk.add_staff("alice")
    desk.tokens["alice"] = "not-alices-token"
    core = desk.core("alice")
    app = console_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: core.status().connection.state == "auth_failed")
        bar = app.screen.query_one(StatusBar)
        await until(pilot, lambda: bar.info.connection.state == "auth_failed")
        shown = str(bar.render())
        assert "authentication failed" in shown and AUTH_HINT in shown
        assert "not-alices-token" not in shown
        assert "online" not in shown and "reconnecting" not in shown


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> MemorySecretStore:
    memory = MemorySecretStore()
    monkeypatch.setattr("agentdesk.secrets.open_secret_store", lambda *args, **kwargs: memory)
    monkeypatch.delenv("AGENTDESK_MANAGER_TOKEN", raising=False)
    monkeypatch.delenv("AGENTDESK_TOKEN", raising=False)
    return memory


def test_manager_token_comes_from_the_keyring(store: MemorySecretStore) -> None:
    store.set("work", "manager_token", "mgr-from-keyring")
    assert console_command._manager_token("work", "keyring") == "mgr-from-keyring"
    assert console_command._manager_token("other", "keyring") is None


def test_manager_token_env_wins_over_the_keyring(
    store: MemorySecretStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.set("work", "manager_token", "mgr-from-keyring")
    monkeypatch.setenv("AGENTDESK_MANAGER_TOKEN", "mgr-from-env")
    assert console_command._manager_token("work", "keyring") == "mgr-from-env"


def test_an_unreadable_keyring_means_no_manager_token(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> MemorySecretStore:
        raise RuntimeError("the keyring is locked")

    monkeypatch.setattr("agentdesk.secrets.open_secret_store", broken)
    monkeypatch.delenv("AGENTDESK_MANAGER_TOKEN", raising=False)
    assert console_command._manager_token("work", "keyring") is None


def test_the_console_passes_the_keyring_manager_token_to_the_core(
    store: MemorySecretStore,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`agentdesk` end to end up to the app: the core gets the keyring's manager token; nothing prints it."""
    store.set("default", "im_token", "im-secret")
    store.set("default", "manager_token", "mgr-secret")
    monkeypatch.setenv("AGENTDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("AGENTDESK_DATA_DIR", str(tmp_path / "data"))
    seen: dict[str, object] = {}

    class Stop(Exception):
        pass

    def fake_make_app(core: ConsoleCore, **kwargs: object) -> object:
        seen["config"] = core.config
        asyncio.run(core.close())
        raise Stop

    monkeypatch.setattr("agentdesk.tui.app.make_app", fake_make_app)
    with pytest.raises(Stop):
        console_command.main(
            ["--server", "http://127.0.0.1:9", "--uid", "alice", "--data-dir", str(tmp_path)]
        )
    config = seen["config"]
    assert isinstance(config, ConsoleConfig)
    assert config.manager_token == "mgr-secret" and config.token == "im-secret"
    out = capsys.readouterr()
    assert "mgr-secret" not in out.out + out.err
