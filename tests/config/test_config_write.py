"""Writing profiles back: other profiles and comments kept, atomic replace, mode 0600, values validated."""

from __future__ import annotations

import os
import textwrap
import tomllib
from pathlib import Path

import pytest

from agentdesk.config import ConfigError, file_mode, load_settings, remove_profile, save_profile

EXISTING = textwrap.dedent(
    """\
    # my agentdesk settings
    default_profile = "home"

    [profiles.home]
    # the local devserver
    server = "http://localhost:5001"
    uid = "alice"   # me

    [profiles.work]
    server = "https://im.example.com"  # production
    uid = "alice.w"
    role = "supervisor"

    # the lab profile, for experiments
    [profiles.lab]
    server = "http://lab:5001"
    """
)


def test_creates_the_file_and_directory_with_private_modes(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "config.toml"
    written = save_profile("work", {"server": "http://localhost:5001", "uid": "alice"}, path=path)
    assert written == path
    assert file_mode(path) == 0o600
    assert file_mode(path.parent) == 0o700
    doc = tomllib.loads(path.read_text())
    assert doc == {
        "default_profile": "work",
        "profiles": {"work": {"server": "http://localhost:5001", "uid": "alice"}},
    }
    settings = load_settings({}, environ={}, path=path)
    assert (settings.profile_name, settings.profile.server, settings.profile.uid) == (
        "work",
        "http://localhost:5001",
        "alice",
    )
    assert "agentdesk login" in path.read_text()  # the header says where secrets go


def test_updating_one_profile_keeps_the_others_and_every_comment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(EXISTING)
    save_profile("work", {"uid": "alice.work", "llm_model": 'qwen "2.5"', "role": None}, path=path)
    text = path.read_text()
    doc = tomllib.loads(text)
    before = tomllib.loads(EXISTING)
    assert doc["profiles"]["home"] == before["profiles"]["home"]
    assert doc["profiles"]["lab"] == before["profiles"]["lab"]
    assert doc["profiles"]["work"] == {
        "server": "https://im.example.com",
        "uid": "alice.work",
        "llm_model": 'qwen "2.5"',
    }
    assert doc["default_profile"] == "home"  # an existing default is not changed
    for comment in (
        "# my agentdesk settings",
        "# the local devserver",
        'uid = "alice"   # me',
        'server = "https://im.example.com"  # production',  # an unchanged key keeps its line
        "# the lab profile",
    ):
        assert comment in text
    # the home and lab sections are byte for byte what they were
    assert EXISTING.split("[profiles.work]")[0] in text
    assert '# the lab profile, for experiments\n[profiles.lab]\nserver = "http://lab:5001"\n' in text


def test_a_new_profile_is_appended_and_can_become_the_default(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(EXISTING)
    save_profile("new", {"uid": "bob"}, path=path, make_default=True)
    text = path.read_text()
    assert text.startswith(EXISTING.split("[profiles.home]")[0].replace('"home"', '"new"'))
    doc = tomllib.loads(text)
    assert doc["default_profile"] == "new"
    assert doc["profiles"]["new"] == {"uid": "bob"}
    assert list(doc["profiles"]) == ["home", "work", "lab", "new"]


def test_the_write_replaces_the_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(EXISTING)
    os.chmod(path, 0o644)
    inode = path.stat().st_ino
    save_profile("home", {"theme": "nord"}, path=path)
    # a new file was renamed over the old one (the old inode is not rewritten in place) ...
    assert path.stat().st_ino != inode
    # ... with mode 0600 even though the old file was 0644, and no temporary file is left behind
    assert file_mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "config.toml.lock"]


def test_a_symlinked_config_file_is_updated_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "agentdesk.toml"
    real.parent.mkdir()
    real.write_text(EXISTING)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    save_profile("lab", {"uid": "labuser"}, path=link)
    assert link.is_symlink()
    assert tomllib.loads(real.read_text())["profiles"]["lab"]["uid"] == "labuser"


def test_invalid_values_are_refused_and_the_file_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(EXISTING)
    with pytest.raises(ConfigError) as info:
        save_profile("work", {"server": "localhost:5001", "uid": "x@y"}, path=path)
    assert 'write "http://localhost:5001"' in str(info.value)
    assert "--uid" in str(info.value)
    assert path.read_text() == EXISTING


def test_a_broken_file_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[profiles.work\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        save_profile("work", {"uid": "x"}, path=path)
    assert path.read_text() == "[profiles.work\n"


def test_a_file_holding_a_secret_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    text = '[profiles.work]\ntoken = "abc"\n'
    path.write_text(text)
    with pytest.raises(ConfigError, match="looks like a secret"):
        save_profile("work", {"uid": "x"}, path=path)
    assert path.read_text() == text


def test_dotted_keys_fall_back_to_a_verified_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('profiles.work.server = "http://a:1"\nprofiles.home.uid = "h"\n')
    save_profile("work", {"uid": "w"}, path=path)
    doc = tomllib.loads(path.read_text())
    assert doc["profiles"] == {"work": {"server": "http://a:1", "uid": "w"}, "home": {"uid": "h"}}


def test_awkward_strings_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    awkward = 'a "quoted" \\ back\tslash é 中文 \x7f'
    save_profile("default", {"llm_model": awkward, "theme": "x\\y"}, path=path)
    profile = load_settings({}, environ={}, path=path).profile
    assert (profile.llm_model, profile.theme) == (awkward, "x\\y")


def test_remove_profile_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(EXISTING)
    assert remove_profile("home", path=path) is True
    text = path.read_text()
    doc = tomllib.loads(text)
    assert "default_profile" not in doc  # it named the removed profile
    assert set(doc["profiles"]) == {"work", "lab"}
    assert "# the lab profile" in text
    assert "\n\n\n" not in text
    assert remove_profile("home", path=path) is False
    assert remove_profile("x", path=tmp_path / "missing.toml") is False
    assert not (tmp_path / "missing.toml").exists()


def test_invalid_profile_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a valid name"):
        save_profile("a b", {"uid": "x"}, path=tmp_path / "config.toml")
