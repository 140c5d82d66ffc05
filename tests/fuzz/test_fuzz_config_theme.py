"""The config and theme loaders on arbitrary input.

* config: any TOML-ish text in config.toml, plus arbitrary `AGENTDESK_*` environment values → a valid
  `Settings` or `ConfigError` with a message; never another exception.
* themes: any YAML (or bytes) in a theme file → a `Theme` or `ThemeFileError` with a message; the
  directory loader `load_themes` never raises and turns every bad file into a warning naming it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from fuzzkit import FUZZ, json_values, nasty_text
from hypothesis import event, given
from hypothesis import strategies as st

from agentdesk.config import PROFILE_KEYS, ConfigError, Settings, load_settings
from agentdesk.tui.themes import ALLOWED_KEYS, KNOWN_VARIABLES, ThemeFileError, load_theme_file, load_themes

toml_values = st.one_of(
    st.sampled_from(
        [
            '"http://127.0.0.1:5001"',
            '"https://im.example.com"',
            '"ftp://x"',
            '"alice"',
            '"a b"',
            '"agent"',
            '"supervisor"',
            '"ai"',
            '"keyring"',
            '"file"',
            '"127.0.0.1:8787"',
            "1",
            "true",
            "[1, 2]",
            "{ a = 1 }",
            '""',
            '"~/x.toml"',
            "1979-05-27",
            "nan",
        ]
    ),
    nasty_text.map(
        lambda s: '"' + s[:40].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    ),
    nasty_text.map(lambda s: s[:30]),
)
keys = st.sampled_from(
    [*PROFILE_KEYS, "default_profile", "secret_store", "bogus", "token", "api_key"]
) | nasty_text.map(lambda s: s[:12])
sections = st.sampled_from(
    [
        "[profiles.work]",
        "[profiles.default]",
        "[profiles]",
        "[profiles.bad name]",
        "[other]",
        "[[profiles]]",
        "[profiles.a.b]",
    ]
) | nasty_text.map(lambda s: f"[{s[:12]}]")


@st.composite
def toml_texts(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.integers(0, 9))
        if kind <= 5:
            lines.append(f"{draw(keys)} = {draw(toml_values)}")
        elif kind <= 7:
            lines.append(draw(sections))
        else:
            lines.append(draw(nasty_text))
    return "\n".join(lines)


env_values = st.dictionaries(
    st.sampled_from(
        [f"AGENTDESK_{k.upper()}" for k in PROFILE_KEYS] + ["AGENTDESK_PROFILE", "AGENTDESK_BOGUS"]
    ),
    nasty_text.map(lambda s: s[:60]) | st.sampled_from(["http://127.0.0.1:1", "alice", "admin", ""]),
    max_size=4,
)


@FUZZ
@given(toml_texts() | nasty_text, env_values, st.sampled_from([None, "work", "default", "nope", "bad name"]))
def test_config_loader_gives_settings_or_a_config_error(
    text: str, environ: dict[str, str], profile: str | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(text, "utf-8", errors="surrogatepass")
        try:
            settings = load_settings({"profile": profile}, environ=environ, path=path)
        except ConfigError as exc:
            event("outcome: ConfigError")
            assert str(exc).strip()
            return
        event("outcome: settings")
        assert isinstance(settings, Settings)


@FUZZ
@given(st.binary(max_size=300))
def test_config_loader_on_raw_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_bytes(data)
        try:
            load_settings({}, environ={}, path=path)
        except ConfigError as exc:
            assert str(exc).strip()


colours = st.sampled_from(["#4E9BE8", "#fff", "red", "#12345", "rgb(1,2,3)", "", "#GGGGGG"]) | st.from_regex(
    r"#[0-9a-fA-F]{6}", fullmatch=True
)


def _theme_value(draw: st.DrawFn, key: str) -> object:
    if key == "name":
        return draw(st.sampled_from(["my-theme", "textual-dark", "Bad Name", "x"]) | nasty_text)
    if key == "dark":
        return draw(st.sampled_from([True, False, "yes", 1, None]))
    if key == "variables":
        return draw(
            st.dictionaries(st.sampled_from([*KNOWN_VARIABLES, "bogus"]), colours, max_size=4) | json_values
        )
    return draw(colours | json_values)


@st.composite
def theme_docs(draw: st.DrawFn) -> object:
    """A valid theme with 0-3 keys changed (or added, or removed)."""
    doc: dict[str, object] = {"name": "my-theme", "dark": draw(st.booleans()), "primary": "#4E9BE8"}
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(sorted(ALLOWED_KEYS)) | nasty_text.map(lambda s: s[:10]))
        if draw(st.integers(0, 5)) == 0:
            doc.pop(key, None)
        else:
            doc[key] = _theme_value(draw, key)
    return doc


def _yaml_text(draw_doc: object, raw: str | None) -> str:
    return raw if raw is not None else yaml.safe_dump(draw_doc, allow_unicode=True)


@FUZZ
@given(
    theme_docs() | json_values,
    st.one_of(
        st.none(),
        st.none(),
        st.none(),
        nasty_text,
        st.sampled_from(
            ["name: [", "a: *b", "!!python/object:os.system x", "- 1\n- 2", "{{}}", "a: &x [*x]"]
        ),
    ),
)
def test_theme_file_gives_a_theme_or_a_message(doc: object, raw: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        path = d / "t.yaml"
        path.write_text(_yaml_text(doc, raw), "utf-8", errors="surrogatepass")
        try:
            theme = load_theme_file(path)
        except ThemeFileError as exc:
            event("outcome: ThemeFileError")
            assert str(exc).strip()
        else:
            event("outcome: theme")
            assert theme.name and theme.primary
        themes, warnings = load_themes([d], user_dir=d / "none")
        assert all(isinstance(w, str) and w for w in warnings)
        assert any("t.yaml" in w for w in warnings) or any(t for t in themes)


@FUZZ
@given(st.binary(max_size=400))
def test_theme_file_raw_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.yml"
        path.write_bytes(data)
        try:
            load_theme_file(path)
        except ThemeFileError as exc:
            assert str(exc).strip()
        load_themes([Path(tmp)], user_dir=Path(tmp) / "none")


def test_a_theme_with_an_empty_primary_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("name: my-theme\ndark: true\nprimary:\n", "utf-8")
    themes, warnings = load_themes([tmp_path], user_dir=tmp_path / "none")
    assert "my-theme" not in themes
    assert any("mine.yaml" in w and "primary" in w for w in warnings), warnings
