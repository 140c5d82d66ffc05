"""Loading settings: defaults < config.toml < AGENTDESK_* < flags, profiles, and every validation message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agentdesk.config import (
    ENV_VARS,
    PROFILE_KEYS,
    ConfigError,
    Profile,
    Settings,
    load_settings,
)

#: a valid value per key, and a second valid value, to see which layer won
SAMPLES: dict[str, tuple[str, str, str]] = {
    "server": ("http://file:5001", "https://env.example.com", "http://flag:5001"),
    "ws": ("ws://file:5200", "wss://env.example.com/ws", "ws://flag:5200"),
    "uid": ("file-uid", "env-uid", "flag-uid"),
    "role": ("agent", "supervisor", "admin"),
    "desk_channel": ("desk-file", "desk-env", "desk-flag"),
    "llm_base_url": ("http://file:8000/v1", "http://env:8000/v1", "http://flag:8000/v1"),
    "llm_model": ("file-model", "env-model", "flag-model"),
    "faq_sync_url": ("https://file/faq.jsonl", "https://env/faq.jsonl", "https://flag/faq.jsonl"),
    "theme": ("file-theme", "env-theme", "flag-theme"),
    "keymap": ("/file/keymap.toml", "/env/keymap.toml", "/flag/keymap.toml"),
    "bot_listen": ("127.0.0.1:1001", "0.0.0.0:1002", "[::1]:1003"),
    "roster": ("/file/roster.toml", "/env/roster.toml", "/flag/roster.toml"),
    "default_mode": ("ai", "assist", "ai"),
    "bot_uid": ("bot-file", "bot-env", "bot-flag"),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problem(path: Path, text: str, env: dict[str, str] | None = None, **flags: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(flags, environ=env or {}, path=write(path, text))
    return str(info.value)


def test_every_profile_key_has_a_sample_and_an_env_var() -> None:
    assert set(SAMPLES) == set(PROFILE_KEYS)
    assert ENV_VARS["server"] == "AGENTDESK_SERVER"
    assert set(ENV_VARS.values()) >= {
        "AGENTDESK_SERVER",
        "AGENTDESK_WS",
        "AGENTDESK_UID",
        "AGENTDESK_ROLE",
        "AGENTDESK_DESK_CHANNEL",
        "AGENTDESK_LLM_BASE_URL",
        "AGENTDESK_LLM_MODEL",
        "AGENTDESK_FAQ_SYNC_URL",
        "AGENTDESK_THEME",
        "AGENTDESK_KEYMAP",
    }


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = load_settings({}, environ={}, path=tmp_path / "missing.toml")
    assert settings.profile == Profile()
    assert settings.profile.name == "default"
    assert settings.profile.desk_channel == "desk"
    assert settings.profile.bot_uid == "deskbot"
    assert settings.profile.role == "agent"
    assert settings.profile.default_mode == "assist"
    assert settings.secret_store == "keyring"
    assert not settings.profile_in_file
    assert set(settings.sources.values()) == {"default"}


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_precedence_file_then_env_then_flag(tmp_path: Path, key: str) -> None:
    from_file, from_env, from_flag = SAMPLES[key]
    path = write(tmp_path, f'default_profile = "p"\n[profiles.p]\n{key} = "{from_file}"\n')
    env = {ENV_VARS[key]: from_env}

    def value(s: Settings) -> str:
        return str(getattr(s.profile, key))

    only_file = load_settings({}, environ={}, path=path)
    assert value(only_file) == from_file
    assert only_file.sources[key] == f"{path}: profiles.p.{key}"
    with_env = load_settings({}, environ=env, path=path)
    assert value(with_env) == from_env
    assert with_env.sources[key] == ENV_VARS[key]
    with_flag = load_settings({key: from_flag}, environ=env, path=path)
    assert value(with_flag) == from_flag
    assert with_flag.sources[key] == "--" + key.replace("_", "-")
    # a flag left at None (argparse default) does not override
    assert value(load_settings({key: None}, environ=env, path=path)) == from_env


def test_empty_env_var_counts_as_unset(tmp_path: Path) -> None:
    path = write(tmp_path, '[profiles.default]\nserver = "http://file:1"\n')
    assert load_settings({}, environ={"AGENTDESK_SERVER": ""}, path=path).profile.server == "http://file:1"


def test_paths_are_paths_and_expand_home(tmp_path: Path) -> None:
    path = write(tmp_path, '[profiles.default]\nkeymap = "~/keys.toml"\n')
    keymap = load_settings({}, environ={}, path=path).profile.keymap
    assert isinstance(keymap, Path)
    assert keymap == Path("~/keys.toml").expanduser()


def test_profile_selection_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        default_profile = "home"
        [profiles.home]
        uid = "h"
        [profiles.work]
        uid = "w"
        [profiles.lab]
        uid = "l"
        """,
    )
    assert load_settings({}, environ={}, path=path).profile.uid == "h"
    assert load_settings({}, environ={"AGENTDESK_PROFILE": "work"}, path=path).profile.uid == "w"
    chosen = load_settings({"profile": "lab"}, environ={"AGENTDESK_PROFILE": "work"}, path=path)
    assert (chosen.profile_name, chosen.profile.uid, chosen.profile_in_file) == ("lab", "l", True)
    # a profile not in the file: defaults, and the caller can tell
    other = load_settings({"profile": "new"}, environ={}, path=path)
    assert (other.profile.uid, other.profile_in_file) == (None, False)


def test_without_default_profile_the_profile_is_named_default(tmp_path: Path) -> None:
    path = write(tmp_path, '[profiles.default]\nuid = "d"\n[profiles.x]\nuid = "x"\n')
    assert load_settings({}, environ={}, path=path).profile.uid == "d"


def test_agentdesk_config_names_another_file(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('[profiles.default]\nuid = "from-other"\n')
    settings = load_settings({}, environ={"AGENTDESK_CONFIG": str(other)})
    assert settings.config_path == other
    assert settings.profile.uid == "from-other"


def test_secret_store_opt_in_from_file_and_flag(tmp_path: Path) -> None:
    path = write(tmp_path, 'secret_store = "file"\n')
    from_file = load_settings({}, environ={}, path=path)
    assert (from_file.secret_store, from_file.sources["secret_store"]) == ("file", f"{path}: secret_store")
    plain = write(tmp_path, "")
    assert load_settings({}, environ={}, path=plain).secret_store == "keyring"
    assert load_settings({"secret_store": "file"}, environ={}, path=plain).secret_store == "file"


# ---------------------------------------------------------------- every message: key, source, fix

FILE_CASES = [
    # (profile table body, expected fragments)
    (
        'server = "localhost:5001"',
        ['profiles.work.server = "localhost:5001" is not a URL', 'write "http://localhost:5001"'],
    ),
    ('server = "im.example.com"', ['write "https://im.example.com"']),
    ('server = "ws://im:5001"', ["profiles.work.server", 'write "http://im:5001"']),
    ('ws = "https://im.example.com/ws"', ["profiles.work.ws", 'write "wss://im.example.com/ws"']),
    (
        'llm_base_url = "localhost:8000/v1"',
        ["profiles.work.llm_base_url", 'write "http://localhost:8000/v1"'],
    ),
    ('faq_sync_url = "http://"', ["profiles.work.faq_sync_url", "is not a URL"]),
    ('server = "http://host:99999"', ["profiles.work.server", "is not a URL"]),
    ('uid = ""', ["profiles.work.uid", "is empty", 'uid = "alice"']),
    ('uid = "bob@corp"', ["profiles.work.uid", "'@'", "remove them"]),
    ('uid = "a#b&c"', ["profiles.work.uid", "'#'", "'&'"]),
    ('uid = "al ice"', ["profiles.work.uid", "' '"]),
    ('uid = "guest___vstr"', ["profiles.work.uid", "___vstr", "visitors", "without it"]),
    ('bot_uid = "deskbot___vstr"', ["profiles.work.bot_uid", "___vstr"]),
    ('role = "boss"', ['profiles.work.role = "boss" is not a role', '"agent", "supervisor", "admin"']),
    ('default_mode = "auto"', ["profiles.work.default_mode", 'write one of "ai", "assist"']),
    ('bot_listen = "8787"', ["profiles.work.bot_listen", "HOST:PORT", "127.0.0.1:8787"]),
    ('desk_channel = "my desk"', ["profiles.work.desk_channel", 'desk_channel = "desk"']),
    ('theme = ""', ["profiles.work.theme", "theme name"]),
    ('keymap = ""', ["profiles.work.keymap", "file path"]),
    ("server = 5001", ["profiles.work.server is a number", 'must be a string, e.g. server = "5001"']),
    ("uid = true", ["profiles.work.uid is a boolean", "must be a string"]),
    ("role = ['agent']", ["profiles.work.role is an array"]),
    ('sever = "http://x"', ["profiles.work.sever is not a known profile key", "did you mean 'server'"]),
    ('colour = "red"', ["profiles.work.colour is not a known profile key", "valid keys: server, ws, uid"]),
]


@pytest.mark.parametrize(("body", "fragments"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_file_problems_name_key_file_and_fix(tmp_path: Path, body: str, fragments: list[str]) -> None:
    message = problem(tmp_path, f'default_profile = "work"\n[profiles.work]\n{body}\n')
    assert message.startswith(f"{tmp_path / 'config.toml'}: ")
    for fragment in fragments:
        assert fragment in message


def test_bad_profiles_are_reported_even_when_not_selected(tmp_path: Path) -> None:
    message = problem(tmp_path, '[profiles.default]\nuid = "a"\n[profiles.old]\nserver = "x:1"\n')
    assert "profiles.old.server" in message


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            'colour = "red"\n',
            ["colour is not a known top-level key", "default_profile, secret_store, profiles"],
        ),
        ('default_profile = "no spaces allowed"\n', ["default_profile", "not a profile name"]),
        ("default_profile = 3\n", ["default_profile = 3 is not a profile name"]),
        (
            'secret_store = "vault"\n',
            ['secret_store = "vault" is not a secret store', '"keyring" (default) or "file"'],
        ),
        ('profiles = "x"\n', ["profiles must be tables", "[profiles.NAME]"]),
        ("[profiles]\nwork = 1\n", ["profiles.work must be a table"]),
        ('[profiles."bad name"]\nuid = "x"\n', ['[profiles."bad name"] is not a valid profile name']),
        ("[profiles.work\nuid = 1\n", ["not valid TOML", "line 1", "fix the syntax"]),
    ],
)
def test_document_problems(tmp_path: Path, text: str, fragments: list[str]) -> None:
    message = problem(tmp_path, text)
    assert str(tmp_path / "config.toml") in message
    for fragment in fragments:
        assert fragment in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[profiles.default]\nuid = "\xff"\n')
    with pytest.raises(ConfigError, match=r"not UTF-8.*save the file as UTF-8"):
        load_settings({}, environ={}, path=path)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    message = problem(tmp_path, '[profiles.default]\nserver = "a:1"\nrole = "x"\nuid = "@"\n')
    lines = message.splitlines()
    assert len(lines) == 3
    assert [line.split(" = ")[0].rsplit(".", 1)[-1] for line in lines] == ["server", "role", "uid"]


def test_env_problem_names_the_variable(tmp_path: Path) -> None:
    message = problem(tmp_path, "", env={"AGENTDESK_SERVER": "localhost:5001", "AGENTDESK_ROLE": "root"})
    assert 'environment: AGENTDESK_SERVER="localhost:5001" is not a URL' in message
    assert 'write "http://localhost:5001"' in message
    assert 'environment: AGENTDESK_ROLE="root" is not a role' in message


def test_flag_problem_names_the_flag(tmp_path: Path) -> None:
    message = problem(tmp_path, "", llm_base_url="api.example.com/v1", uid="x___vstr")
    assert 'flag --llm-base-url "api.example.com/v1" is not a URL' in message
    assert 'write "https://api.example.com/v1"' in message
    assert 'flag --uid "x___vstr" ends with' in message


def test_bad_profile_name_from_env(tmp_path: Path) -> None:
    message = problem(tmp_path, "", env={"AGENTDESK_PROFILE": "a b"})
    assert 'environment: AGENTDESK_PROFILE = "a b" is not a profile name' in message


# ---------------------------------------------------------------- secrets never in the file

SECRET_VALUE = "s3cr3t-value-never-echoed"


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "im_token",
        "api_key",
        "apikey",
        "model_key",
        "manager_token",
        "password",
        "passwd",
        "secret",
        "auth_token",
    ],
)
def test_secret_looking_profile_keys_are_refused_without_echoing_the_value(tmp_path: Path, key: str) -> None:
    message = problem(tmp_path, f'[profiles.default]\n{key} = "{SECRET_VALUE}"\n')
    assert f"profiles.default.{key} looks like a secret" in message
    assert "agentdesk login" in message
    assert "OS keyring" in message
    assert SECRET_VALUE not in message


def test_secret_looking_top_level_key_and_table_are_refused(tmp_path: Path) -> None:
    message = problem(tmp_path, f'token = "{SECRET_VALUE}"\n[secrets]\nim = "{SECRET_VALUE}"\n')
    assert "token looks like a secret" in message
    assert "secrets looks like a secret" in message
    assert SECRET_VALUE not in message


@pytest.mark.parametrize(
    "url",
    [
        f"https://alice:{SECRET_VALUE}@im.example.com",
        f"https://{SECRET_VALUE}@im.example.com",
        f"https://im.example.com/api?token={SECRET_VALUE}",
        f"https://im.example.com/api?x=1&api_key={SECRET_VALUE}",
    ],
)
def test_credentials_in_urls_are_refused_without_echoing_them(tmp_path: Path, url: str) -> None:
    message = problem(tmp_path, f'[profiles.default]\nserver = "{url}"\n')
    assert "profiles.default.server" in message
    assert "carries credentials in the URL" in message
    assert "agentdesk login" in message
    assert SECRET_VALUE not in message


def test_require_names_every_way_to_set_a_missing_value(tmp_path: Path) -> None:
    settings = load_settings({"profile": "work"}, environ={}, path=tmp_path / "none.toml")
    with pytest.raises(ConfigError) as info:
        settings.require("server")
    message = str(info.value)
    assert "profile 'work' has no server" in message
    assert "agentdesk login --profile work --server" in message
    assert "AGENTDESK_SERVER" in message
    full = load_settings({"server": "http://x:1"}, environ={}, path=tmp_path / "none.toml")
    assert full.require("server") == "http://x:1"


def test_importing_config_does_not_import_keyring() -> None:
    import subprocess
    import sys

    code = "import sys, agentdesk.config\nprint('keyring' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
