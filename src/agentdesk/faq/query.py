"""Turning a customer's message into weighted search *units* (see `agentdesk.faq.search` for the scoring).

1. `clean_query`: NFKC (full-width -> half-width), Traditional -> Simplified, lower case; pasted noise (order
   numbers, phone numbers, URLs, e-mail addresses) and greetings removed. Then `rewrite_phrasal` (English
   phrasal verbs -> the FAQ's word: `send it back` -> `return it`) and `homophone_fix` (a Chinese bigram that
   is no word and not in the index, with a one-character homophone the index has: `运废` -> `运费`).
2. Chinese runs give one unit per character **bigram** (the index's tokens, so any 2-character term is found
   exactly), minus function-word fragments (`ZH_STOP`, particles), plus the content characters that jieba
   sees as one-character words (`钱`, `膜`). English words give one unit per stemmed word, minus stop words.
   Latin words that are not in the index but split into pinyin syllables (`fapiao zenme kai`) give pinyin
   bigram units.
3. Each unit has *alternatives*, each with a discount: its pinyin bigram (homophone typos such as 运废 ->
   运费, Traditional characters that zhconv missed), a close English word from the index vocabulary
   (misspellings: `pasword` -> `password`, also offered as "did you mean"), and general-purpose synonyms
   (`text.SYNONYM_GROUPS`).
4. A unit weighs the IDF of its best-known alternative. A unit the index has never seen still weighs (it is
   information the FAQ may not cover), so coverage stays honest. A bigram across two words (`少钱` of `多少钱`)
   weighs at most the average of the query's in-word bigrams (`_cap_fragments`): its rarity is accidental.
5. Separately, `words` holds word-level units (jieba words, English words) for the confidence: whole words
   the best entry must contain for the FAQ to be taken as covering the question.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from agentdesk.faq.lexicon import Match, lexicon
from agentdesk.faq.store import FaqStore
from agentdesk.faq.text import (
    CJK_RE,
    EN_STOP,
    ZH_FUNCTION_CHARS,
    ZH_STOP,
    char_pinyin,
    clean_query,
    index_string,
    is_word,
    is_zh_noise,
    normalize,
    pinyin_split,
    segment,
    stem,
    synonyms,
    tag,
    tokens,
)

#: discounts of the alternatives of a unit
PINYIN_FACTOR = 0.8
SPELL_FACTOR = 0.8
SYN_FACTOR = 0.5
#: one-character units weigh less than words and bigrams
CHAR_W = 0.5
#: weight of a bigram that straddles two words (jieba), after the cap of `_cap_fragments`. Such fragments look
#: like noise but carry some of the question's phrasing (多少钱, 怎么办); with the lexicon's concepts taking the
#: real words, 0.6 measured best (1.0 and 0.3 both lost a query or two)
CROSS_W = 0.6
#: confidence weight of verbs/adjectives and of other non-noun words (see `pos_weight`)
POS_VERB = 0.5
POS_OTHER = 0.15
#: an English word the index has never seen weighs like the rarest possible token; a Chinese bigram the
#: index has never seen (often a fragment across two words) weighs a third of that
UNKNOWN_EN = 1.0
UNKNOWN_ZH = 0.35

#: a concept's document frequency is counted exactly up to this many postings (`concept_df`)
CONCEPT_DF_POSTINGS = 5_000
#: discount of a concept's other terms (the customer's own term counts fully)
CONCEPT_FACTOR = 0.9
#: share of its weight a unit keeps inside an instance word (a product, brand, colour: not the topic)
INSTANCE_W = 0.2

#: English time words (the Chinese side learns these from jieba's part of speech): context, not topic
_EN_TIME_WORDS = (
    "today yesterday tomorrow tonight morning afternoon evening night week weekend month year hour minute "
    "last next ago now recently already earlier later soon monday tuesday wednesday thursday friday saturday "
    "sunday"
)
EN_TIME: frozenset[str] = frozenset(stem(w) for w in _EN_TIME_WORDS.split())

#: rows looked at to find the real word behind a homophone typo
HOMOPHONE_ROWS = 50

#: an alternative: (index token, kind, discount). Kinds: "main" (an s_q/s_a/s_t token), "py" (s_py token),
#: "phrase" (space-separated bigrams that must all occur), "char" (one Chinese character)
Alt = tuple[str, str, float]
_RUN_RE = re.compile(f"{CJK_RE.pattern}+")


@dataclass(slots=True)
class Unit:
    text: str
    alts: list[Alt]
    kind: str = "zh"  # zh | cross | char | en | num | py | zhw (a Chinese word, confidence only) | concept
    weight: float = 0.0
    pos: str = ""  # part of speech of a zhw word
    clause: int = 0  # which clause of the message (split at sentence punctuation) the word is in
    concept: str = ""  # the lexicon concept of a "concept" unit


@dataclass(slots=True)
class Analysis:
    cleaned: str
    units: list[Unit] = field(default_factory=list)
    #: word-level units (jieba words, English words) for the confidence / no-answer decision
    words: list[Unit] = field(default_factory=list)
    #: typed word -> suggested word, for "did you mean"
    corrections: dict[str, str] = field(default_factory=dict)
    dfs: dict[str, int] = field(default_factory=dict)

    @property
    def total_weight(self) -> float:
        return sum(u.weight for u in self.units)


_CLAUSE_RE = re.compile(r"[,.;!?，。；！？\n]+")


def _clause_at(text: str, pos: int) -> int:
    return len(_CLAUSE_RE.findall(text, 0, pos))


def idf(df: int, n: int) -> float:
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def analyse(store: FaqStore, query: str) -> Analysis:
    cleaned, fixed = homophone_fix(store, rewrite_phrasal(clean_query(query)))
    an = Analysis(cleaned)
    an.corrections.update(fixed)
    pending_py: list[str] = []

    def flush_pinyin() -> None:
        if len(pending_py) >= 2:
            for a, b in itertools.pairwise(pending_py):
                unit = Unit(a + b, [(a + b, "py", 0.9)], kind="py")
                an.units.append(unit)
                an.words.append(unit)
        pending_py.clear()

    vocabulary = store.words()
    runs = list(_RUN_RE.finditer(cleaned))
    done_runs: set[int] = set()
    for tok in tokens(cleaned):
        if tok.kind == "zh":
            flush_pinyin()
            run = next((r for r in runs if r.start() <= tok.start < r.end()), None)
            if run is None or run.start() in done_runs:
                continue
            done_runs.add(run.start())
            an.units.extend(_zh_units(run.group()))
            known = {w.text for w in an.words}
            clause = _clause_at(cleaned, run.start())
            for w in _zh_words(run.group()):
                if w.text not in known:
                    w.clause = clause
                    an.words.append(w)
            continue
        raw = cleaned[tok.start : tok.end]
        if raw in EN_STOP or tok.text in EN_STOP:
            flush_pinyin()
            continue
        if tok.kind == "num":
            flush_pinyin()
            an.units.append(Unit(tok.text, [(tok.text, "main", 1.0)], kind="num"))
            continue
        df = store.doc_freq([tok.text])[tok.text]
        if df == 0:
            sylls = pinyin_split(raw)
            if sylls is not None:
                pending_py.extend(sylls)
                continue
        flush_pinyin()
        alts: list[Alt] = [(tok.text, "main", 1.0)]
        if df == 0 and len(raw) >= 4:
            close = _close_word(raw, vocabulary)
            if close is not None:
                an.corrections[raw] = close
                alts.append((stem(close), "main", SPELL_FACTOR))
        unit = Unit(tok.text, alts, kind="en", clause=_clause_at(cleaned, tok.start))
        an.units.append(unit)
        an.words.append(unit)
    flush_pinyin()
    _apply_concepts(an)

    syn = synonyms()
    zh_words = [w for w in an.words if w.kind == "zhw"]
    for u in [*an.units, *zh_words]:
        if u.kind == "concept":
            continue
        for tok_text, col, factor in list(u.alts):
            for other in sorted(syn.get(tok_text, ()) if col == "main" else ()):
                u.alts.append((other, "main", SYN_FACTOR * factor))
    _weigh(store, an, zh_words)
    for w in zh_words:
        # the pinyin alternative is for typos (有力息 -> 有利息): a word the index has does not also match its
        # homophones (外包 is not 歪报)
        if len(w.alts) > 1 and an.dfs.get(w.alts[0][0], 0) > 0:
            w.alts = [a for a in w.alts if a[1] != "py"]
    _cap_fragments(an.units)
    _discount_instances(an)
    return an


def _concept_alts(cid: str, surface_tokens: str) -> list[Alt]:
    out: list[Alt] = []
    for toks in lexicon().term_tokens(cid):
        joined = " ".join(toks)
        factor = 1.0 if joined == surface_tokens else CONCEPT_FACTOR
        out.append((joined, "main" if len(toks) == 1 else "phrase", factor))
    out.sort(key=lambda a: -a[2])
    return out


def _match_tokens(found: list[Match]) -> tuple[set[str], set[str], set[str]]:
    """The index tokens lexicon matches cover: (Chinese bigrams, Chinese characters, English stems)."""
    bigrams: set[str] = set()
    chars: set[str] = set()
    en: set[str] = set()
    for m in found:
        s = m.surface
        if CJK_RE.match(s):
            bigrams.update(s[i : i + 2] for i in range(len(s) - 1))
            chars.update(s)
        else:
            en.update(t.text for t in tokens(s))
    return bigrams, chars, en


def _apply_concepts(an: Analysis) -> None:
    """Replace the units and words a concept term of the lexicon covers by one unit for the concept."""
    text = an.cleaned
    for wrong, right in an.corrections.items():  # find the concept of a misspelt word too (retrun -> return)
        if wrong.isascii():
            text = re.sub(rf"\b{re.escape(wrong)}\b", right, text)
    found = lexicon().find(text)
    if not found:
        return
    bigrams, chars, en = _match_tokens(found)

    def covered(u: Unit) -> bool:
        if u.kind in {"zh", "cross"}:
            return u.text in bigrams
        if u.kind == "char":
            return u.text in chars
        if u.kind == "en":
            return any(t in en for t, col, _ in u.alts if col == "main")
        if u.kind == "zhw":
            return any(u.text in m.surface or m.surface in u.text for m in found if not m.surface.isascii())
        return False

    an.units = [u for u in an.units if not covered(u)]
    an.words = [w for w in an.words if not covered(w)]
    seen: set[str] = set()
    for m in found:
        if m.key in seen:
            continue
        seen.add(m.key)
        surface = index_string(m.surface, normalized=True)
        unit = Unit(
            m.surface, _concept_alts(m.key, surface), kind="concept", clause=_clause_at(text, m.start)
        )
        unit.concept = m.key
        an.units.append(unit)
        # the confidence gets its own copy: a question form (多久, how much) helps ranking, but it is no content
        # the FAQ could cover (`_confidence` never counts it as covered)
        word = Unit(unit.text, unit.alts, kind="concept", clause=unit.clause, concept=m.key)
        if _question_form(m.surface):
            word.pos = QUESTION_FORM
        an.words.append(word)


#: `Unit.pos` of a concept word made only of stop words (多久, 怎么回事, how much, where is it)
QUESTION_FORM = "question"


def _question_form(surface: str) -> bool:
    if surface.isascii():
        return all(w in EN_STOP for w in re.findall(r"[a-z']+", surface))
    if surface in ZH_STOP:
        return True
    return all(w in ZH_STOP or all(c in ZH_FUNCTION_CHARS for c in w) for w in segment(surface))


def _discount_instances(an: Analysis) -> None:
    """Units inside an instance word (a product, colour, brand...) weigh `INSTANCE_W` of their weight."""
    found = lexicon().instances(an.cleaned)
    if not found:
        return
    bigrams, _, en = _match_tokens(found)
    zh_surfaces = [m.surface for m in found if not m.surface.isascii()]
    # English units are also words (the same objects): discount each object once
    for u in {id(u): u for u in [*an.units, *an.words]}.values():
        hit = (
            (u.kind in {"zh", "cross"} and u.text in bigrams)
            or (u.kind == "en" and u.text in en)
            or (u.kind in {"zhw", "char"} and any(u.text in s for s in zh_surfaces))
        )
        if hit:
            u.weight *= INSTANCE_W


def _cap_fragments(units: list[Unit]) -> None:
    """A bigram across two words (`多少钱` -> `少钱`) is rare by accident: its IDF says little about the topic,
    yet a rare fragment used to outweigh every real word of the query (`能到` from `多久能到` deciding the
    top hit). It now weighs at most the average of the query's in-word bigrams."""
    inword = [u.weight for u in units if u.kind in {"zh", "concept"} and u.weight > 0]
    if not inword:
        return
    cap = sum(inword) / len(inword)
    for u in units:
        if u.kind == "cross":
            u.weight = min(u.weight, cap)


#: English phrasal verbs -> the single word help-centre articles use ("send the item back" -> "return the
#: item"); at most three words between the verb and its particle
PHRASAL: tuple[tuple[str, str, str], ...] = (
    (
        "send|sending|sent|take|taking|took|give|giving|gave|bring|bringing|brought|ship|mail|post",
        "back",
        "return",
    ),
)
_PHRASAL_RE = [
    (re.compile(rf"\b(?:{verbs})\b((?:\s+[a-z0-9']+){{0,3}}?)\s+{particle}\b"), word)
    for verbs, particle, word in PHRASAL
]


def rewrite_phrasal(text: str) -> str:
    """Replace English phrasal verbs by the one word the FAQ uses (`PHRASAL`)."""
    for pattern, word in _PHRASAL_RE:
        text = pattern.sub(word + r"\1", text)
    return text


def homophone_fix(store: FaqStore, text: str) -> tuple[str, dict[str, str]]:
    """Rewrite Chinese homophone typos (运废 -> 运费, 保休 -> 保修) before the query is analysed.

    A bigram is taken for a typo when the index does not have it, it is not a word jieba knows, neither of
    its characters belongs to a longer real word of the query (当时|用 is two words, not a typo of 试用), and
    the index has a bigram with the same pinyin that differs in one character and is a real word: the most
    common such bigram among the questions and tags whose pinyin contains it (`HOMOPHONE_ROWS` looked at).
    Returns the rewritten text and {typo: fix} (also the "did you mean")."""
    fixes: dict[str, str] = {}
    for run in _RUN_RE.findall(text):
        # characters that belong to a real word of two or more characters are not typos (当时|用, 直接)
        in_word: set[int] = set()
        pos = 0
        for w in segment(run):
            if len(w) >= 2 and is_word(w):
                in_word.update(range(pos, pos + len(w)))
            pos += len(w)
        for i in range(len(run) - 1):
            bg = run[i : i + 2]
            if i in in_word or i + 1 in in_word or bg in fixes or is_zh_noise(bg) or is_word(bg):
                continue
            if store.doc_freq([bg])[bg] > 0:
                continue
            py = _pinyin_bigram(bg)
            if store.doc_freq([py])[py] == 0:
                continue
            fix = _homophone(store, bg, py)
            if fix is not None:
                fixes[bg] = fix
    for wrong, right in fixes.items():
        text = text.replace(wrong, right)
    return text, fixes


def _homophone(store: FaqStore, typo: str, py: str) -> str | None:
    cache = store.cache.setdefault("homophones", {})  # cleared on every write, like the other caches
    assert isinstance(cache, dict)
    if len(cache) > 10_000:
        cache.clear()
    if typo in cache:
        got: str | None = cache[typo]
        return got
    seen: Counter[str] = Counter()
    rows = store.conn.execute(
        "SELECT faq.question_zh, faq.tags FROM faq_fts JOIN faq ON faq.rowid = faq_fts.rowid "
        "WHERE faq_fts MATCH ? LIMIT ?",
        (f's_py : "{py}"', HOMOPHONE_ROWS),
    ).fetchall()
    for question, tags in rows:
        text = normalize(question + " " + tags)
        for run in _RUN_RE.findall(text):
            for j in range(len(run) - 1):
                bg = run[j : j + 2]
                if bg != typo and (bg[0] == typo[0]) != (bg[1] == typo[1]) and _pinyin_bigram(bg) == py:
                    seen[bg] += 1
    found = next((bg for bg, _ in seen.most_common() if is_word(bg)), None)
    cache[typo] = found
    return found


def _weigh(store: FaqStore, an: Analysis, zh_words: list[Unit]) -> None:
    n = max(store.count(), 1)
    an.dfs = dfs = alt_dfs(store, [*an.units, *an.words])
    max_idf = idf(0, n)
    concept_words = [w for w in an.words if w.kind == "concept"]
    for u in [*an.units, *zh_words, *concept_words]:
        if u.kind == "concept":
            u.weight = idf(concept_df(store, u.concept), n) if u.alts else 0.0
            if u.pos == QUESTION_FORM:
                u.weight *= POS_OTHER
            continue
        first = dfs.get(u.alts[0][0], 0)
        known = [idf(dfs[t], n) * f for t, _, f in u.alts if dfs.get(t, 0) > 0]
        if first > 0:
            u.weight = idf(first, n)
        elif known:
            u.weight = max(known)
        elif u.kind == "en":
            u.weight = max_idf * UNKNOWN_EN
        elif u.kind in {"zh", "cross"}:
            u.weight = max_idf * UNKNOWN_ZH
        elif u.kind == "zhw":
            # a real word (jieba's dictionary) the FAQ never uses is information it does not cover
            u.weight = max_idf if is_word(u.text) else 0.0
        else:
            u.weight = 0.0
        if u.kind == "num":
            u.weight *= 0.5
        elif u.kind == "char" or (u.kind == "zhw" and len(u.text) == 1):
            u.weight *= CHAR_W
        elif u.kind == "cross":
            u.weight *= CROSS_W
        if u.kind == "zhw":
            u.weight *= pos_weight(u.pos)
        elif u.kind == "en" and u.text in EN_TIME:
            u.weight *= POS_OTHER  # as jieba's time words on the Chinese side


def concept_df(store: FaqStore, cid: str) -> int:
    """How many entries have a term of the concept (cached on the store until the next write).

    Exact (an FTS5 count of the union of its terms, phrases as phrases) when that is cheap: the terms' posting
    lists total at most `CONCEPT_DF_POSTINGS`. A concept of very common terms (a few percent of a big cache)
    gets an estimate instead, the largest upper bound of its terms (a phrase counts its rarest token): its IDF is
    low either way, and an exact count there costs several milliseconds per concept."""
    cache = store.cache.setdefault("concept_df", {})
    assert isinstance(cache, dict)
    got = cache.get(cid)
    if got is None:
        terms = lexicon().term_tokens(cid)
        dfs = store.doc_freq({tok for toks in terms for tok in toks})
        bounds = [min(dfs[tok] for tok in toks) for toks in terms]
        if sum(bounds) <= CONCEPT_DF_POSTINGS:
            expr = " OR ".join(
                f'"{" ".join(toks)}"' for toks, bound in zip(terms, bounds, strict=True) if bound
            )
            row = (
                store.conn.execute(
                    "SELECT count(*) FROM faq_fts WHERE faq_fts MATCH ?", ("{s_q s_a s_t} : (" + expr + ")",)
                ).fetchone()
                if expr
                else (0,)
            )
            got = int(row[0])
        else:
            got = max(bounds)
        cache[cid] = got
    return int(got)


def alt_dfs(store: FaqStore, units: list[Unit]) -> dict[str, int]:
    """Entries containing each alternative (a phrase: its rarest bigram, an upper bound)."""
    plain = {t for u in units for t, col, _ in u.alts if col != "phrase"}
    parts = {b for u in units for t, col, _ in u.alts if col == "phrase" for b in t.split()}
    dfs = store.doc_freq(plain | parts)
    for u in units:
        for t, col, _ in u.alts:
            if col == "phrase":
                dfs[t] = min(dfs[b] for b in t.split())
    return dfs


def _pinyin_bigram(bg: str) -> str:
    return char_pinyin(bg[0]) + char_pinyin(bg[1])


def _zh_units(run: str) -> list[Unit]:
    """Every character bigram of a Chinese run (as the index has them), plus its one-character words."""
    if len(run) == 1:
        return [Unit(run, [(run, "char", 1.0)], kind="char")] if run not in ZH_FUNCTION_CHARS else []
    units: list[Unit] = []
    seen: set[str] = set()
    words = segment(run)
    cuts = set(itertools.accumulate(len(w) for w in words))
    for i in range(len(run) - 1):
        bg = run[i : i + 2]
        if bg in seen or is_zh_noise(bg):
            continue
        seen.add(bg)
        kind = "cross" if (i + 1) in cuts else "zh"
        units.append(Unit(bg, [(bg, "main", 1.0), (_pinyin_bigram(bg), "py", PINYIN_FACTOR)], kind=kind))
    for w in words:
        if len(w) == 1 and w not in seen and w not in ZH_FUNCTION_CHARS and w not in ZH_STOP:
            seen.add(w)
            units.append(Unit(w, [(w, "char", 1.0)], kind="char"))
    return units


def pos_weight(pos: str) -> float:
    """How much a word of this part of speech says about the topic: nouns (and English, abbreviations,
    set phrases) fully, verbs and adjectives half, time words, adverbs, numerals, pronouns, particles little."""
    if pos[:1] in {"n", "j", "l", "i"} or pos in {"vn", "eng"}:
        return 1.0
    if pos[:1] in {"v", "a"}:
        return POS_VERB
    return POS_OTHER


def _zh_words(run: str) -> list[Unit]:
    """Word-level units of a Chinese run (for the confidence): content words, not stop words."""
    out: list[Unit] = []
    for word, pos in dict(tag(run)).items():
        if word in ZH_STOP or all(c in ZH_FUNCTION_CHARS for c in word):
            continue
        if len(word) == 1:
            unit = Unit(word, [(word, "char", 1.0)], kind="zhw")
        elif len(word) == 2:
            unit = Unit(word, [(word, "main", 1.0), (_pinyin_bigram(word), "py", PINYIN_FACTOR)], kind="zhw")
        else:
            bigrams = " ".join(word[i : i + 2] for i in range(len(word) - 1))
            unit = Unit(word, [(bigrams, "phrase", 1.0)], kind="zhw")
        unit.pos = pos
        out.append(unit)
    return out


def _close_word(word: str, vocabulary: list[str]) -> str | None:
    pool = [w for w in vocabulary if abs(len(w) - len(word)) <= 2 and (w[0] == word[0] or w[-1] == word[-1])]
    found = difflib.get_close_matches(word, pool, n=5, cutoff=0.75)
    if not found:
        return None
    # among equally close words prefer a transposition (chnage -> change, not charge)
    return max(
        found, key=lambda w: (sorted(w) == sorted(word), difflib.SequenceMatcher(None, word, w).ratio())
    )
