"""One registry of commands drives bindings, footer, command palette, help screen and the user's keymap.

A `Command` has a stable kebab-case id (public configuration API, listed in docs/commands.md), a title, a
description, default keys (Textual key strings) and a scope: `app` commands work everywhere, the others
on the screen of that name. `CommandRegistry` validates ids and key collisions, and generates Textual
`Binding`s with the user's keymap (see `keymap.py`) already applied.

`quit` is special: its `ctrl+q` binding is generated with priority and *no id*, so neither our keymap
nor Textual's `App.set_keymap` can move it; a keymap may only add keys to it, and no other command can
take `ctrl+q`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.dom import DOMNode
from textual.keys import Keys, format_key

if TYPE_CHECKING:
    from textual.app import App

APP = "app"
"""Scope of commands that work on every screen (bound on the App)."""
QUIT = "quit"
QUIT_KEY = "ctrl+q"

_ID_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_MODIFIERS = ("ctrl", "alt", "shift", "super", "meta", "hyper")
_NAMED_KEYS = frozenset(
    key.value
    for key in Keys
    if "+" not in key.value and not key.value.startswith("<") and key.value != "ctrl-at"
)
_PUNCTUATION_NAMES = {
    "!": "exclamation_mark",
    '"': "quotation_mark",
    "#": "number_sign",
    "$": "dollar_sign",
    "%": "percent_sign",
    "&": "ampersand",
    "'": "apostrophe",
    "(": "left_parenthesis",
    ")": "right_parenthesis",
    "*": "asterisk",
    "+": "plus",
    ",": "comma",
    "-": "minus",
    ".": "full_stop",
    "/": "slash",
    ":": "colon",
    ";": "semicolon",
    "<": "less_than_sign",
    "=": "equals_sign",
    ">": "greater_than_sign",
    "?": "question_mark",
    "@": "at",
    "[": "left_square_bracket",
    "\\": "backslash",
    "]": "right_square_bracket",
    "^": "circumflex_accent",
    "_": "underscore",
    "`": "grave_accent",
    "{": "left_curly_bracket",
    "|": "vertical_line",
    "}": "right_curly_bracket",
    "~": "tilde",
}
_CHARACTER_NAMES = frozenset(_PUNCTUATION_NAMES.values())
# Keys that reach the app as another key in most terminals (no kitty keyboard protocol).
_ALIASES = {"ctrl+m": "enter", "ctrl+i": "tab", "return": "enter", "ctrl+left_square_bracket": "escape"}


class RegistryError(ValueError):
    """A programming error in the command set (bad id, duplicate, key collision)."""


class InvalidKey(ValueError):
    """A key string Textual would not understand."""


def normalize_key(key: str) -> str:
    """The canonical Textual form of one key: `?` → `question_mark`, `Ctrl+S` → `ctrl+s`.

    Raises `InvalidKey` with a message saying what is wrong.
    """
    raw = key
    key = key.strip()
    if not key:
        raise InvalidKey("empty key")
    if key in _PUNCTUATION_NAMES:  # a bare punctuation character, including "+" and ","
        return _PUNCTUATION_NAMES[key]
    *mods, base = key.split("+")
    mods = [mod.strip().lower() for mod in mods]
    base = base.strip()
    for mod in mods:
        if mod not in _MODIFIERS:
            raise InvalidKey(f"unknown modifier {mod!r} in {raw!r} (use {', '.join(_MODIFIERS)})")
    if len(set(mods)) != len(mods):
        raise InvalidKey(f"repeated modifier in {raw!r}")
    if len(base) == 1:
        if base in _PUNCTUATION_NAMES:
            base = _PUNCTUATION_NAMES[base]
        elif base not in string.ascii_letters + string.digits:
            raise InvalidKey(f"{raw!r}: only ASCII letters, digits and punctuation can be bound")
        elif mods:
            base = base.lower()  # ctrl+S is ctrl+s; a bare "S" stays upper case (shift+s)
    else:
        base = base.lower()
        if base not in _NAMED_KEYS and base not in _CHARACTER_NAMES:
            raise InvalidKey(f"unknown key {base!r} in {raw!r} (examples: f5, enter, ctrl+s, alt+up, slash)")
    order = [mod for mod in _MODIFIERS if mod in mods]
    normal = "+".join([*order, base])
    return _ALIASES.get(normal, normal)


def key_display(key: str) -> str:
    """How a key is written for people (footer, palette, help): `ctrl+q` → `^q`, `question_mark` → `?`."""
    *mods, base = key.split("+")
    shown = format_key(base)
    if mods == ["ctrl"]:
        return f"^{shown}"
    return "+".join([*mods, shown])


@cache
def widget_keys() -> frozenset[str]:
    """Keys that Textual's own text, list and scroll widgets bind (never given priority, see `Command`)."""
    from textual.containers import VerticalScroll
    from textual.widgets import Input, OptionList, TextArea

    keys: set[str] = set()
    for widget in (Input, TextArea, OptionList, VerticalScroll):
        for klass in widget.__mro__:
            for binding in Binding.make_bindings(klass.__dict__.get("BINDINGS", ())):
                keys.update(key.strip() for key in binding.key.split(","))
    return frozenset(keys | {"enter", "tab", "shift+tab", "space"})


def scopes_overlap(first: str, second: str) -> bool:
    return first == second or APP in (first, second)


@dataclass(frozen=True, slots=True)
class Command:
    """One thing the operator can do, reachable by keys, footer, palette and help screen."""

    id: str
    title: str
    description: str
    keys: tuple[str, ...] = ()
    scope: str = APP
    show_in_footer: bool = False
    priority: bool = False
    """Resolved by the app the moment the key arrives, in arrival order, before the focused widget sees
    it (Textual checks other bindings only after the key has bubbled up from the widget focused when it
    was dispatched, so keys right behind a focus-moving key would reach the old widget). Keys that
    Textual's text and list widgets bind themselves (`widget_keys()`: enter, arrows, tab…) never get
    priority, so a keymap that puts a command on one keeps the widget's meaning first. A printable key
    never fires while a text field has the focus: Textual drops it from the chain (`check_consume_key`)."""
    action: str = ""
    """The Textual action; defaults to the id in snake case (`approve-draft` → `approve_draft`)."""
    footer: str = ""
    """Short footer label; defaults to the title."""

    @property
    def action_name(self) -> str:
        return self.action or self.id.replace("-", "_")

    @property
    def footer_label(self) -> str:
        return self.footer or self.title


@dataclass(frozen=True, slots=True)
class HelpRow:
    id: str
    keys: str
    title: str
    description: str
    scope: str


class KeymapLike(Protocol):
    """What the registry needs from a keymap: id → keys that replace the defaults (see `keymap.Keymap`)."""

    @property
    def keys(self) -> Mapping[str, tuple[str, ...]]: ...


def _markup_stable(text: str) -> bool:
    try:
        return Content.from_markup(text).plain == text
    except Exception:
        return False


class CommandRegistry:
    """The single list of commands. Registration validates; lookups never fail silently."""

    def __init__(self, commands: Iterable[Command] = ()) -> None:
        self._commands: dict[str, Command] = {}
        for command in commands:
            self.register(command)

    def register(self, command: Command) -> Command:
        if not _ID_RE.match(command.id):
            raise RegistryError(f"command id {command.id!r} is not kebab-case (e.g. 'approve-draft')")
        if command.id in self._commands:
            raise RegistryError(f"command id {command.id!r} is registered twice")
        for label in (command.title, command.description, command.footer):
            if not _markup_stable(label):
                raise RegistryError(f"command {command.id!r}: {label!r} would be read as markup")
        if not _ID_RE.match(command.scope):
            raise RegistryError(f"command {command.id!r}: scope {command.scope!r} is not kebab-case")
        try:
            keys = tuple(normalize_key(key) for key in command.keys)
        except InvalidKey as error:
            raise RegistryError(f"command {command.id!r}: {error}") from None
        if len(set(keys)) != len(keys):
            raise RegistryError(f"command {command.id!r} lists a key twice: {keys}")
        if command.id == QUIT and (keys[:1] != (QUIT_KEY,) or command.scope != APP):
            raise RegistryError(f"'quit' must be an app command whose first key is {QUIT_KEY}")
        if command.id != QUIT and QUIT_KEY in keys:
            raise RegistryError(f"command {command.id!r}: {QUIT_KEY} is reserved for quit")
        for other in self._commands.values():
            if not scopes_overlap(other.scope, command.scope):
                continue
            clash = set(keys) & set(other.keys)
            if clash:
                raise RegistryError(
                    f"command {command.id!r} ({command.scope}) and {other.id!r} ({other.scope}) "
                    f"both use {sorted(clash)}"
                )
        command = replace(command, keys=keys)
        self._commands[command.id] = command
        return command

    def get(self, command_id: str) -> Command:
        try:
            return self._commands[command_id]
        except KeyError:
            raise KeyError(f"no command {command_id!r}") from None

    def all(self) -> list[Command]:
        return list(self._commands.values())

    def ids(self) -> list[str]:
        return list(self._commands)

    def in_scope(self, scope: str) -> list[Command]:
        return [command for command in self._commands.values() if command.scope == scope]

    def scopes(self) -> list[str]:
        return list(dict.fromkeys(command.scope for command in self._commands.values()))

    def __contains__(self, command_id: object) -> bool:
        return command_id in self._commands

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands.values())

    def __len__(self) -> int:
        return len(self._commands)

    def conflicts_with(self, command_id: str) -> list[Command]:
        """Commands whose keys would collide with `command_id`'s (same scope, or either is global)."""
        scope = self.get(command_id).scope
        return [c for c in self if c.id != command_id and scopes_overlap(c.scope, scope)]

    def effective_keys(self, keymap: KeymapLike | None = None) -> dict[str, tuple[str, ...]]:
        """Every command's keys once the keymap is applied.

        A keymap entry replaces the command's defaults (for quit it adds to `ctrl+q`). A default key that
        the keymap gives to another command in an overlapping scope is taken away from its old owner, so
        a key never does two things. The keymap itself was validated by `keymap.load_keymap`.
        """
        overrides = dict(keymap.keys) if keymap is not None else {}
        result: dict[str, tuple[str, ...]] = {}
        for command in self:
            keys = overrides.get(command.id, command.keys)
            if command.id == QUIT:
                keys = (QUIT_KEY, *(key for key in keys if key != QUIT_KEY))
            result[command.id] = tuple(keys)
        for command in self:
            if command.id in overrides:
                continue
            taken = {
                key
                for other in self.conflicts_with(command.id)
                if other.id in overrides
                for key in result[other.id]
            }
            if command.id == QUIT:
                taken.discard(QUIT_KEY)
            result[command.id] = tuple(key for key in result[command.id] if key not in taken)
        return result

    def bindings_for(self, scope: str, keymap: KeymapLike | None = None) -> list[Binding]:
        """Textual bindings for the commands of `scope`, keymap applied; one `Binding` per key.

        Only a command's first key is shown in the footer. Bindings carry `id=command.id` (so Textual's
        own keymap could address them too), except quit's `ctrl+q`, which has none and can't be moved.
        """
        keys = self.effective_keys(keymap)
        bindings: list[Binding] = []
        for command in self.in_scope(scope):
            for index, key in enumerate(keys[command.id]):
                fixed_quit = command.id == QUIT and key == QUIT_KEY
                priority = command.id == QUIT or (command.priority and key not in widget_keys())
                bindings.append(
                    Binding(
                        key,
                        command.action_name,
                        command.footer_label,
                        show=command.show_in_footer and index == 0,
                        key_display=key_display(key),
                        priority=priority,
                        tooltip=command.description,
                        id=None if fixed_quit else command.id,
                    )
                )
        return bindings

    def help_rows(self, keymap: KeymapLike | None = None) -> list[HelpRow]:
        """The help screen's table: one row per command, keys as people write them."""
        keys = self.effective_keys(keymap)
        return [
            HelpRow(
                id=command.id,
                keys=", ".join(key_display(key) for key in keys[command.id]) or "—",
                title=command.title,
                description=command.description,
                scope=command.scope,
            )
            for command in self
        ]


N = TypeVar("N", bound=DOMNode)


def with_bindings(node_class: type[N], bindings: Sequence[Binding]) -> type[N]:
    """A subclass of `node_class` (an App or Screen) whose `BINDINGS` are `bindings`.

    This is how a keymap known at start-up is applied with public API only: the composition root builds
    `with_bindings(AgentDeskApp, registry.bindings_for("app", keymap))` before constructing the app, so no
    keymap is ever set before mount (Textual #5742) and the footer is right from the first frame. The
    subclass keeps the name, module and qualname, so CSS type selectors and `CSS_PATH` still resolve.
    """
    namespace: dict[str, object] = {
        "BINDINGS": list(bindings),
        "__module__": node_class.__module__,
        "__qualname__": node_class.__qualname__,
        "__doc__": node_class.__doc__,
    }
    return cast("type[N]", type(node_class.__name__, (node_class,), namespace))


# --- command palette -------------------------------------------------------------------------------


@dataclass
class _PaletteEntry:
    command: Command
    keys: tuple[str, ...]
    callback: Callable[[], object] = field(repr=False)

    @property
    def help(self) -> str:
        # The palette parses `help` as markup (textual/command.py), so only markup-stable text goes in.
        shown = ", ".join(key_display(key) for key in self.keys)
        text = f"{self.command.description} · {shown}" if shown else self.command.description
        return text if _markup_stable(text) else self.command.description


class RegistryCommandsProvider(Provider):
    """Command palette provider built from a registry (`registry_provider(...)` binds one).

    Offers the commands of the `app` scope and of the current screen's scope, skipping those whose
    action the owner's `check_action` refuses right now, so palette and footer agree on availability.
    """

    registry: CommandRegistry = CommandRegistry()
    keymap: KeymapLike | None = None

    def _entries(self) -> list[_PaletteEntry]:
        screen = self.screen
        scope = getattr(screen, "COMMAND_SCOPE", None)
        keys = self.registry.effective_keys(self.keymap)
        entries: list[_PaletteEntry] = []
        for command in self.registry:
            if command.id == "command-palette":
                continue
            if command.scope == APP:
                owner: DOMNode = self.app
            elif command.scope == scope:
                owner = screen
            else:
                continue
            if owner.check_action(command.action_name, ()) in (False, None):
                continue
            callback = partial(self.app.run_action, command.action_name, owner)
            entries.append(_PaletteEntry(command, keys[command.id], callback))
        return entries

    async def discover(self) -> Hits:
        for entry in self._entries():
            yield DiscoveryHit(Content(entry.command.title), entry.callback, entry.command.title, entry.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in self._entries():
            haystack = f"{entry.command.title} ({entry.command.id})"
            score = matcher.match(haystack)
            if score > 0:
                yield Hit(score, matcher.highlight(haystack), entry.callback, haystack, entry.help)


def registry_provider(registry: CommandRegistry, keymap: KeymapLike | None = None) -> type[Provider]:
    """A palette provider class for `App.COMMANDS` / `Screen.COMMANDS`, bound to this registry."""
    return type(
        "RegistryCommandsProvider",
        (RegistryCommandsProvider,),
        {"registry": registry, "keymap": keymap, "__module__": __name__},
    )


def run_command(app: App[Any], registry: CommandRegistry, command_id: str) -> None:
    """Run a command by id (for mouse handlers and the help screen), on the app or the active screen."""
    command = registry.get(command_id)
    owner: DOMNode = app if command.scope == APP else app.screen
    app.call_later(app.run_action, command.action_name, owner)
