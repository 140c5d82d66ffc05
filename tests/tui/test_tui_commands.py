"""The command registry, the keymap file, and the bindings they generate."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static, TextArea

from agentdesk.tui.command_set import COMMANDS, DESK, default_registry
from agentdesk.tui.commands import (
    APP,
    QUIT_KEY,
    Command,
    CommandRegistry,
    InvalidKey,
    RegistryError,
    normalize_key,
    registry_provider,
    run_command,
    with_bindings,
)
from agentdesk.tui.help_screen import HelpScreen
from agentdesk.tui.keymap import Keymap, default_keymap_path, keymap_from_mapping, load_keymap

DOCS = Path(__file__).parents[2] / "docs" / "commands.md"


def small_registry() -> CommandRegistry:
    return CommandRegistry(
        [
            Command("quit", "Quit", "Leave", ("ctrl+q",), show_in_footer=True),
            Command("help", "Help", "Show help", ("f1",)),
            Command("claim", "Claim", "Claim it", ("c",), DESK, show_in_footer=True),
            Command("resolve", "Resolve", "Resolve it", ("s",), DESK),
            Command("send-reply", "Send reply", "Send", ("ctrl+s",), DESK),
        ]
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keymap.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- registry validation ---------------------------------------------------------------------------


def test_default_registry_is_valid_and_documented() -> None:
    registry = default_registry()
    assert len(registry) == len(COMMANDS) >= 30
    documented = DOCS.read_text(encoding="utf-8")
    for command in registry:
        keys = ", ".join(f"`{key}`" for key in command.keys)
        row = f"| `{command.id}` | {command.scope} | {keys} |"
        assert row in documented, f"docs/commands.md lacks or misstates {row}"
    assert registry.get("quit").keys[0] == QUIT_KEY
    # Every command is reachable by keyboard: it has a key, or at least the palette (every command).
    assert all(command.keys for command in registry)


@pytest.mark.parametrize("bad_id", ["Approve", "approve_draft", "approve--draft", "-x", "x-", "1abc", ""])
def test_ids_must_be_kebab_case(bad_id: str) -> None:
    with pytest.raises(RegistryError, match="kebab-case"):
        CommandRegistry([Command(bad_id, "t", "d", ("x",))])


def test_ids_are_unique() -> None:
    with pytest.raises(RegistryError, match="twice"):
        CommandRegistry([Command("claim", "t", "d", ("c",), DESK), Command("claim", "t", "d", ("x",), DESK)])


def test_key_collisions_within_a_scope_and_with_global_keys() -> None:
    with pytest.raises(RegistryError, match="both use"):
        CommandRegistry([Command("claim", "t", "d", ("c",), DESK), Command("close", "t", "d", ("c",), DESK)])
    with pytest.raises(RegistryError, match="both use"):
        CommandRegistry([Command("help", "t", "d", ("f1",)), Command("claim", "t", "d", ("f1",), DESK)])
    # Same key on two different screens is fine.
    CommandRegistry([Command("claim", "t", "d", ("c",), DESK), Command("copy", "t", "d", ("c",), "faq")])


def test_ctrl_q_is_reserved_for_quit() -> None:
    with pytest.raises(RegistryError, match="reserved"):
        CommandRegistry([Command("claim", "t", "d", ("ctrl+q",), DESK)])
    with pytest.raises(RegistryError, match="quit"):
        CommandRegistry([Command("quit", "Quit", "d", ("f10",))])


def test_labels_must_not_be_markup() -> None:
    with pytest.raises(RegistryError, match="markup"):
        CommandRegistry([Command("claim", "[b]Claim", "d", ("c",), DESK)])


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("?", "question_mark"),
        ("/", "slash"),
        ("Ctrl+S", "ctrl+s"),
        ("shift+ctrl+x", "ctrl+shift+x"),
        ("F5", "f5"),
        ("S", "S"),
        ("alt+enter", "alt+enter"),
        ("ctrl+m", "enter"),
        ("ctrl+/", "ctrl+slash"),
        ("PageDown", "pagedown"),
    ],
)
def test_normalize_key(raw: str, normal: str) -> None:
    assert normalize_key(raw) == normal


@pytest.mark.parametrize("bad", ["", "ctlr+s", "ctrl+ctrl+s", "f99", "ctrl+", "hyperdrive", "é", "ctrl+退"])
def test_invalid_keys(bad: str) -> None:
    with pytest.raises(InvalidKey):
        normalize_key(bad)


# --- keymap ------------------------------------------------------------------------------------------


def test_keymap_remaps_by_id(tmp_path: Path) -> None:
    path = write(tmp_path, '[keys]\nclaim = "x"\nresolve = ["ctrl+r", "F5"]\n')
    keymap = load_keymap(path, small_registry())
    assert keymap.warnings == ()
    assert keymap.keys == {"claim": ("x",), "resolve": ("ctrl+r", "f5")}
    keys = small_registry().effective_keys(keymap)
    assert keys["claim"] == ("x",)
    assert keys["resolve"] == ("ctrl+r", "f5")
    assert keys["send-reply"] == ("ctrl+s",)


def test_comma_separated_string_and_unbinding(tmp_path: Path) -> None:
    keymap = load_keymap(write(tmp_path, '[keys]\nclaim = "x, y"\nresolve = []\n'), small_registry())
    assert keymap.keys == {"claim": ("x", "y"), "resolve": ()}
    bindings = small_registry().bindings_for(DESK, keymap)
    assert not [b for b in bindings if b.action == "resolve"]


def test_missing_file_is_an_empty_keymap(tmp_path: Path) -> None:
    keymap = load_keymap(tmp_path / "nope.toml", small_registry())
    assert keymap.keys == {} and keymap.warnings == ()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[keys]\nclaimm = "x"\n', "did you mean 'claim'"),
        ('[keys]\nclaim = "ctlr+x"\n', "unknown modifier 'ctlr'"),
        ("[keys]\nclaim = 5\n", "expected a key string"),
        ('[keys]\nclaim = ","\n', "write 'comma'"),
        ('[keys]\nclaim = "ctrl+q"\n', "ctrl+q always quits"),
        ("[keys]\nquit = []\n", "ctrl+q always quits"),
        ('[keys]\nclaim = "x"\nresolve = "x"\n', "already given to 'claim'"),
        ("[keys\nclaim = 'x'\n", "not valid TOML"),
        ('[bindings]\nclaim = "x"\n', "unknown section [bindings]"),
        ('keys = "x"\n', "must be a table"),
    ],
)
def test_bad_entries_are_reported_with_file_and_id_and_ignored(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = write(tmp_path, text)
    keymap = load_keymap(path, small_registry())
    assert any(fragment in warning and str(path) in warning for warning in keymap.warnings), keymap.warnings
    keys = small_registry().effective_keys(keymap)
    assert keys["quit"][0] == QUIT_KEY
    assert QUIT_KEY not in keys["claim"]


def test_bad_key_drops_only_that_key(tmp_path: Path) -> None:
    keymap = load_keymap(write(tmp_path, '[keys]\nclaim = ["nope+x", "x"]\n'), small_registry())
    assert keymap.keys == {"claim": ("x",)}
    assert len(keymap.warnings) == 1


def test_all_keys_bad_keeps_the_defaults(tmp_path: Path) -> None:
    keymap = load_keymap(write(tmp_path, '[keys]\nclaim = ["nope+x"]\n'), small_registry())
    assert "claim" not in keymap.keys
    assert small_registry().effective_keys(keymap)["claim"] == ("c",)


def test_ctrl_q_can_never_be_removed(tmp_path: Path) -> None:
    keymap = load_keymap(write(tmp_path, '[keys]\nquit = "f10"\nhelp = "ctrl+q"\n'), small_registry())
    keys = small_registry().effective_keys(keymap)
    assert keys["quit"] == ("ctrl+q", "f10")
    assert keys["help"] == ("f1",)  # the only key was refused, defaults stay
    bindings = small_registry().bindings_for(APP, keymap)
    fixed = [b for b in bindings if b.key == QUIT_KEY]
    assert len(fixed) == 1 and fixed[0].action == "quit" and fixed[0].priority and fixed[0].id is None


def test_a_remapped_key_is_taken_from_its_default_owner() -> None:
    keymap = keymap_from_mapping({"claim": "s"}, "test", small_registry())
    keys = small_registry().effective_keys(keymap)
    assert keys["claim"] == ("s",)
    assert keys["resolve"] == ()  # "s" now claims; no key does two things


def test_bindings_are_generated_per_key_with_ids() -> None:
    registry = default_registry()
    bindings = registry.bindings_for(DESK)
    by_id = {b.id for b in bindings}
    assert by_id == {c.id for c in registry.in_scope(DESK)}
    urgent = [b for b in bindings if b.id == "next-urgent"]
    assert [b.key for b in urgent] == ["u", "alt+a"]
    assert [b.show for b in urgent] == [True, False]  # footer shows only the first key
    assert all(b.tooltip for b in bindings)


def test_help_rows_follow_the_keymap() -> None:
    keymap = Keymap({"claim": ("x",)})
    rows = {row.id: row for row in small_registry().help_rows(keymap)}
    assert rows["claim"].keys == "x"
    assert rows["quit"].keys == "^q"


# --- Pilot: the registry drives a real app ---------------------------------------------------------


class DeskScreen(Screen[None]):
    COMMAND_SCOPE: ClassVar[str] = DESK
    AUTO_FOCUS = ""  # nothing focused: list-context letters work

    def compose(self) -> ComposeResult:
        yield Static("desk")
        yield Input(id="composer")
        yield Footer()

    def action_claim(self) -> None:
        self.app.log_calls.append("claim")  # type: ignore[attr-defined]

    def action_resolve(self) -> None:
        self.app.log_calls.append("resolve")  # type: ignore[attr-defined]

    def action_send_reply(self) -> None:
        self.app.log_calls.append("send-reply")  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action != "resolve"  # "nothing to resolve" right now


class ConsoleApp(App[object]):
    def __init__(self, registry: CommandRegistry, keymap: Keymap | None) -> None:
        super().__init__()
        self.registry = registry
        self.keymap = keymap
        self.log_calls: list[str] = []
        self.desk_class = with_bindings(DeskScreen, registry.bindings_for(DESK, keymap))

    def on_mount(self) -> None:
        self.push_screen(self.desk_class())

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.registry, self.keymap))


def make_app(keymap: Keymap | None = None) -> ConsoleApp:
    registry = small_registry()
    app_class = with_bindings(ConsoleApp, registry.bindings_for(APP, keymap))
    app_class.COMMANDS = {registry_provider(registry, keymap)}
    assert app_class.__name__ == "ConsoleApp"
    return app_class(registry, keymap)


async def test_default_key_triggers_action() -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert app.log_calls == ["claim"]


async def test_remapped_key_triggers_action_and_old_key_does_not(tmp_path: Path) -> None:
    keymap = load_keymap(write(tmp_path, '[keys]\nclaim = "x"\nquit = "f10"\n'), small_registry())
    app = make_app(keymap)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert app.log_calls == []
        await pilot.press("x")
        await pilot.pause()
        assert app.log_calls == ["claim"]
        await pilot.press("f10")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_ctrl_q_quits_even_with_a_hostile_keymap(tmp_path: Path) -> None:
    keymap = load_keymap(write(tmp_path, '[keys]\nquit = []\nclaim = "ctrl+q"\n'), small_registry())
    app = make_app(keymap)
    async with app.run_test() as pilot:
        await pilot.pause()
        app.screen.query_one("#composer", Input).focus()
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.log_calls == []
    assert not app.is_running


async def test_letters_do_not_fire_while_typing_but_chords_do() -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        app.screen.query_one("#composer", Input).focus()
        await pilot.press("c", "s")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen.query_one("#composer", Input).value == "cs"
        assert app.log_calls == ["send-reply"]


async def test_palette_lists_available_commands_and_runs_them() -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert CommandPalette.is_open(app)
        await pilot.press(*"claim")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.log_calls == ["claim"]


async def test_palette_hides_commands_check_action_refuses() -> None:
    registry = small_registry()
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        provider = registry_provider(registry)(app.screen)
        titles = [hit.text async for hit in provider.discover()]
        assert "Claim" in titles and "Help" in titles
        assert "Resolve" not in titles  # the desk screen's check_action says no


async def test_help_screen_shows_the_table() -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == len(small_registry())
        assert [str(cell) for cell in table.get_row("claim")] == ["c", "Claim", "claim", "Claim it"]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_footer_shows_registry_labels() -> None:
    app = make_app()
    async with app.run_test(size=(120, 20)) as pilot:
        await pilot.pause()
        shown = {
            binding.description
            for _, binding, enabled, _ in app.screen.active_bindings.values()
            if binding.show
        }
        assert {"Claim", "Quit"} <= shown


async def test_run_command_by_id_for_mouse_handlers() -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        run_command(app, app.registry, "claim")
        await pilot.pause()
        assert app.log_calls == ["claim"]


def test_default_keymap_path_is_in_the_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTDESK_CONFIG_DIR", str(tmp_path))
    assert default_keymap_path() == tmp_path / "keymap.toml"


def test_default_keymap_applies_to_the_console_commands(tmp_path: Path) -> None:
    keymap = load_keymap(write(tmp_path, '[keys]\napprove-draft = "f5"\nsend-reply = "ctrl+y"\n'))
    assert keymap.warnings == ()
    keys = default_registry().effective_keys(keymap)
    assert keys["approve-draft"] == ("f5",)
    assert keys["send-reply"] == ("ctrl+y",)


def _text_widget_keys() -> set[str]:
    keys: set[str] = set()
    for widget in (Input, TextArea):
        for binding in Binding.make_bindings(widget.BINDINGS):
            keys.add(binding.key)
    return keys


def test_default_chords_work_while_typing() -> None:
    """A chord the composer (Input/TextArea) already binds would be swallowed while typing."""
    taken = _text_widget_keys()
    for command in default_registry():
        for key in command.keys:
            is_chord = "+" in key or (key.startswith("f") and key[1:].isdigit())
            if is_chord and command.id != "quit":
                assert key not in taken, f"{command.id}: {key} is used by Input/TextArea"
