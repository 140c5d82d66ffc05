"""Every hostile dev payload through every inbound path — customer name, message, draft, FAQ text, error —
is shown literally (markup inert, controls visible) and the console keeps running."""

from __future__ import annotations

from typing import Any

import pytest
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import OptionList, Static
from tui_fakeservice import NOW, FrozenService, row
from tui_hostile_payloads import HOSTILE
from tui_pilotkit import SIZE, console_app, settle, until

from agentdesk.tui.messages import ServiceEventPosted
from agentdesk.tui.safe_text import one_line, visible
from agentdesk.tui.screens.main import MainScreen
from agentdesk.tui.services import FaqItem, Notice, RequestRejected, TranscriptItem
from agentdesk.tui.widgets.draft_panel import DraftPanel
from agentdesk.tui.widgets.faq_panel import FaqPanel
from agentdesk.tui.widgets.queue_list import ROW_LIMIT, row_content
from agentdesk.tui.widgets.transcript import Transcript


def plain(widget: Static) -> str:
    content = widget.content
    assert isinstance(content, Content), type(content)
    return content.plain


def option_plain(ol: OptionList, index: int) -> str:
    prompt = ol.get_option_at_index(index).prompt
    assert isinstance(prompt, Content)
    return prompt.plain


def no_raw_controls(text: str) -> bool:
    return not any(
        (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E for c in text
    )


async def alive(pilot: Pilot[Any]) -> None:
    assert pilot.app.is_running
    await pilot.press("j")
    await settle(pilot)
    assert pilot.app.is_running


async def test_customer_names_and_previews_in_the_queue_and_header() -> None:
    rows = [row(f"c{i}___vstr", text, text, waiting=10.0 * i) for i, text in enumerate(HOSTILE)]
    fake = FrozenService(rows=rows)
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ol = app.screen.query_one("#queue-rows", OptionList)
        assert ol.option_count == min(ROW_LIMIT, len(HOSTILE))
        for i in range(ol.option_count):
            shown = option_plain(ol, i)
            assert one_line(HOSTILE[i], 18).rstrip(" ") in shown
            assert no_raw_controls(shown)
        for r in rows[ROW_LIMIT:]:  # the rows past the drawn head, rendered the same way
            shown = row_content(r, app.theme_variables).plain
            assert one_line(r.customer_name, 18).rstrip(" ") in shown and no_raw_controls(shown)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        for i, text in enumerate(HOSTILE[:40]):
            screen.open_conversation(f"c{i}___vstr")
            await settle(pilot)
            header = plain(screen.query_one("#conv-header", Static))
            assert visible(text) in header
        await alive(pilot)


async def test_messages_in_the_transcript() -> None:
    items = [
        TranscriptItem(f"m{i}", "customer", "c0___vstr", NOW - 1000 + i, text=t)
        for i, t in enumerate(HOSTILE)
    ]
    items.append(
        TranscriptItem("img", "customer", "c0___vstr", NOW, kind="image", url=HOSTILE[-5], text=HOSTILE[0])
    )
    items.append(
        TranscriptItem(
            "unk", "customer", "c0___vstr", NOW, kind="unknown", type_name=HOSTILE[1], text=HOSTILE[2]
        )
    )
    fake = FrozenService(rows=[row("c0___vstr", "x", "y")], transcripts={"c0___vstr": items})
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        transcript = app.screen.query_one(Transcript)
        await until(pilot, lambda: len(transcript.items) == len(items))
        shown = [plain(w) for w in transcript.query(Static)]
        for text, out in zip(HOSTILE, shown, strict=False):
            assert out.endswith(visible(text))
            assert no_raw_controls(out)
        assert visible(HOSTILE[-5]) in shown[-2] and visible(HOSTILE[1]) in shown[-1]
        long = next(w for w in transcript.query(Static) if plain(w).endswith("x" * 5000))
        assert long.size.height > 5000 // long.size.width  # the 5,000-character line wraps
        await alive(pilot)


async def test_drafts_and_reasons() -> None:
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        panel = app.screen.query_one(DraftPanel)
        for text in HOSTILE:
            fake.draft_text = text
            fake.draft_reason = text
            await pilot.press("F")
            await until(
                pilot,
                lambda t=text: panel.state == "ready" and panel.draft is not None and panel.draft.text == t,
            )
            assert plain(panel.query_one("#draft-text", Static)) == visible(text)
            assert plain(panel.query_one("#draft-meta", Static)).endswith(visible(text))
        await alive(pilot)


async def test_faq_text() -> None:
    faq = [FaqItem(f"faq-{i}", t, t, "x", 0.5, t, ((0, min(3, len(t))),)) for i, t in enumerate(HOSTILE)]
    fake = FrozenService(faq=faq)
    app = console_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter", "f", "x")
        panel = app.screen.query_one(FaqPanel)
        await until(pilot, lambda: len(panel.results) == 8)
        ol = panel.query_one("#faq-results", OptionList)
        for i in range(8):
            shown = option_plain(ol, i)
            assert visible(HOSTILE[i]) in shown and no_raw_controls(shown)
        await alive(pilot)


@pytest.mark.parametrize("path", ["notice", "rejection"])
async def test_errors(path: str) -> None:
    fake = FrozenService()
    app = console_app(fake)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        for text in HOSTILE:
            event = (
                Notice(text, "error")
                if path == "notice"
                else RequestRejected("r", screen.current or "", "claim", text)
            )
            app.post_message(ServiceEventPosted(event))
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        for text in HOSTILE:
            expected = visible(text) if path == "notice" else visible(f"claim refused: {text}")
            assert expected in messages
        if path == "rejection":
            assert visible(one_line(f"claim refused: {HOSTILE[-1]}", 120)) in plain(
                screen.query_one("#conv-header", Static)
            )
        await alive(pilot)
