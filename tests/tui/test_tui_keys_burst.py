"""Keys typed in a burst right after a key that moves the focus (`r`, `/`, `f`, `e`): the text lands in the
newly focused field, never in the queue, and no single-letter command fires from inside a text field.

`burst()` posts every key to the app before it handles any (as a paste, a script or tmux deliver them);
`pilot.press()` waits for the app to go idle between keys, so it would not show the problem.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.keys import key_to_character
from textual.pilot import Pilot
from textual.widgets import Input, TextArea
from tui_fakeservice import FrozenService
from tui_pilotkit import SIZE, console_app, settle, until

from agentdesk.tui.command_set import DESK, default_registry
from agentdesk.tui.commands import APP
from agentdesk.tui.keymap import keymap_from_mapping
from agentdesk.tui.screens.main import MainScreen
from agentdesk.tui.widgets.draft_panel import DraftPanel


def burst(pilot: Pilot[Any], *keys: str) -> None:
    """Queue all `keys` at once, in order, as the terminal driver would for pasted or scripted input."""
    for key in keys:
        pilot.app.post_message(events.Key(key, key_to_character(key)))


def main_screen(pilot: Pilot[Any]) -> MainScreen:
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def open_first(pilot: Pilot[Any]) -> MainScreen:
    await settle(pilot)
    screen = main_screen(pilot)
    await pilot.press("enter")
    await until(pilot, lambda: screen.current is not None)
    return screen


async def test_r_then_text_in_one_burst_lands_in_the_composer() -> None:
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first(pilot)
        composer = screen.query_one("#composer", TextArea)
        burst(pilot, "r", "h", "i", "space", "c", "s")
        await until(pilot, lambda: composer.text == "hi cs")
        assert screen.focused is composer
        assert fake.requests == []  # `c` (claim) and `s` (resolve) were typed, not run


async def test_r_then_text_with_pilot_press() -> None:
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first(pilot)
        await pilot.press("r", "h", "i")
        await settle(pilot)
        assert screen.query_one("#composer", TextArea).text == "hi"


async def test_slash_then_text_in_one_burst_lands_in_the_filter() -> None:
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(pilot)
        burst(pilot, "slash", "a", "m", "y")
        field = screen.query_one("#queue-filter", Input)
        await until(pilot, lambda: field.value == "amy")
        assert screen.current is None  # `o`/`enter` never ran; nothing else fired


async def test_f_then_text_in_one_burst_lands_in_the_faq_search() -> None:
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first(pilot)
        burst(pilot, "f", "r", "e", "f", "u", "n", "d")
        field = screen.query_one("#faq-query", Input)
        await until(pilot, lambda: field.value == "refund")
        assert screen.focused is field


async def test_e_then_text_in_one_burst_lands_in_the_draft_editor() -> None:
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first(pilot)
        panel = screen.query_one(DraftPanel)
        await until(pilot, lambda: panel.state == "ready")
        burst(pilot, "e", "space", "O", "K", "exclamation_mark")
        composer = screen.query_one("#composer", TextArea)
        await until(pilot, lambda: composer.text == f"{fake.draft_text} OK!")
        assert screen.editing is not None
        assert fake.requests == []  # `O` (reopen) and `!` (escalate) were typed into the draft


async def test_a_list_key_before_the_focus_move_keeps_its_place() -> None:
    """`j` (next conversation) + `o` (open) + `r` + text: each key acts in the order it was typed."""
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main_screen(pilot)
        burst(pilot, "j", "o", "r", "o", "k")
        composer = screen.query_one("#composer", TextArea)
        await until(pilot, lambda: composer.text == "ok")
        assert screen.current == fake.rows[1].channel_id


async def test_letters_typed_in_the_filter_run_no_command() -> None:
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first(pilot)
        opened = screen.current
        await pilot.press("slash")
        await settle(pilot)
        burst(pilot, "c", "s", "t", "2", "j", "r")
        field = screen.query_one("#queue-filter", Input)
        await until(pilot, lambda: field.value == "cst2jr")
        assert fake.requests == [] and screen.view == "all" and screen.current == opened
        assert screen.focused is field


async def test_remapped_focus_key_keeps_the_order_and_ctrl_q_quits() -> None:
    fake = FrozenService()
    app = console_app(fake, keymap=keymap_from_mapping({"focus-composer": "x"}, "test"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first(pilot)
        burst(pilot, "x", "r", "y")
        composer = screen.query_one("#composer", TextArea)
        await until(pilot, lambda: composer.text == "ry")  # `r` no longer focuses: it is typed
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0 and fake.closed


def test_desk_keys_are_priority_but_never_a_widget_s_own_key() -> None:
    registry = default_registry()
    keymap = keymap_from_mapping({"open-conversation": ["enter", "o"], "focus-composer": "f4"}, "test")
    bindings = {(b.key, b.action): b for b in registry.bindings_for(DESK, keymap)}
    assert bindings[("o", "open_conversation")].priority
    assert not bindings[("enter", "open_conversation")].priority  # the filter's and the lists' enter win
    assert bindings[("f4", "focus_composer")].priority and ("r", "focus_composer") not in bindings
    assert bindings[("slash", "filter_queue")].priority and bindings[("e", "edit_draft")].priority
    assert all(not b.priority for b in registry.bindings_for(APP) if b.key not in ("ctrl+q", "ctrl+p"))
