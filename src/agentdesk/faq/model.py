"""Plain data the FAQ cache hands to its callers (the AI engine, the console, the bot)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Lang = Literal["zh", "en"]


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    category: str
    question_zh: str
    question_en: str
    answer_zh: str
    answer_en: str
    tags: tuple[str, ...] = ()
    updated_at: str = ""
    source: str = ""

    def question(self, lang: Lang) -> str:
        return self.question_zh if lang == "zh" else self.question_en

    def answer(self, lang: Lang) -> str:
        return self.answer_zh if lang == "zh" else self.answer_en


@dataclass(frozen=True, slots=True)
class Snippet:
    """A short excerpt of `text` with match positions as (start, end) offsets into `text`."""

    text: str
    matches: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class FaqHit:
    """One search result. `score` is in 0..1 (higher is better) and comparable across queries;
    `lang` is the language the hit is presented in (the query's language)."""

    entry: FaqEntry
    score: float
    lang: Lang
    snippet: Snippet = field(default_factory=lambda: Snippet(""))

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Hits best first; empty when the FAQ does not cover the question (the no-answer decision).
    `suggestion` is a "did you mean" rewrite of the query when one exists."""

    query: str
    hits: tuple[FaqHit, ...]
    suggestion: str | None = None
    #: the query's confidence (the best of the first 3 candidates), even when the no-answer decision rejected it
    best_score: float = 0.0
