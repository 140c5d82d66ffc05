"""Ranking, the calibrated score, the no-answer decision, snippets and "did you mean".

The query is analysed into weighted units (`agentdesk.faq.query`; lexicon concepts are one unit each). Then:

1. **Candidates** come from FTS5: an OR of the units' alternatives, each in its column, ordered by bm25 with
   field weights, at most `CANDIDATES`. Unit by unit, rarest first (a concept's terms are one unit), at most
   `MAX_TERMS` units and `POSTINGS_BUDGET` postings, and no token that occurs in more than `MAX_DF_SHARE` of
   the entries (slow to rank, separate least; they still count in the scoring below). A query made only of
   such words looks in questions and tags only.
2. **Ranking** (Python, per candidate), all parts in 0..1:
   * `cov`: BM25F-style coverage of the units: for each unit the best alternative's saturated, length-
     normalised frequency over question (1.0), tags (0.9) and answer (0.55), times its discount, weighted
     by the unit's IDF, divided by the total weight of the query.
   * `uni`: the share of the query's Chinese content characters found in question/tags (1.0) or answer
     (0.5): robust to paraphrase and counts only for the Chinese part of the query.
   * `qside`: the share of the entry's own question (content tokens) that the query matches.
   * `qcon`: the IDF-weighted share of the lexicon concepts of the entry's question that the query has.
   * `rank = cov * (1 - s * (1 - uni)) * (0.5 + 0.5 * qside) * (0.6 + 0.4 * qcon)`, s = the Chinese share of
     the query's weight (the `qcon` factor only for entries whose question has concepts).
3. **Confidence** (`FaqHit.score`): `conf` = the IDF-weighted share of the query's *words* (jieba words,
   English words, concepts; weighted by part of speech, instance words by `query.INSTANCE_W`; a real word the
   FAQ never uses weighs like the rarest token) that an entry contains as whole words, averaged with the
   best-covered clause's share for messages of several clauses. The query's confidence is the best `conf`
   of the first `CONF_TOP` entries; hit i gets `conf * rank_i / rank_best`, so scores fall best-first, the
   first one answers "does the FAQ cover this question", and the same number means the same for every query.
4. **No answer** when the confidence `< NO_ANSWER_THRESHOLD` (how it was chosen: docs/faq.md).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field

from agentdesk.faq.lexicon import lexicon
from agentdesk.faq.model import FaqHit, Lang, SearchResult, Snippet
from agentdesk.faq.query import QUESTION_FORM, Analysis, Unit, analyse, concept_df, idf
from agentdesk.faq.store import FaqStore, row_to_entry
from agentdesk.faq.text import (
    CJK_RE,
    EN_STOP,
    ZH_FUNCTION_CHARS,
    detect_lang,
    is_zh_noise,
    normalize,
    segment,
    tokens,
)

#: below this confidence the FAQ is taken not to cover the question (see docs/faq.md for how it was chosen)
NO_ANSWER_THRESHOLD = 0.33

FIELD_W = {"q": 1.0, "t": 0.9, "a": 0.55}
FIELD_CONF = {"q": 1.0, "t": 1.0, "a": 0.8}
K1 = 1.2
B = 0.5
QSIDE_W = 0.5
#: weight of the entry-question concepts the query has (`_concept_side`)
QCON_W = 0.4
CLAUSE_MIX = 0.5
MIN_CLAUSE_WEIGHT = 3.0
CANDIDATES = 30
CONF_TOP = 3
#: at most this many postings (sum of the chosen tokens' entry counts) are ranked by FTS5 per query
POSTINGS_BUDGET = 1_500
#: and at most this many terms (rarest first)
MAX_TERMS = 16
#: and, in a cache of at least `BIG_CACHE` entries, at most this many (bm25 over an OR of a concept's many
#: terms is the search's main cost there; see docs/faq.md "Benchmarks" for what the two budgets cost)
BIG_CACHE = 50_000
BIG_CACHE_POSTINGS = 700
MAX_DF_SHARE = 0.08
SNIPPET_CHARS = 120
#: a longer message is searched by its beginning (a pasted document is not a question)
MAX_QUERY_CHARS = 2_000


@dataclass(slots=True)
class Candidate:
    row: sqlite3.Row
    cov: float = 0.0
    uni: float = 0.0
    qside: float = 0.0
    qcon: float | None = None
    conf: float = 0.0
    rank: float = 0.0
    fields: dict[str, Counter[str]] = field(default_factory=dict)
    py: Counter[str] = field(default_factory=Counter)


def search(store: FaqStore, query: str, *, limit: int = 5, lang: Lang | None = None) -> SearchResult:
    lang = lang or detect_lang(query)
    an = analyse(store, query[:MAX_QUERY_CHARS])
    suggestion = _suggestion(query, an)
    ranked = rank(store, an)
    if not ranked or ranked[0].rank <= 0:
        return SearchResult(query=query, hits=(), suggestion=suggestion)
    best = ranked[0]
    # "does the FAQ cover this question": the best-covering of the first few entries (the top one may be a
    # near-duplicate of the one that covers it)
    conf = max(c.conf for c in ranked[:CONF_TOP])
    best_score = round(conf, 4)
    if conf < NO_ANSWER_THRESHOLD:
        return SearchResult(query=query, hits=(), suggestion=suggestion, best_score=best_score)
    hits = []
    for c in ranked[:limit]:
        entry = row_to_entry(c.row)
        text = entry.answer(lang) or entry.answer("en" if lang == "zh" else "zh")
        score = round(min(1.0, conf * c.rank / best.rank), 4)
        hits.append(FaqHit(entry=entry, score=score, lang=lang, snippet=make_snippet(text, an)))
    return SearchResult(query=query, hits=tuple(hits), suggestion=suggestion, best_score=best_score)


def rank(store: FaqStore, an: Analysis) -> list[Candidate]:
    """Candidates from FTS5, scored and sorted best first (no threshold)."""
    total_w = an.total_weight
    uni = {c for c in CJK_RE.findall(an.cleaned) if c not in ZH_FUNCTION_CHARS}
    if total_w <= 0:
        return []
    n = max(store.count(), 1)
    match = _fts_query(an, n)
    if not match:
        return []
    rows = store.conn.execute(
        "SELECT faq.* FROM faq_fts JOIN faq ON faq.rowid = faq_fts.rowid WHERE faq_fts MATCH ? "
        "ORDER BY bm25(faq_fts, 1.0, 0.5, 0.9, 0.7, 0.0) LIMIT ?",
        (match, CANDIDATES),
    ).fetchall()
    avg = _avg_lengths(store)
    q_main = {t for u in an.units for t, col, _ in u.alts if col == "main"}
    q_concepts = {u.concept for u in an.units if u.kind == "concept"} | lexicon().concepts_in(an.cleaned)
    zh_w = sum(
        u.weight
        for u in an.units
        if u.kind in {"zh", "cross", "char", "py"} or (u.kind == "concept" and not u.text.isascii())
    )
    zh_share = zh_w / total_w if uni else 0.0
    query_zh = zh_w > 0
    any_char = any(col == "char" for u in an.units for _, col, _ in u.alts)
    # only alternatives the index has can match anything (characters may still be in an answer)
    qidx = QueryIndex.build(an)
    out = []
    for row in rows:
        c = Candidate(row)
        fields = {f: Counter(row["s_" + f].replace(" | ", " ").split()) for f in ("q", "a", "t")}
        py = Counter(row["s_py"].split())
        qt_chars = set(row["s_c"].split())
        a_chars = _chars(fields["a"]) if (uni or any_char) and not uni <= qt_chars else set()
        c.cov = _coverage(qidx, fields, py, qt_chars, a_chars, avg) / total_w
        if uni:
            c.uni = sum(1.0 if ch in qt_chars else 0.5 if ch in a_chars else 0.0 for ch in uni) / len(uni)
        c.qside = _question_side(row["s_q"].split(), q_main, query_zh)
        c.fields, c.py = fields, py
        c.rank = c.cov * (1 - zh_share * (1 - c.uni)) * (1 - QSIDE_W + QSIDE_W * c.qside)
        if QCON_W:
            c.qcon = _concept_side(store, c.row, q_concepts)
            if c.qcon is not None:
                c.rank *= 1 - QCON_W + QCON_W * c.qcon
        out.append(c)
    out.sort(key=lambda c: -c.rank)
    for c in out[:CONF_TOP]:  # the confidence is only needed for the best (and shown for a few more)
        c.conf = _confidence(an.words, c.fields, c.py, _entry_words(c.row))
    return out


@dataclass(slots=True)
class QueryIndex:
    """The query's live alternatives, indexed so that scoring a candidate costs about one lookup per token
    the candidate and the query share (a long message with many concepts has hundreds of alternatives)."""

    weights: list[float]
    #: first token -> (unit number, rest of a phrase's tokens, discount), for index-token alternatives
    by_token: dict[str, list[tuple[int, tuple[str, ...], float]]] = field(default_factory=dict)
    #: pinyin token -> (unit number, discount)
    by_py: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    #: (unit number, character, discount)
    chars: list[tuple[int, str, float]] = field(default_factory=list)

    @classmethod
    def build(cls, an: Analysis) -> QueryIndex:
        units = [u for u in an.units if u.weight > 0]
        idx = cls([u.weight for u in units])
        for i, u in enumerate(units):
            for tok, col, factor in u.alts:
                if col == "char":
                    idx.chars.append((i, tok, factor))
                elif an.dfs.get(tok, 0) <= 0:
                    continue
                elif col == "py":
                    idx.by_py.setdefault(tok, []).append((i, factor))
                else:
                    parts = tok.split() if col == "phrase" else [tok]
                    idx.by_token.setdefault(parts[0], []).append((i, tuple(parts[1:]), factor))
        return idx


def _coverage(
    q: QueryIndex,
    fields: dict[str, Counter[str]],
    py: Counter[str],
    qt_chars: set[str],
    a_chars: set[str],
    avg: dict[str, float],
) -> float:
    norms = [(FIELD_W[f] / (1.0 - B + B * (sum(cnt.values()) / avg[f])), cnt) for f, cnt in fields.items()]
    best = [0.0] * len(q.weights)
    by_token = q.by_token
    present = fields["q"].keys() | fields["a"].keys() | fields["t"].keys()
    for first in present & by_token.keys():
        for i, rest, factor in by_token[first]:
            if rest and not all(b in present for b in rest):
                continue
            if rest:
                tf = sum(w * min(cnt.get(first, 0), *(cnt.get(b, 0) for b in rest)) for w, cnt in norms)
            else:
                tf = sum(w * cnt.get(first, 0) for w, cnt in norms)
            if tf > 0:
                got = factor * tf / (tf + K1)
                if got > best[i]:
                    best[i] = got
    if q.by_py:
        py_w = FIELD_W["q"] / (1.0 - B + B * (sum(py.values()) / avg["py"]))
        for tok in py.keys() & q.by_py.keys():
            tf = py_w * py[tok]
            for i, factor in q.by_py[tok]:
                best[i] = max(best[i], factor * tf / (tf + K1))
    for i, ch, factor in q.chars:
        hit = FIELD_W["q"] if ch in qt_chars else FIELD_W["a"] if ch in a_chars else 0.0
        best[i] = max(best[i], factor * hit)
    return sum(w * b for w, b in zip(q.weights, best, strict=True))


def _question_side(toks: list[str], q_main: set[str], query_zh: bool) -> float:
    """Share of the entry question's content tokens (in the query's script) that the query matches."""
    content = [
        t
        for t in toks
        if (CJK_RE.match(t) is not None) == query_zh and not is_zh_noise(t) and t not in EN_STOP
    ]
    if not content:
        return 0.0
    return sum(1 for t in content if t in q_main) / len(content)


_CONCEPTS_CACHE: dict[str, frozenset[str]] = {}


def _concept_side(store: FaqStore, row: sqlite3.Row, q_concepts: set[str]) -> float | None:
    """IDF-weighted share of the concepts of the entry's question (either language) that the query has:
    near-duplicates differ by one concept (card vs wallet, before vs after shipping). None: no concepts."""
    key = row["content_hash"]
    got = _CONCEPTS_CACHE.get(key)
    if got is None:
        lex = lexicon()
        got = frozenset(
            k for text in (row["question_zh"], row["question_en"]) for k in lex.concepts_in(normalize(text))
        )
        if len(_CONCEPTS_CACHE) > 20_000:
            _CONCEPTS_CACHE.clear()
        _CONCEPTS_CACHE[key] = got
    if not got:
        return None
    n = max(store.count(), 1)
    weights = {c: idf(concept_df(store, c), n) for c in got}
    total = sum(weights.values())
    return sum(w for c, w in weights.items() if c in q_concepts) / total if total > 0 else None


_WORDS_CACHE: dict[str, tuple[frozenset[str], frozenset[str]]] = {}


def _entry_words(row: sqlite3.Row) -> tuple[frozenset[str], frozenset[str]]:
    """The Chinese words (jieba) of an entry's question + tags, and of its answer (cached by content)."""
    key = row["content_hash"]
    got = _WORDS_CACHE.get(key)
    if got is None:
        qt = normalize(row["question_zh"] + " " + " ".join(json.loads(row["tags"])))
        got = (frozenset(segment(qt)), frozenset(segment(normalize(row["answer_zh"]))))
        if len(_WORDS_CACHE) > 20_000:
            _WORDS_CACHE.clear()
        _WORDS_CACHE[key] = got
    return got


def _confidence(
    words: list[Unit],
    fields: dict[str, Counter[str]],
    py: Counter[str],
    entry_words: tuple[frozenset[str], frozenset[str]],
) -> float:
    """IDF-weighted share of the query's words that the entry contains as whole words. A message of several
    clauses (the story, then the question) also gets its best-covered clause's share; the two are averaged."""
    total = sum(w.weight for w in words)
    if total <= 0:
        return 0.0
    got: dict[int, float] = {}
    weight: dict[int, float] = {}
    for w in words:
        best = 0.0
        if (
            w.pos == QUESTION_FORM
        ):  # weighs a little, never covered: a message of question words only is no question
            got[w.clause] = got.get(w.clause, 0.0)
            weight[w.clause] = weight.get(w.clause, 0.0) + w.weight
            continue
        if w.kind == "zhw":  # a Chinese word counts only as a whole word of the entry (外包 is not in 外包装)
            best = (
                FIELD_CONF["q"]
                if w.text in entry_words[0]
                else FIELD_CONF["a"]
                if w.text in entry_words[1]
                else 0.0
            )
        for tok, col, factor in w.alts:
            if w.kind == "zhw" and factor >= 1.0 and col != "py":
                continue
            if col == "py":
                hit = 1.0 if tok in py else 0.0
            elif col == "phrase":
                parts = tok.split()
                hit = max(
                    (FIELD_CONF[f] for f, cnt in fields.items() if all(b in cnt for b in parts)), default=0.0
                )
            else:
                hit = max((FIELD_CONF[f] for f, cnt in fields.items() if tok in cnt), default=0.0)
            best = max(best, factor * hit)
        got[w.clause] = got.get(w.clause, 0.0) + w.weight * best
        weight[w.clause] = weight.get(w.clause, 0.0) + w.weight
    whole = sum(got.values()) / total
    if len(weight) < 2 or not CLAUSE_MIX:
        return whole
    best_clause = (
        max(got[c] / weight[c] for c in weight if weight[c] >= MIN_CLAUSE_WEIGHT)
        if any(weight[c] >= MIN_CLAUSE_WEIGHT for c in weight)
        else whole
    )
    return (1 - CLAUSE_MIX) * whole + CLAUSE_MIX * max(whole, best_clause)


def _fts_query(an: Analysis, n: int) -> str:
    """OR of the units' alternatives, each in its column; very common tokens are left out at scale unless
    nothing rarer is there."""
    dfs = an.dfs
    by_col: dict[str, set[tuple[int, str]]] = {"main": set(), "phrase": set(), "py": set(), "char": set()}
    groups: list[tuple[int, list[tuple[int, str, str]]]] = []
    for u in an.units:
        main_known = dfs.get(u.alts[0][0], 0) > 0
        alts = []
        for tok, col, _ in u.alts:
            if col == "phrase":
                # a concept's term of several tokens fetches by its rarest token: one posting list without
                # positions (a phrase query costs several), and the ranking checks the whole term anyway
                col, tok = "main", min(tok.split(), key=lambda b: dfs.get(b, 0))
            # a pinyin alternative only fetches candidates for a token the index does not have (a typo)
            if dfs.get(tok, 0) > 0 and not (col == "py" and main_known and u.kind != "py"):
                by_col[col].add((dfs[tok], tok))
                alts.append((dfs[tok], col, tok))
        if alts:
            alts.sort()
            groups.append((alts[0][0], alts))
    limit = max(50, int(n * MAX_DF_SHARE))
    keep: dict[str, list[str]] = {col: [] for col in by_col}
    taken: set[tuple[str, str]] = set()
    budget = BIG_CACHE_POSTINGS if n >= BIG_CACHE else POSTINGS_BUDGET
    terms = 0
    # unit by unit, rarest first: the alternatives of one unit (a concept's terms) count as one term
    for _, alts in sorted(groups, key=lambda g: g[0]):
        if terms >= MAX_TERMS:
            break
        used = False
        for d, col, t in alts:
            if (col, t) in taken or d > limit or d > budget:
                continue
            keep[col].append(t)
            taken.add((col, t))
            budget -= d
            used = True
        terms += used
    main_cols = "{s_q s_a s_t}"
    if not keep["main"] and not keep["phrase"]:
        # only very common words (a bare keyword such as 退款 in a big cache): look in questions and tags only
        keep["main"] = [t for _, t in sorted(by_col["main"] | by_col["phrase"])[:1]]
        main_cols = "{s_q s_t}"
    parts = []
    words = keep["main"] + keep["phrase"]
    if words:
        parts.append(main_cols + " : (" + " OR ".join(f'"{t}"' for t in words) + ")")
    if keep["py"]:
        parts.append("s_py : (" + " OR ".join(f'"{t}"' for t in keep["py"]) + ")")
    if keep["char"]:
        parts.append("s_c : (" + " OR ".join(f'"{t}"' for t in keep["char"]) + ")")
    return " OR ".join(parts)


def _chars(*counters: Counter[str]) -> set[str]:
    return {ch for cnt in counters for tok in cnt if CJK_RE.match(tok) for ch in tok}


def _avg_lengths(store: FaqStore) -> dict[str, float]:
    """Average token count per column (cached on the store until the entry count changes)."""
    cached = store.cache.get("avg_len")
    if isinstance(cached, tuple) and cached[0] == store.count():
        return dict(cached[1])
    cols = ("q", "a", "t", "py")
    expr = ", ".join(f"avg(length(s_{f}) - length(replace(s_{f}, ' ', '')) + 1)" for f in cols)
    row = store.conn.execute(f"SELECT {expr} FROM faq").fetchone()
    out = {f: float(v or 1.0) for f, v in zip(cols, row, strict=True)}
    store.cache["avg_len"] = (store.count(), out)
    return out


def _suggestion(query: str, an: Analysis) -> str | None:
    if not an.corrections:
        return None
    out = normalize(query)
    for wrong, right in an.corrections.items():
        # a Chinese typo sits between other characters (no word boundary): plain replacement
        ascii_word = wrong.isascii()
        out = re.sub(rf"\b{re.escape(wrong)}\b", right, out) if ascii_word else out.replace(wrong, right)
    return out


SNIPPET_CHARS = 120


def make_snippet(text: str, an: Analysis, width: int = SNIPPET_CHARS) -> Snippet:
    """A window of `text` around the densest matches, with (start, end) offsets into the snippet."""
    norm = normalize(text)
    if len(norm) != len(text):  # offsets would not line up; show the normalised text
        text = norm
    wanted: set[str] = set()
    for u in an.units:
        for tok, col, _ in u.alts:
            if col == "main":
                wanted.add(tok)
            elif col == "phrase" and u.kind == "concept":  # a concept's several-token terms (shipping fee)
                wanted.update(t for t in tok.split() if t not in EN_STOP)
    spans: list[tuple[int, int]] = []
    for t in tokens(norm):
        if t.text in wanted:
            spans.append((t.start, t.end))
    spans = _merge(spans)
    if len(text) <= width:
        return Snippet(text, tuple(spans))
    best_start, best_n = 0, -1
    for s, _ in spans:
        start = max(0, s - width // 4)
        cnt = sum(1 for a, b in spans if a >= start and b <= start + width)
        if cnt > best_n:
            best_start, best_n = start, cnt
    end = min(len(text), best_start + width)
    best_start = max(0, end - width)
    inner = [(a - best_start, b - best_start) for a, b in spans if a >= best_start and b <= end]
    prefix = "…" if best_start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix)
    return Snippet(prefix + text[best_start:end] + suffix, tuple((a + shift, b + shift) for a, b in inner))


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out
