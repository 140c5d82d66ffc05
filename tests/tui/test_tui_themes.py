"""Theme files: bundled themes load, user files override by name, bad files warn and never stop start-up."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.color import Color
from textual.theme import BUILTIN_THEMES
from textual.widgets import Static

from agentdesk.tui.themes import (
    KNOWN_VARIABLES,
    bundled_themes_dir,
    load_theme_file,
    load_themes,
    theme_search_path,
    theme_variable_defaults,
    variable_defaults,
)

REPO = Path(__file__).parents[2]
BUNDLED = ("agentdesk-dark", "agentdesk-light", "agentdesk-high-contrast")

GOOD = """\
name: {name}
dark: true
primary: "{primary}"
background: "#101010"
"""


def write(directory: Path, filename: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def no_user_dir(tmp_path: Path) -> Path:
    return tmp_path / "user-themes-absent"


def test_bundled_themes_are_valid_and_complete(no_user_dir: Path) -> None:
    themes, warnings = load_themes(user_dir=no_user_dir)
    assert warnings == []
    assert set(BUNDLED) <= set(themes)
    for name in BUNDLED:
        theme = themes[name]
        # The bundled files set every agentdesk variable explicitly (no silent derivation).
        raw = (bundled_themes_dir() / f"{name.removeprefix('agentdesk-')}.yaml").read_text(encoding="utf-8")
        for variable in KNOWN_VARIABLES:
            assert f"  {variable}:" in raw, (name, variable)
            Color.parse(theme.variables[variable])
    assert themes["agentdesk-light"].dark is False


def test_bundled_dir_is_the_top_level_themes_folder() -> None:
    assert bundled_themes_dir().resolve() == (REPO / "themes").resolve()
    assert sorted(p.name for p in (REPO / "themes").glob("*.yaml")) == [
        "dark.yaml",
        "high-contrast.yaml",
        "light.yaml",
    ]


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    parsed = Color.parse(colour)
    return 0.2126 * channel(parsed.r) + 0.7152 * channel(parsed.g) + 0.0722 * channel(parsed.b)


def contrast(first: str, second: str) -> float:
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(
    ("name", "minimum"), [("agentdesk-dark", 4.5), ("agentdesk-light", 4.5), ("agentdesk-high-contrast", 7.0)]
)
def test_text_colours_are_readable(name: str, minimum: float, no_user_dir: Path) -> None:
    theme = load_themes(user_dir=no_user_dir)[0][name]
    assert theme.background and theme.foreground
    text_colours = {
        "foreground": theme.foreground,
        "success": theme.success,
        "warning": theme.warning,
        "error": theme.error,
        **{k: v for k, v in theme.variables.items() if not k.endswith("-background")},
    }
    for key, colour in text_colours.items():
        assert colour is not None
        assert contrast(colour, theme.background) >= minimum, (
            key,
            colour,
            contrast(colour, theme.background),
        )


def test_user_file_overrides_a_bundled_theme_by_name(tmp_path: Path) -> None:
    user = tmp_path / "user"
    write(user, "whatever-file-name.yml", GOOD.format(name="agentdesk-dark", primary="#123456"))
    themes, warnings = load_themes(user_dir=user)
    assert warnings == []
    assert themes["agentdesk-dark"].primary == "#123456"
    assert themes["agentdesk-light"].primary != "#123456"  # the others are untouched


def test_themes_dir_overrides_the_user_dir_and_default_user_dir_is_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDESK_CONFIG_DIR", str(tmp_path / "config"))
    write(tmp_path / "config" / "themes", "mine.yaml", GOOD.format(name="my-theme", primary="#111111"))
    extra = tmp_path / "extra"
    write(extra, "mine.yaml", GOOD.format(name="my-theme", primary="#222222"))
    assert theme_search_path([extra])[1] == tmp_path / "config" / "themes"
    themes, warnings = load_themes([extra])
    assert warnings == []
    assert themes["my-theme"].primary == "#222222"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: x\ndark: [unclosed\n", "not valid YAML at line"),
        ('name: broken\ndark: true\nprimary: "#12345G"\n', "'primary': '#12345G' is not a colour"),
        ('name: broken\ndark: true\nprimary: "#123456"\nerror: 12\n', "'error' must be a colour string"),
        ("name: broken\ndark: true\n", "missing required key 'primary'"),
        ('dark: true\nprimary: "#123456"\n', "missing required key 'name'"),
        ('name: broken\ndark: true\nprimay: "#123456"\nprimary: "#123456"\n', "unknown key 'primay'"),
        ('name: broken\ndark: yes-ish\nprimary: "#123456"\n', "'dark' must be true or false"),
        ('name: Broken Theme\ndark: true\nprimary: "#123456"\n', "must be kebab-case"),
        ('name: dracula\ndark: true\nprimary: "#123456"\n', "Textual built-in theme"),
        (
            'name: broken\ndark: true\nprimary: "#123456"\nvariables:\n  sla-brech: "#ff0000"\n',
            "unknown variable 'variables.sla-brech'",
        ),
        (
            'name: broken\ndark: true\nprimary: "#123456"\nvariables:\n  sla-breach: "reddish"\n',
            "'variables.sla-breach': 'reddish' is not a colour",
        ),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("", "must be a YAML mapping"),
        ("!!python/object/apply:os.system ['echo owned']\n", "not valid YAML"),
    ],
)
def test_bad_file_is_one_warning_and_skipped(tmp_path: Path, text: str, fragment: str) -> None:
    user = tmp_path / "user"
    bad = write(user, "bad.yaml", text)
    write(user, "good.yaml", GOOD.format(name="fine-theme", primary="#445566"))
    themes, warnings = load_themes(user_dir=user)
    assert len(warnings) == 1, warnings
    assert str(bad) in warnings[0] and fragment in warnings[0], warnings[0]
    assert "fine-theme" in themes and set(BUNDLED) <= set(themes)
    assert "broken" not in themes


def test_unreadable_and_oversized_files_warn(tmp_path: Path) -> None:
    user = tmp_path / "user"
    (user).mkdir()
    (user / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    write(user, "huge.yaml", "# " + "x" * 70_000 + "\n")
    _themes, warnings = load_themes(user_dir=user)
    assert len(warnings) == 2
    assert any("not UTF-8" in w for w in warnings) and any("at most" in w for w in warnings)


def test_missing_themes_dir_is_reported_but_missing_user_dir_is_not(tmp_path: Path) -> None:
    themes, warnings = load_themes([tmp_path / "nope"], user_dir=tmp_path / "also-nope")
    assert set(BUNDLED) <= set(themes)
    assert len(warnings) == 1 and "--themes-dir" in warnings[0]


def test_duplicate_name_in_one_directory_warns_and_later_wins(tmp_path: Path) -> None:
    user = tmp_path / "user"
    write(user, "a.yaml", GOOD.format(name="twin", primary="#111111"))
    write(user, "b.yaml", GOOD.format(name="twin", primary="#222222"))
    themes, warnings = load_themes(user_dir=user)
    assert themes["twin"].primary == "#222222"
    assert len(warnings) == 1 and "a.yaml" in warnings[0]


def test_missing_variables_are_derived_from_the_theme(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", 'name: t\ndark: false\nprimary: "#0000FF"\nerror: "#AA0000"\n')
    theme = load_theme_file(path)
    assert set(theme.variables) == set(KNOWN_VARIABLES)
    assert theme.variables["sla-breach"] == "#AA0000"
    assert theme.variables["mode-ai"] == variable_defaults(False)["mode-ai"]  # no accent: literal fallback


@pytest.mark.parametrize("name", sorted(BUILTIN_THEMES))
def test_defaults_cover_textual_builtin_themes(name: str) -> None:
    values = theme_variable_defaults(BUILTIN_THEMES[name])
    assert set(values) == set(KNOWN_VARIABLES)
    for value in values.values():
        Color.parse(value)


def test_yaml_load_is_banned_by_ruff(tmp_path: Path) -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed in this environment")
    snippet = write(tmp_path, "snippet.py", "import yaml\n\nyaml.load('a: 1', Loader=yaml.Loader)\n")
    result = subprocess.run(
        [
            ruff,
            "check",
            "--no-cache",
            "--config",
            str(REPO / "pyproject.toml"),
            "--select",
            "TID251",
            str(snippet),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1 and "yaml.load" in result.stdout


# --- the variables work in TCSS under every theme -----------------------------------------------------


class ThemedApp(App[None]):
    CSS = """
    #breach { color: $sla-breach; background: $inbound-background; }
    #ai { color: $mode-ai; }
    """

    def __init__(self) -> None:
        super().__init__()
        themes, _warnings = load_themes(user_dir=Path("/nonexistent-agentdesk-user-dir"))
        for theme in themes.values():
            self.register_theme(theme)
        self.theme = "agentdesk-dark"

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return theme_variable_defaults(self.current_theme)

    def compose(self) -> ComposeResult:
        yield Static("SLA breached", id="breach")
        yield Static("AI", id="ai")


@pytest.mark.parametrize("theme_name", [*BUNDLED, "textual-dark", "textual-light", "dracula", "nord"])
async def test_tcss_variables_resolve_under_every_theme(theme_name: str) -> None:
    app = ThemedApp()
    async with app.run_test() as pilot:
        app.theme = theme_name
        await pilot.pause()
        expected = app.theme_variables["sla-breach"]
        assert app.query_one("#breach").styles.color == Color.parse(expected)
        if theme_name in BUNDLED:
            assert expected == app.current_theme.variables["sla-breach"]
        else:
            assert expected == theme_variable_defaults(BUILTIN_THEMES[theme_name])["sla-breach"]


def test_every_variable_is_documented() -> None:
    documented = (REPO / "docs" / "themes.md").read_text(encoding="utf-8")
    assert [v for v in KNOWN_VARIABLES if f"`{v}`" not in documented] == []
