"""Theme files: YAML in the top-level `themes/` folder (shipped in the wheel), the user's themes
directory, then `--themes-dir`. A later file with the same `name` wins. Nothing here raises on a bad file:
each one yields a single warning (file + key + fix) and is skipped, so start-up never stops.

File format (one theme per file, `*.yaml` or `*.yml`; the file name is not used):

    name: agentdesk-dark          # required, kebab-case, not a Textual built-in name
    dark: true                    # required
    primary: "#4E9BE8"            # required; any Textual colour ("#rgb", "#rrggbb", "rgb(…)", names)
    secondary/accent/foreground/background/surface/panel/boost/success/warning/error: optional colours
    variables:                    # optional, agentdesk's own colour tokens (KNOWN_VARIABLES)
      sla-breach: "#FF5F5F"
    author: …  description: …     # optional metadata

Unknown keys are refused (a typo such as `primay` would otherwise silently do nothing). Variables a file
omits are derived from its own colours (`theme_variable_defaults`), and the App's
`get_theme_variable_defaults()` should return `theme_variable_defaults(self.current_theme)` so TCSS that
uses `$sla-breach` also works under Textual's built-in themes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES, Theme

__all__ = [
    "KNOWN_VARIABLES",
    "bundled_themes_dir",
    "load_theme_file",
    "load_themes",
    "theme_search_path",
    "theme_variable_defaults",
    "variable_defaults",
]

COLOR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "success",
    "warning",
    "error",
)
REQUIRED_KEYS = ("name", "dark", "primary")
METADATA_KEYS = ("author", "description")
ALLOWED_KEYS = frozenset((*COLOR_KEYS, *REQUIRED_KEYS, *METADATA_KEYS, "variables"))
MAX_FILE_BYTES = 64 * 1024
_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")

# agentdesk's colour tokens, usable in TCSS as `$name`. Each maps to the semantic colour it derives from
# when a theme does not set it, and to a literal fallback for (dark, light) when even that is missing.
_DERIVED: dict[str, tuple[str, str, str]] = {
    "sla-ok": ("success", "#4EBF71", "#1E7B34"),
    "sla-warn": ("warning", "#FFA62B", "#9A5B00"),
    "sla-breach": ("error", "#FF5F5F", "#B3261E"),
    "urgency-urgent": ("error", "#FF5F5F", "#B3261E"),
    "urgency-high": ("warning", "#FFA62B", "#9A5B00"),
    "urgency-normal": ("foreground", "#E0E0E0", "#1F1F1F"),
    "mode-ai": ("accent", "#C49BFF", "#6A3FB5"),
    "mode-assist": ("secondary", "#4EC9E8", "#00658A"),
    "mode-human": ("success", "#4EBF71", "#1E7B34"),
    "draft-confidence-low": ("error", "#FF5F5F", "#B3261E"),
    "draft-confidence-medium": ("warning", "#FFA62B", "#9A5B00"),
    "draft-confidence-high": ("success", "#4EBF71", "#1E7B34"),
    "unread-badge": ("accent", "#FF6B6B", "#C62828"),
    "control-char": ("warning", "#FFA62B", "#9A5B00"),
}
# Backgrounds: a tint of (colour key) over the background, by this fraction.
_TINTED: dict[str, tuple[str, float, str, str]] = {
    "inbound-background": ("primary", 0.12, "#1D2A3A", "#E6EEF8"),
    "outbound-background": ("success", 0.12, "#213324", "#E7F4EA"),
    "note-background": ("warning", 0.15, "#3A331D", "#FFF6DC"),
    "draft-background": ("accent", 0.12, "#2B2238", "#F1EAFB"),
}
KNOWN_VARIABLES: tuple[str, ...] = (*_DERIVED, *_TINTED)


def variable_defaults(dark: bool) -> dict[str, str]:
    """Literal fallback values of every agentdesk variable for a dark or a light theme."""
    index = 1 if dark else 2
    values = {name: spec[index] for name, spec in _DERIVED.items()}
    values.update({name: (spec[2] if dark else spec[3]) for name, spec in _TINTED.items()})
    return values


def theme_variable_defaults(theme: Theme) -> dict[str, str]:
    """Values for every agentdesk variable under `theme` (which may be a Textual built-in), as literal
    colours derived from the theme's own semantic colours (Textual does not resolve `$primary 20%` in
    variable defaults), falling back to `variable_defaults(theme.dark)`. Variables the theme sets win."""
    fallback = variable_defaults(theme.dark)
    values: dict[str, str] = {}
    for name, (source, *_rest) in _DERIVED.items():
        colour = getattr(theme, source, None)
        values[name] = _as_hex(colour) or fallback[name]
    background = _as_hex(theme.background)
    for name, (source, fraction, *_rest) in _TINTED.items():
        tint = _as_hex(getattr(theme, source, None))
        if background and tint:
            values[name] = Color.parse(background).blend(Color.parse(tint), fraction).hex
        else:
            values[name] = fallback[name]
    values.update({k: v for k, v in theme.variables.items() if k in values})
    return values


def _as_hex(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return Color.parse(value).hex
    except ColorParseError:
        return None


class ThemeFileError(ValueError):
    """One problem with one theme file; the message names the key and the fix."""


def _check_colour(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f'{key!r} must be a colour string such as "#4E9BE8", got {type(value).__name__}')
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(
            f'{key!r}: {value!r} is not a colour; use "#rrggbb", "rgb(r,g,b)" or a name'
        ) from None
    return value


def _theme_from_data(data: object) -> Theme:
    if not isinstance(data, dict):
        raise ThemeFileError("the file must be a YAML mapping (name: …, dark: …, primary: …)")
    unknown = sorted(str(key) for key in data if key not in ALLOWED_KEYS)
    if unknown:
        raise ThemeFileError(
            f"unknown key {unknown[0]!r}; allowed keys are {', '.join(sorted(ALLOWED_KEYS))}"
        )
    for key in REQUIRED_KEYS:
        if data.get(key) is None:  # absent, or present and empty (`primary:` is YAML null)
            raise ThemeFileError(f"missing required key {key!r}")
    name = data["name"]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ThemeFileError(f"'name': {name!r} must be kebab-case, e.g. 'my-dark'")
    if name in BUILTIN_THEMES:
        raise ThemeFileError(f"'name': {name!r} is a Textual built-in theme; choose another name")
    if not isinstance(data["dark"], bool):
        raise ThemeFileError(f"'dark' must be true or false, got {data['dark']!r}")
    for key in METADATA_KEYS:
        if key in data and not isinstance(data[key], str):
            raise ThemeFileError(f"{key!r} must be a string")
    colours = {
        key: _check_colour(key, data[key]) for key in COLOR_KEYS if key in data and data[key] is not None
    }
    raw_variables = data.get("variables") or {}
    if not isinstance(raw_variables, dict):
        raise ThemeFileError("'variables' must be a mapping of variable name to colour")
    variables: dict[str, str] = {}
    for key, value in raw_variables.items():
        if key not in KNOWN_VARIABLES:
            raise ThemeFileError(
                f"unknown variable 'variables.{key}'; known variables are {', '.join(KNOWN_VARIABLES)}"
            )
        variables[key] = _check_colour(f"variables.{key}", value)
    theme = Theme(
        name=name,
        primary=colours["primary"],
        secondary=colours.get("secondary"),
        warning=colours.get("warning"),
        error=colours.get("error"),
        success=colours.get("success"),
        accent=colours.get("accent"),
        foreground=colours.get("foreground"),
        background=colours.get("background"),
        surface=colours.get("surface"),
        panel=colours.get("panel"),
        boost=colours.get("boost"),
        dark=data["dark"],
    )
    theme.variables = {**theme_variable_defaults(theme), **variables}
    return theme


def load_theme_file(path: Path) -> Theme:
    """Parse and validate one theme file. Raises `ThemeFileError` (message without the path)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ThemeFileError(f"file is {size} bytes; a theme file is at most {MAX_FILE_BYTES}")
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ThemeFileError(f"cannot read the file ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise ThemeFileError("the file is not UTF-8 text") from None
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ThemeFileError(f"not valid YAML{where}; fix the syntax") from None
    return _theme_from_data(data)


def bundled_themes_dir() -> Path:
    """The themes shipped with agentdesk: inside the installed package, or the repo's `themes/`.

    The wheel carries them as `agentdesk/tui/bundled_themes/*.yaml` (a symlink to the top-level
    `themes/` in the repository, resolved by the build). A source checkout where the symlink was not
    created (Windows without symlink support) falls back to the top-level folder itself.
    """
    packaged = Path(__file__).parent / "bundled_themes"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "themes"


def theme_search_path(extra_dirs: Iterable[Path] = (), user_dir: Path | None = None) -> list[Path]:
    """Directories in load order: bundled, the user's themes directory, then `extra_dirs`."""
    if user_dir is None:
        from agentdesk.paths import config_dir

        user_dir = config_dir() / "themes"
    return [bundled_themes_dir(), user_dir, *extra_dirs]


def load_themes(
    extra_dirs: Iterable[Path] = (), *, user_dir: Path | None = None
) -> tuple[dict[str, Theme], list[str]]:
    """Load every theme on the search path. Returns (name → Theme, warnings); never raises.

    Files are read in sorted order within each directory; a later file with the same `name` replaces an
    earlier one (so a user's `agentdesk-dark` overrides the bundled one). A missing bundled or user
    directory is normal; a missing `--themes-dir` is reported.
    """
    extra = list(extra_dirs)
    themes: dict[str, Theme] = {}
    warnings: list[str] = []
    for index, directory in enumerate(theme_search_path(extra, user_dir)):
        if not directory.is_dir():
            if index >= 2:
                warnings.append(f"{directory}: themes directory not found; check --themes-dir.")
            continue
        seen_here: dict[str, Path] = {}
        files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        for path in files:
            try:
                theme = load_theme_file(path)
            except ThemeFileError as error:
                warnings.append(f"{path}: {error}. Theme skipped.")
                continue
            if theme.name in seen_here:
                warnings.append(
                    f"{path}: theme {theme.name!r} is also defined in {seen_here[theme.name].name}; "
                    "this later file wins. Rename one of them."
                )
            seen_here[theme.name] = path
            themes[theme.name] = theme
    return themes, warnings


def describe(themes: Mapping[str, Theme]) -> list[str]:
    """Theme names with their kind, sorted, for `--list-themes` style output."""
    return [f"{name} ({'dark' if theme.dark else 'light'})" for name, theme in sorted(themes.items())]
