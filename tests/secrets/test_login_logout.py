"""`agentdesk login` / `logout` as subprocesses against a REAL Secret Service (gnome-keyring, private D-Bus)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from secretkit import Home, agentdesk, unique_profile, unique_secret

from agentdesk.secrets import SECRET_NAMES, SERVICE
from keyring_ci import SecretServiceDaemon


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


def stored(ss: SecretServiceDaemon, profile: str, name: str) -> str | None:
    value: str | None = ss.backend().get_password(SERVICE, f"{profile}:{name}")
    return value


def test_login_non_interactive_from_env_then_logout(secret_service: SecretServiceDaemon, home: Home) -> None:
    profile = unique_profile()
    secrets = {name: unique_secret(name) for name in SECRET_NAMES}
    env = home.env(
        secret_service.env,
        AGENTDESK_TOKEN=secrets["im_token"],
        AGENTDESK_MODEL_KEY=secrets["model_key"],
        AGENTDESK_MANAGER_TOKEN=secrets["manager_token"],
    )
    args = ["login", "--profile", profile, "--server", "http://localhost:5001", "--uid", "alice"]
    result = agentdesk([*args, "--role", "supervisor", "--llm-model", "qwen", "--non-interactive"], env)
    assert result.returncode == 0, result.stderr
    for name in SECRET_NAMES:
        assert f"saved {name} to the keyring (SecretService)" in result.stdout
        assert stored(secret_service, profile, name) == secrets[name]
    # the non-secret settings went to the profile, and nothing secret did
    text = home.config_file.read_text()
    assert tomllib.loads(text)["profiles"][profile] == {
        "server": "http://localhost:5001",
        "uid": "alice",
        "role": "supervisor",
        "llm_model": "qwen",
    }
    assert os.stat(home.config_file).st_mode & 0o777 == 0o600
    for value in secrets.values():
        assert value not in text
        assert value not in result.stdout + result.stderr

    out = agentdesk(["logout", "--profile", profile], home.env(secret_service.env))
    assert out.returncode == 0, out.stderr
    for name in SECRET_NAMES:
        assert f"removed {name} from the keyring (SecretService)" in out.stdout
        assert stored(secret_service, profile, name) is None
    assert profile in tomllib.loads(home.config_file.read_text())["profiles"]  # kept without --forget-profile

    again = agentdesk(["logout", "--profile", profile, "--forget-profile"], home.env(secret_service.env))
    assert again.returncode == 0, again.stderr
    assert f"im_token: none stored for profile '{profile}'" in again.stdout
    assert f"removed [profiles.{profile}]" in again.stdout
    assert profile not in tomllib.loads(home.config_file.read_text()).get("profiles", {})


def test_login_reads_the_token_from_stdin(secret_service: SecretServiceDaemon, home: Home) -> None:
    profile, token = unique_profile(), unique_secret("im")
    result = agentdesk(
        [
            "login",
            "--profile",
            profile,
            "--server",
            "https://im.example.com",
            "--uid",
            "bob",
            "--non-interactive",
        ],
        home.env(secret_service.env),
        stdin=token + "\n",
    )
    assert result.returncode == 0, result.stderr
    assert stored(secret_service, profile, "im_token") == token
    assert "model_key: not given, left as it was" in result.stdout
    assert stored(secret_service, profile, "model_key") is None
    # the first profile written becomes the default one: logout without --profile finds it
    assert tomllib.loads(home.config_file.read_text())["default_profile"] == profile
    out = agentdesk(["logout"], home.env(secret_service.env))
    assert out.returncode == 0, out.stderr
    assert stored(secret_service, profile, "im_token") is None


def test_a_second_login_keeps_secrets_it_was_not_given(
    secret_service: SecretServiceDaemon, home: Home
) -> None:
    profile, token, key = unique_profile(), unique_secret("im"), unique_secret("mk")
    base = ["login", "--profile", profile, "--server", "http://h:1", "--uid", "u", "--non-interactive"]
    env = home.env(secret_service.env, AGENTDESK_TOKEN=token, AGENTDESK_MODEL_KEY=key)
    assert agentdesk(base, env).returncode == 0
    token2 = unique_secret("im")
    result = agentdesk(base, home.env(secret_service.env, AGENTDESK_TOKEN=token2))
    assert result.returncode == 0, result.stderr
    assert stored(secret_service, profile, "im_token") == token2
    assert stored(secret_service, profile, "model_key") == key
    assert agentdesk(["logout", "--profile", profile], home.env(secret_service.env)).returncode == 0


def test_non_interactive_without_a_token_says_how_to_give_one(
    secret_service: SecretServiceDaemon, home: Home
) -> None:
    result = agentdesk(
        ["login", "--server", "http://h:1", "--uid", "u", "--non-interactive"],
        home.env(secret_service.env),
        stdin="",
    )
    assert result.returncode == 2
    assert "stdin was empty and AGENTDESK_TOKEN is not set" in result.stderr


def test_a_multi_line_token_is_refused_without_echoing_it(
    secret_service: SecretServiceDaemon, home: Home
) -> None:
    token = unique_secret("im")
    result = agentdesk(
        ["login", "--server", "http://h:1", "--uid", "u", "--non-interactive"],
        home.env(secret_service.env),
        stdin=f"{token}\nsecond line\n",
    )
    assert result.returncode == 2
    assert "the IM token from stdin contains spaces, line breaks or control characters" in result.stderr
    assert token not in result.stdout + result.stderr


def test_login_without_a_terminal_or_non_interactive_refuses_to_prompt(
    secret_service: SecretServiceDaemon, home: Home
) -> None:
    result = agentdesk(["login", "--server", "http://h:1", "--uid", "u"], home.env(secret_service.env))
    assert result.returncode == 2
    assert "stdin is not a terminal" in result.stderr
    assert "--non-interactive" in result.stderr
    assert not home.config_file.exists()


def test_non_interactive_login_needs_server_and_uid(secret_service: SecretServiceDaemon, home: Home) -> None:
    env = home.env(secret_service.env, AGENTDESK_TOKEN=unique_secret("im"))
    result = agentdesk(["login", "--uid", "u", "--non-interactive"], env)
    assert result.returncode == 2
    assert "has no server: pass --server (or set AGENTDESK_SERVER)" in result.stderr


def test_bad_flags_are_reported_before_anything_is_saved(
    secret_service: SecretServiceDaemon, home: Home
) -> None:
    profile, token = unique_profile(), unique_secret("im")
    env = home.env(secret_service.env, AGENTDESK_TOKEN=token)
    result = agentdesk(
        ["login", "--profile", profile, "--server", "localhost:5001", "--uid", "u", "--non-interactive"], env
    )
    assert result.returncode == 2
    assert 'flag --server "localhost:5001" is not a URL; write "http://localhost:5001"' in result.stderr
    assert stored(secret_service, profile, "im_token") is None
    assert not home.config_file.exists()
    assert token not in result.stdout + result.stderr


def test_no_keyring_backend_gives_the_instructions_and_saves_nothing(home: Home) -> None:
    from secretkit import clean_env

    token = unique_secret("im")
    env = home.env(clean_env(), AGENTDESK_TOKEN=token, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    result = agentdesk(["login", "--server", "http://h:1", "--uid", "u", "--non-interactive"], env)
    assert result.returncode == 1
    for fragment in (
        "no usable OS keyring",
        "PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring is set",
        "sudo apt-get install --no-install-recommends dbus gnome-keyring",
        "macOS",
        "Windows",
        "--insecure-file-store",
    ):
        assert fragment in result.stderr
    assert not home.config_file.exists()
    assert token not in result.stdout + result.stderr
    out = agentdesk(["logout", "--profile", "x"], env)
    assert out.returncode == 1
    assert "no usable OS keyring" in out.stderr


def test_the_opt_in_file_store(home: Home) -> None:
    from secretkit import clean_env

    token = unique_secret("im")
    env = home.env(clean_env(), AGENTDESK_TOKEN=token, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    args = ["login", "--server", "http://h:1", "--uid", "u", "--non-interactive", "--insecure-file-store"]
    result = agentdesk(args, env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("WARNING: secrets are kept in a PLAIN FILE") == 1
    assert 'only with --insecure-file-store or with secret_store = "file"' in result.stdout
    secrets_file = home.data_dir / "secrets.insecure.json"
    assert "saved im_token to the plain file" in result.stdout
    assert os.stat(secrets_file).st_mode & 0o777 == 0o600
    assert token in secrets_file.read_text()  # that is what the user opted in to
    assert token not in home.config_file.read_text()
    out = agentdesk(["logout", "--insecure-file-store"], env)
    assert out.returncode == 0, out.stderr
    assert token not in secrets_file.read_text()


def test_login_on_a_locked_keyring_fails_clearly(
    locked_secret_service: SecretServiceDaemon, home: Home
) -> None:
    token = unique_secret("im")
    env = home.env(locked_secret_service.env, AGENTDESK_TOKEN=token)
    result = agentdesk(["login", "--server", "http://h:1", "--uid", "u", "--non-interactive"], env)
    assert result.returncode == 1
    assert "could not save im_token for profile 'default' in the keyring (SecretService)" in result.stderr
    assert "the keyring is locked" in result.stderr
    assert token not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not home.config_file.exists()  # secrets are saved first; nothing is half-done


def test_a_backend_error_that_quotes_the_secret_is_masked(home: Home) -> None:
    from secretkit import clean_env

    token = unique_secret("im")
    env = home.env(
        clean_env(),
        AGENTDESK_TOKEN=token,
        PYTHON_KEYRING_BACKEND="leaky_backend.LeakyKeyring",
        PYTHONPATH=str(Path(__file__).parent),
    )
    result = agentdesk(["login", "--server", "http://h:1", "--uid", "u", "--non-interactive"], env)
    assert result.returncode == 1
    assert (
        "in the keyring (leaky_backend.LeakyKeyring): RuntimeError: backend exploded while storing '***'"
        in (result.stderr)
    )
    assert token not in result.stdout + result.stderr
