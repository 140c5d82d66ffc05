"""The one way untrusted text reaches the screen.

Everything that came from outside — customer names and messages, drafts, FAQ text, server errors — is
passed through this module before a widget sees it:

* `visible(text)` makes control and invisible characters visible and harmless, so nothing reaches the
  terminal that it would interpret (ANSI CSI, OSC 8/52/0, CR/BS overwrites, NUL, C1) and nothing hides
  from the operator (bidi overrides, zero-width characters, Unicode tag characters).
* `safe_content(text)` builds a `textual.content.Content` from that visible text. `Content(text)` never
  parses markup, so `[bold]`, `[link=…]`, `[/` and `:smiley:` stay literal; `escape()` is never used
  (it still raises on `[/` in Textual 8.2.8 and `[link=…]` hides its target).
* `safe_notify(app, text)` for toasts (`notify` parses markup unless told not to).
* `one_line(text, limit)` for previews, `highlight(text, spans)` for search matches given as offsets
  into the *original* text (`visible_map` provides the offset mapping).

What `visible` does, character by character:

* `\\n` is kept (it is a line break, not an attack); `\\r\\n` becomes `\\n` (Windows clients).
* `\\t` becomes four spaces: a tab is legitimate whitespace in pasted tables and logs, and a `␉` picture
  would make those unreadable, but a raw tab moves the terminal cursor, so it is never passed through.
* every other C0 control (U+0000–U+001F) becomes its Unicode Control Picture (ESC → ␛, NUL → ␀,
  CR → ␍, BS → ␈, BEL → ␇); DEL becomes ␡. A lone CR therefore cannot overwrite the line.
* C1 controls (U+0080–U+009F), lone surrogates, line/paragraph separators (U+2028/U+2029) and every
  format character (Unicode category Cf: bidi embeddings/overrides/isolates/marks, ZWSP, word joiner,
  BOM, soft hyphen, invisible operators, tag characters…) become `<U+XXXX>` tokens. The Hangul fillers,
  letters that render as nothing, are treated the same way, and so is a variation selector that does
  not directly follow a visible character (runs of them smuggle hidden data inside an emoji).
* Exceptions, because they are legitimate and harmless: ZWJ (U+200D) between two emoji (👩‍💻, 🏳️‍🌈);
  ZWJ/ZWNJ between two letters of scripts that need them (Arabic, Syriac, Thaana, Indic); tag characters
  inside an emoji tag sequence (🏴 + tags + CANCEL TAG, the subdivision flags). Anywhere else — inside an
  order number, between Latin letters — they are shown.
* everything else (CJK, emoji, combining marks, Arabic, full-width digits) is untouched.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from textual.content import Content, Span
from textual.style import Style

if TYPE_CHECKING:
    from textual.app import App
    from textual.notifications import SeverityLevel

__all__ = [
    "CONTROL_STYLE",
    "HIGHLIGHT_STYLE",
    "VisibleText",
    "highlight",
    "is_safe",
    "one_line",
    "safe_content",
    "safe_notify",
    "visible",
    "visible_map",
]

TAB_SPACES = "    "
NEWLINE_MARK = "⏎"
ELLIPSIS = "…"
CONTROL_STYLE = "reverse"
"""Style of the pictures and `<U+…>` tokens in `safe_content`, so they read as substitutions."""
HIGHLIGHT_STYLE = "bold reverse"

_ZWNJ = "\u200c"
_ZWJ = "\u200d"
_CANCEL_TAG = "\U000e007f"
_BLACK_FLAG = "\U0001f3f4"
# Letters that render as nothing; used to forge blank names.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
# Characters that attach to the emoji before them without changing whether a ZWJ after them is legit.
_EMOJI_MODIFIERS = frozenset(["\ufe0f", "\ufe0e", "\u20e3", *map(chr, range(0x1F3FB, 0x1F400))])
# Scripts whose shaping legitimately uses ZWJ/ZWNJ between letters.
_JOINING_SCRIPT_RANGES = (
    (0x0600, 0x08FF),  # Arabic, Syriac, Arabic Supplement, Thaana, NKo, Samaritan, Mandaic, Arabic Ext-A/B
    (0x0900, 0x0DFF),  # Devanagari … Sinhala
    (0xFB50, 0xFDFF),  # Arabic Presentation Forms-A
    (0xFE70, 0xFEFC),  # Arabic Presentation Forms-B (not U+FEFF)
)
_EMOJI_RANGES = (
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x2190, 0x21FF),
    (0x2300, 0x23FF),
    (0x2460, 0x27BF),  # enclosed alnum, geometric shapes, misc symbols (♀ ♂ ⚕ ❤), dingbats
    (0x2900, 0x297F),
    (0x2B00, 0x2BFF),
    (0x3030, 0x303D),
    (0x3297, 0x3299),
    (0x1F000, 0x1FAFF),
)


def _is_variation_selector(char: str) -> bool:
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def _in_ranges(char: str, ranges: Iterable[tuple[int, int]]) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in ranges)


def _is_emoji(char: str) -> bool:
    return _in_ranges(char, _EMOJI_RANGES)


def _is_joining_letter(char: str) -> bool:
    return _in_ranges(char, _JOINING_SCRIPT_RANGES) and unicodedata.category(char)[0] in "LM"


def _token(char: str) -> str:
    return f"<U+{ord(char):04X}>"


def _prev_base(text: str, index: int) -> str:
    """The character before `index`, skipping emoji modifiers and variation selectors."""
    i = index - 1
    while i >= 0 and text[i] in _EMOJI_MODIFIERS:
        i -= 1
    return text[i] if i >= 0 else ""


def _joiner_is_legit(text: str, index: int) -> bool:
    char = text[index]
    before = _prev_base(text, index)
    after = text[index + 1] if index + 1 < len(text) else ""
    if not before or not after:
        return False
    if char == _ZWJ and _is_emoji(before) and _is_emoji(after):
        return True
    return _is_joining_letter(before) and _is_joining_letter(after)


def _tag_sequence_ends(text: str) -> set[int]:
    """Indexes of tag characters that belong to a well-formed emoji tag sequence (🏴 tags… CANCEL TAG)."""
    allowed: set[int] = set()
    i = 0
    n = len(text)
    while i < n:
        if text[i] == _BLACK_FLAG:
            j = i + 1
            while j < n and 0xE0020 <= ord(text[j]) <= 0xE007E:
                j += 1
            if j > i + 1 and j < n and text[j] == _CANCEL_TAG:
                allowed.update(range(i + 1, j + 1))
                i = j + 1
                continue
        i += 1
    return allowed


def _replacement(text: str, index: int, allowed_tags: set[int]) -> str | None:
    """What to show instead of `text[index]`, or None to keep it."""
    char = text[index]
    code = ord(char)
    if char == "\n":
        return None
    if char == "\t":
        return TAB_SPACES
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if code < 0x7F:
        return None
    if 0x80 <= code <= 0x9F:
        return _token(char)
    if char in _INVISIBLE_LETTERS:
        return _token(char)
    if _is_variation_selector(char):
        # One selector after a visible character is how emoji and CJK variants are chosen; a run of them
        # (or one with nothing to modify) carries hidden data ("emoji smuggling"), so it is shown.
        before = text[index - 1] if index else ""
        if not before or _is_variation_selector(before) or unicodedata.category(before)[0] in "CZ":
            return _token(char)
        return None
    category = unicodedata.category(char)
    if category in ("Cf", "Zl", "Zp", "Cs"):
        if char in (_ZWJ, _ZWNJ) and _joiner_is_legit(text, index):
            return None
        if index in allowed_tags:
            return None
        return _token(char)
    return None


@dataclass(frozen=True, slots=True)
class VisibleText:
    """The visible form of a text and how offsets move.

    `offsets[i]` is where original character `i` starts in `text`; `offsets[len(original)]` is
    `len(text)`. `substitutions` are the (start, end) ranges in `text` that stand for a hidden or control
    character (pictures and `<U+…>` tokens).
    """

    text: str
    offsets: tuple[int, ...]
    substitutions: tuple[tuple[int, int], ...]

    def map_span(self, start: int, end: int) -> tuple[int, int]:
        """Map an original (start, end) to the visible text, clamped to the original's bounds."""
        last = len(self.offsets) - 1
        start = min(max(start, 0), last)
        end = min(max(end, start), last)
        return self.offsets[start], self.offsets[end]


def visible_map(text: str) -> VisibleText:
    """`visible(text)` plus the offset mapping from the original text to the visible one."""
    allowed_tags = _tag_sequence_ends(text) if _BLACK_FLAG in text else set()
    parts: list[str] = []
    offsets: list[int] = []
    substitutions: list[tuple[int, int]] = []
    position = 0
    n = len(text)
    for index in range(n):
        offsets.append(position)
        char = text[index]
        if char == "\r" and index + 1 < n and text[index + 1] == "\n":
            continue  # CRLF → LF: the CR disappears, the LF that follows is kept
        replacement = _replacement(text, index, allowed_tags)
        if replacement is None:
            parts.append(char)
            position += 1
        else:
            parts.append(replacement)
            if char != "\t":
                substitutions.append((position, position + len(replacement)))
            position += len(replacement)
    offsets.append(position)
    return VisibleText("".join(parts), tuple(offsets), tuple(substitutions))


def visible(text: str) -> str:
    """`text` with every control, bidi and invisible character made visible (see the module docstring)."""
    # Fast path: printable ASCII plus newlines needs no work.
    if text.isascii() and all(char == "\n" or " " <= char <= "~" for char in text):
        return text
    return visible_map(text).text


def is_safe(text: str) -> bool:
    """True if `text` is already in visible form (nothing `visible` would change)."""
    return visible(text) == text


def _content(vis: VisibleText, style: Style | str = "") -> Content:
    spans = [Span(0, len(vis.text), style)] if style and vis.text else []
    spans.extend(Span(start, end, CONTROL_STYLE) for start, end in vis.substitutions)
    return Content(vis.text, spans)


def safe_content(text: str, style: Style | str = "") -> Content:
    """A `Content` showing `text` literally: no markup parsed, controls made visible (and marked)."""
    return _content(visible_map(text), style)


def highlight(
    text: str,
    spans: Iterable[tuple[int, int]],
    style: Style | str = HIGHLIGHT_STYLE,
    base_style: Style | str = "",
) -> Content:
    """`safe_content(text)` with `style` over each (start, end) given as offsets into the ORIGINAL text.

    Offsets are mapped through `visible_map`, so they stay right when characters expand (a tab, a
    `<U+202E>` token). Out-of-range offsets are clamped and empty spans ignored; never raises.
    """
    vis = visible_map(text)
    content = _content(vis, base_style)
    extra: list[Span] = []
    for start, end in spans:
        mapped_start, mapped_end = vis.map_span(start, end)
        if mapped_end > mapped_start:
            extra.append(Span(mapped_start, mapped_end, style))
    return content.add_spans(extra) if extra else content


def _clusters(vis_text: str, substitutions: Sequence[tuple[int, int]]) -> list[str]:
    """Split visible text into units that must not be cut: tokens, and roughly grapheme clusters."""
    starts = {start: end for start, end in substitutions}
    clusters: list[str] = []
    i = 0
    n = len(vis_text)
    while i < n:
        if i in starts:
            clusters.append(vis_text[i : starts[i]])
            i = starts[i]
            continue
        char = vis_text[i]
        attaches = (
            clusters
            and i > 0
            and (i - 1) not in starts
            and (
                unicodedata.category(char) in ("Mn", "Me", "Mc")
                or char in _EMOJI_MODIFIERS
                or char == _ZWJ
                or vis_text[i - 1] == _ZWJ
                or 0xE0020 <= ord(char) <= 0xE007F
            )
        )
        if attaches:
            clusters[-1] += char
        else:
            clusters.append(char)
        i += 1
    return clusters


def one_line(text: str, limit: int) -> str:
    """A one-line preview of untrusted text at most `limit` cells wide.

    Controls are made visible, runs of line breaks become one `⏎`, and a cut is marked with `…`
    (never in the middle of a `<U+…>` token, an emoji sequence or a base + combining mark).
    """
    if limit <= 0:
        return ""
    vis = visible_map(text.strip("\n"))
    # Collapse each run of newlines into a single mark, keeping substitution ranges consistent.
    pieces = _clusters(vis.text, vis.substitutions)
    flat: list[str] = []
    for piece in pieces:
        if piece == "\n":
            if flat and flat[-1] == f" {NEWLINE_MARK} ":
                continue
            flat.append(f" {NEWLINE_MARK} ")
        else:
            flat.append(piece)
    if cell_len("".join(flat)) <= limit:
        return "".join(flat)
    budget = limit - cell_len(ELLIPSIS)
    out: list[str] = []
    used = 0
    for piece in flat:
        width = cell_len(piece)
        if used + width > budget:
            break
        out.append(piece)
        used += width
    return "".join(out).rstrip(" ") + ELLIPSIS


def safe_notify(
    app: App[Any],
    message: str,
    *,
    title: str = "",
    severity: SeverityLevel = "information",
    timeout: float | None = None,
) -> None:
    """`app.notify` for untrusted text (server errors, file names): visible and never markup."""
    app.notify(visible(message), title=visible(title), severity=severity, timeout=timeout, markup=False)
