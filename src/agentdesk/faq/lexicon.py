"""The support-domain lexicon (`data/lexicon.txt`): concepts and instance words, Chinese and English.

* A **concept** groups the expressions that mean the same thing for finding an FAQ entry: the FAQ's own term,
  its translation, and the words customers use instead (`拒收, 拒签, 不签收, refuse delivery`). A query
  expression of a concept becomes one search unit whose alternatives are all the concept's terms, so a
  customer's wording meets the FAQ's, and Chinese meets English (`agentdesk.faq.query`).
* An **instance** word names the customer's particular thing (a product, brand, colour, capacity): `显示器`,
  `airpods`, `银色`. It says little about *what* is asked, so it weighs little in ranking and in the
  no-answer decision, where an unknown word would otherwise weigh as much as the question itself.

The file was written from the FAQ's vocabulary and common customer wording, never from test queries. Most of
it is general to online-shop support; a few concepts name this store's own services (北风钱包, Northwind Plus),
which another shop replaces. Format::

    # comment
    [concepts]
    concept_id: term, term, term
    [instances]
    term, term, term

Chinese terms (at least 2 characters) match as substrings of the normalised text, longest first; English
terms match whole stemmed words (`returned` matches `return`); a term mixing the two without spaces
(`7天无理由`, `visa卡`) matches as a plain substring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from agentdesk.faq.text import CJK_RE, index_string, normalize, stem

_ID_RE = re.compile(r"^[a-z0-9_]+$")
_EN_TERM_RE = re.compile(r"^[a-z0-9][a-z0-9 '&+-]*$")
_WORD_RE = re.compile(r"[a-z0-9]+")
_CJK_ONLY_RE = re.compile(f"^{CJK_RE.pattern}+$")
_CJK_RUN_RE = re.compile(f"{CJK_RE.pattern}+")
_MIXED_TERM_RE = re.compile(f"^(?:{CJK_RE.pattern}|[a-z0-9])+$")


class LexiconError(ValueError):
    """The lexicon file is malformed (the message names the line)."""


@dataclass(frozen=True, slots=True)
class Match:
    start: int  # offsets into the text given to `Lexicon.find`
    end: int
    key: str  # a concept id, or "" for an instance word
    surface: str


@dataclass(slots=True)
class Lexicon:
    #: concept id -> its terms (normalised; English as stems joined by spaces)
    concepts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    zh: dict[str, str] = field(default_factory=dict)  # Chinese term -> concept id
    en: dict[tuple[str, ...], str] = field(default_factory=dict)  # stems -> concept id
    inst_zh: set[str] = field(default_factory=set)
    inst_en: set[tuple[str, ...]] = field(default_factory=set)
    #: terms mixing Chinese and latin (`7天无理由`, `visa卡`): matched as plain substrings
    mixed: dict[str, str] = field(default_factory=dict)
    inst_mixed: set[str] = field(default_factory=set)

    _tables: tuple[_Table, _Table] | None = None
    _term_tokens: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    def term_tokens(self, cid: str) -> tuple[tuple[str, ...], ...]:
        """The index tokens of each term of a concept (Chinese as bigrams, English as the stored stems)."""
        got = self._term_tokens.get(cid)
        if got is None:
            split = (
                tuple((t if t.isascii() else index_string(t, normalized=True)).split())
                for t in self.concepts[cid]
            )
            got = self._term_tokens[cid] = tuple(toks for toks in split if toks)
        return got

    def find(self, text: str) -> list[Match]:
        """Concept terms in normalised `text`: longest first, then left to right, never overlapping."""
        return self._table(0).scan(text)

    def concepts_in(self, text: str) -> set[str]:
        """Every concept with a term in normalised `text`, including terms inside longer terms (申请退货 has
        the concept of 退货 too)."""
        return {m.key for m in self._table(0).scan(text, nested=True)}

    def instances(self, text: str) -> list[Match]:
        """Instance words in normalised `text`."""
        return self._table(1).scan(text)

    def _table(self, i: int) -> _Table:
        if self._tables is None:
            self._tables = (
                _Table(self.zh, self.en, self.mixed),
                _Table(
                    dict.fromkeys(self.inst_zh, ""),
                    dict.fromkeys(self.inst_en, ""),
                    dict.fromkeys(self.inst_mixed, ""),
                ),
            )
        return self._tables[i]


class _Table:
    """Terms -> keys, indexed by their first two characters / first word so a scan costs about one lookup per
    position of the text."""

    def __init__(self, zh: dict[str, str], en: dict[tuple[str, ...], str], mixed: dict[str, str]) -> None:
        self.zh, self.en, self.mixed = zh, en, mixed
        self.zh_pre: dict[str, int] = {}
        for t in zh:
            self.zh_pre[t[:2]] = max(self.zh_pre.get(t[:2], 0), len(t))
        self.en_pre: dict[str, int] = {}
        for stems in en:
            self.en_pre[stems[0]] = max(self.en_pre.get(stems[0], 0), len(stems))

    def scan(self, text: str, *, nested: bool = False) -> list[Match]:
        cands: list[Match] = []
        zh, zh_pre = self.zh, self.zh_pre
        if not text.isascii():
            for run in _CJK_RUN_RE.finditer(text):
                s, base = run.group(), run.start()
                for i in range(len(s) - 1):
                    longest = zh_pre.get(s[i : i + 2])
                    if longest is None:
                        continue
                    for n in range(min(longest, len(s) - i), 1, -1):
                        key = zh.get(s[i : i + n])
                        if key is not None:
                            cands.append(Match(base + i, base + i + n, key, s[i : i + n]))
                            if not nested:
                                break
            for term, key in self.mixed.items():
                at = text.find(term)
                while at >= 0:
                    cands.append(Match(at, at + len(term), key, term))
                    at = text.find(term, at + 1)
        words = [(m.start(), m.end(), stem(m.group())) for m in _WORD_RE.finditer(text)]
        en, en_pre = self.en, self.en_pre
        for j, (_, _, first) in enumerate(words):
            longest = en_pre.get(first)
            if longest is None:
                continue
            for n in range(min(longest, len(words) - j), 0, -1):
                key = en.get(tuple(w for _, _, w in words[j : j + n]))
                if key is not None:
                    a, b = words[j][0], words[j + n - 1][1]
                    cands.append(Match(a, b, key, text[a:b]))
                    if not nested:
                        break
        if nested or len(cands) < 2:
            return cands
        cands.sort(key=lambda m: (m.start - m.end, m.start))
        used = bytearray(len(text))
        taken: list[Match] = []
        for m in cands:
            if not any(used[m.start : m.end]):
                used[m.start : m.end] = b"\x01" * (m.end - m.start)
                taken.append(m)
        taken.sort(key=lambda m: m.start)
        return taken


def _term(raw: str, lineno: int) -> tuple[str, str, tuple[str, ...]]:
    """(kind, text, stems): kind "zh" (all Chinese), "en" (plain English, as stems) or "mixed"."""
    t = normalize(raw.strip())
    if _CJK_ONLY_RE.match(t):
        if len(t) < 2:
            raise LexiconError(f"line {lineno}: Chinese term {raw.strip()!r} has fewer than 2 characters")
        return "zh", t, ()
    if _EN_TERM_RE.match(t):
        stems = tuple(stem(w) for w in _WORD_RE.findall(t))
        if stems:
            return "en", t, stems
    if CJK_RE.search(t) and _MIXED_TERM_RE.match(t) and len(t) >= 2:
        return "mixed", t, ()
    raise LexiconError(f"line {lineno}: term {raw.strip()!r} is not Chinese, plain English or a simple mix")


def parse(text: str) -> Lexicon:
    """Parse lexicon text (see the module docstring). Raises `LexiconError` naming the line."""
    lex = Lexicon()
    section = ""
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line in {"[concepts]", "[instances]"}:
            section = line[1:-1]
            continue
        if section == "concepts":
            cid, sep, rest = line.partition(":")
            cid = cid.strip()
            if not sep or not _ID_RE.match(cid):
                raise LexiconError(f"line {lineno}: expected 'concept_id: term, term'")
            if cid in lex.concepts:
                raise LexiconError(f"line {lineno}: concept {cid!r} defined twice")
            terms: list[str] = []
            for raw in rest.split(","):
                if not raw.strip():
                    continue
                kind, t, stems = _term(raw, lineno)
                if kind == "zh":
                    lex.zh.setdefault(t, cid)
                elif kind == "en":
                    lex.en.setdefault(stems, cid)
                else:
                    lex.mixed.setdefault(t, cid)
                terms.append(" ".join(stems) if kind == "en" else t)
            if not terms:
                raise LexiconError(f"line {lineno}: concept {cid!r} has no terms")
            lex.concepts[cid] = tuple(dict.fromkeys(terms))
        elif section == "instances":
            for raw in line.split(","):
                if not raw.strip():
                    continue
                kind, t, stems = _term(raw, lineno)
                if kind == "zh":
                    lex.inst_zh.add(t)
                elif kind == "en":
                    lex.inst_en.add(stems)
                else:
                    lex.inst_mixed.add(t)
        else:
            raise LexiconError(f"line {lineno}: text before a [concepts] or [instances] section")
    # a concept term is never also an instance (the concept wins)
    lex.inst_zh -= set(lex.zh)
    lex.inst_en -= set(lex.en)
    lex.inst_mixed -= set(lex.mixed)
    return lex


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The lexicon shipped with agentdesk."""
    text = resources.files("agentdesk.faq").joinpath("data/lexicon.txt").read_text(encoding="utf-8")
    return parse(text)
