"""Untrusted text is shown literally and harmlessly: agentdesk.tui.safe_text."""

from __future__ import annotations

import html
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.notifications import SeverityLevel
from textual.widgets import Label, Static
from tui_hostile_payloads import HOSTILE

from agentdesk.tui.safe_text import (
    CONTROL_STYLE,
    highlight,
    is_safe,
    one_line,
    safe_content,
    safe_notify,
    visible,
    visible_map,
)

ZWJ = "\u200d"
ZWNJ = "\u200c"


def forbidden_chars(text: str) -> list[str]:
    """Characters that must never reach the terminal: C0 (but \\n), DEL, C1, format, separators, surrogates."""
    bad: list[str] = []
    for index, char in enumerate(text):
        code = ord(char)
        if char == "\n":
            continue
        if code < 0x20 or 0x7F <= code <= 0x9F:
            bad.append(char)
            continue
        category = unicodedata.category(char)
        if category in ("Zl", "Zp", "Cs"):
            bad.append(char)
        elif category == "Cf":
            # The only invisible characters kept are joiners in a joining context and emoji tag sequences,
            # which `visible` decides; check that each kept one sits between two non-ASCII characters.
            before = text[index - 1] if index else ""
            after = text[index + 1] if index + 1 < len(text) else ""
            if not (before and after and not before.isascii() and not after.isascii()):
                bad.append(char)
    return bad


@pytest.mark.parametrize("payload", HOSTILE, ids=lambda p: repr(p[:24]))
def test_hostile_payload_is_visible_and_literal(payload: str) -> None:
    shown = visible(payload)
    assert forbidden_chars(shown) == []
    content = safe_content(payload)
    assert content.plain == shown  # no markup was parsed: the plain text IS the visible text
    assert is_safe(shown)  # visible is idempotent


@pytest.mark.parametrize(
    "markup",
    [
        "[bold]x[/bold]",
        "[link=https://evil.example]点我[/link]",
        "[/",
        "\\[escaped]",
        ":smiley:",
        "[0]",
        "$var",
    ],
)
def test_markup_stays_literal(markup: str) -> None:
    assert safe_content(markup).plain == markup
    assert safe_content(markup, style="bold").plain == markup
    assert safe_content(markup).spans == []


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mred", "␛[31mred"),
        ("a\x00b", "a␀b"),
        ("ok\rFAKE", "ok␍FAKE"),
        ("ab\x08\x08", "ab␈␈"),
        ("ding\x07", "ding␇"),
        ("x\x7f", "x␡"),
        ("\x9b31m", "<U+009B>31m"),
        ("a\x85b", "a<U+0085>b"),
        ("invoice_\u202egpj.exe", "invoice_<U+202E>gpj.exe"),
        ("\u2066x\u2069\u200e\u200f\u061c", "<U+2066>x<U+2069><U+200E><U+200F><U+061C>"),
        ("NW26\u200b04\u2060\ufeff", "NW26<U+200B>04<U+2060><U+FEFF>"),
        ("NW26\u200d04", "NW26<U+200D>04"),
        ("NW26\u200c04", "NW26<U+200C>04"),
        ("a\u2028b\u2029c", "a<U+2028>b<U+2029>c"),
        ("tab\there", "tab    here"),
        ("crlf\r\nnext", "crlf\nnext"),
        ("\u3164", "<U+3164>"),
        ("\U000e0041", "<U+E0041>"),
        ("❤\ufe0f", "❤\ufe0f"),  # one selector after a character: a legit emoji variant
        ("😀\ufe0f\U000e0100\U000e0101", "😀\ufe0f<U+E0100><U+E0101>"),  # a run hides data
        ("\ufe0fx", "<U+FE0F>x"),
    ],
)
def test_visible_substitutions(raw: str, shown: str) -> None:
    assert visible(raw) == shown


@pytest.mark.parametrize(
    "text",
    [
        "退款 refund 北风商城 ＮＷ１２３",
        "👩\u200d💻 👨🏽\u200d⚕️ 🏳️\u200d🌈 🇨🇳 👍🏽",
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
        "e\u0301 n\u0303 한국어",
        "نور Noor می\u200cخواهم",
        "क्\u200dष",
        "plain ascii [with] brackets\nand a newline",
    ],
)
def test_normal_text_is_untouched(text: str) -> None:
    assert visible(text) == text
    assert safe_content(text).plain == text


def test_substitutions_are_marked_in_the_content() -> None:
    content = safe_content("a\x1bb\u202ec")
    marked = [(span.start, span.end) for span in content.spans if span.style == CONTROL_STYLE]
    assert [content.plain[start:end] for start, end in marked] == ["␛", "<U+202E>"]


def test_style_applies_to_the_whole_text() -> None:
    content = safe_content("[b]hi", style="bold")
    assert any(span.start == 0 and span.end == 5 and span.style == "bold" for span in content.spans)


def test_highlight_maps_offsets_through_expansions() -> None:
    text = "a\u202e\tb退款c"
    # The match is "退款" in the original text (offsets 4..6).
    content = highlight(text, [(4, 6)], style="bold")
    (span,) = [span for span in content.spans if span.style == "bold"]
    assert content.plain[span.start : span.end] == "退款"


def test_highlight_clamps_and_ignores_bad_spans() -> None:
    content = highlight("abc", [(-5, 1), (2, 99), (2, 1), (7, 9)], style="bold")
    found = sorted(content.plain[span.start : span.end] for span in content.spans if span.style == "bold")
    assert found == ["a", "c"]


def test_visible_map_offsets() -> None:
    vis = visible_map("x\x00y\r\nz")
    assert vis.text == "x␀y\nz"
    assert vis.offsets == (0, 1, 2, 3, 3, 4, 5)
    assert vis.map_span(2, 5) == (2, 4)  # "y\r\n" → "y\n"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("hello", 10, "hello"),
        ("hello\n\n\nworld", 20, "hello ⏎ world"),
        ("hello world", 8, "hello w…"),
        ("你好世界", 5, "你好…"),
        ("ab\u202ecdef", 6, "ab…"),  # never cuts inside a <U+…> token
        ("👩\u200d💻👩\u200d💻", 3, "👩\u200d💻…"),
        ("anything", 0, ""),
    ],
)
def test_one_line(text: str, limit: int, expected: str) -> None:
    assert one_line(text, limit) == expected


def test_one_line_respects_the_width_for_every_payload() -> None:
    for payload in HOSTILE:
        preview = one_line(payload, 40)
        assert "\n" not in preview
        assert cell_len(preview) <= 40
        assert forbidden_chars(preview) == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_visible_property_arbitrary_unicode(text: str) -> None:
    shown = visible(text)
    assert forbidden_chars(shown) == []
    assert safe_content(text).plain == shown
    assert visible(shown) == shown
    assert "\n" not in one_line(text, 30)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(categories=("L", "N", "P", "S", "Zs", "Mn")).filter(
            lambda c: not (0xFE00 <= ord(c) <= 0xFE0F or 0xE0100 <= ord(c) <= 0xE01EF)
        )
    )
)
def test_printable_text_is_preserved(text: str) -> None:
    # Hangul fillers are letters but render as nothing: they are the one deliberate exception.
    expected = re.sub("[\u115f\u1160\u3164\uffa0]", lambda m: f"<U+{ord(m.group()):04X}>", text)
    assert visible(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(), st.lists(st.tuples(st.integers(-5, 60), st.integers(-5, 60)), max_size=5))
def test_highlight_never_raises(text: str, spans: list[tuple[int, int]]) -> None:
    content = highlight(text, spans)
    assert content.plain == visible(text)
    for span in content.spans:
        assert 0 <= span.start <= span.end <= len(content.plain)


# --- rendering ---------------------------------------------------------------------------------------


class HostileApp(App[None]):
    CSS = """
    #long { width: 80; }
    Static { height: auto; }
    """

    def __init__(self, payloads: tuple[str, ...]) -> None:
        super().__init__()
        self.payloads = payloads

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(safe_content("x" * 5000), id="long")
            for index, payload in enumerate(self.payloads):
                yield Static(safe_content(payload), id=f"p{index}")


def _rendered_lines(widget: Static | Label) -> list[str]:
    return [widget.render_line(y).text for y in range(widget.size.height)]


async def test_hostile_payloads_render_literally_and_app_survives() -> None:
    app = HostileApp(HOSTILE)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.is_running
        rendered: list[str] = []
        for index, payload in enumerate(HOSTILE):
            widget = app.query_one(f"#p{index}", Static)
            lines = _rendered_lines(widget)
            rendered.extend(lines)
            joined = "".join(lines)
            # What is drawn is exactly the visible text, wrapped (whitespace aside).
            assert re.sub(r"\s", "", joined) == re.sub(r"\s", "", visible(payload)), payload[:40]
        screen_text = "\n".join(rendered)
        for literal in ("[bold red]", "[link=https://evil.example]", "[/", "\\[escaped]", ":smiley:", "␛[2J"):
            assert literal in screen_text
        assert "<U+202E>" in screen_text
        # The exported screenshot (what the operator would see at the top) is free of controls too.
        svg = html.unescape(app.export_screenshot()).replace("\xa0", " ")
        assert "\x1b" not in svg
        await pilot.press("end")
        await pilot.pause()
        assert app.is_running


async def test_a_5000_char_line_wraps_inside_width_80() -> None:
    app = HostileApp(())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        label = app.query_one("#long", Label)
        assert label.size.width == 80
        assert label.size.height == 63  # ceil(5000 / 80): wrapped, not cut
        assert label.max_scroll_x == 0
        lines = _rendered_lines(label)
        assert all(cell_len(line) <= 80 for line in lines)
        assert sum(line.count("x") for line in lines) == 5000


class NotifyingApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.toasts: list[tuple[str, str, bool]] = []

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        self.toasts.append((message, title, markup))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


async def test_safe_notify_is_literal_and_visible() -> None:
    app = NotifyingApp()
    async with app.run_test() as pilot:
        safe_notify(app, "[/] failed: \x1b]52;c;eA==\x07", title="[b]sync", severity="error")
        await pilot.pause()
        assert app.is_running
    assert app.toasts == [("[/] failed: ␛]52;c;eA==␇", "[b]sync", False)]
