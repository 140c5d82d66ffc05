"""Text handling shared by the index and the query side: normalisation, language detection, tokens.

Everything the index stores and everything a query is turned into goes through `tokens()`, so the two
sides always agree (the FTS5 table uses the plain `unicode61` tokenizer over our pre-built token strings):

* CJK runs become overlapping character **bigrams** (`退款会` -> `退款 款会`); a run of one character is kept
  as a unigram. A 2-character Chinese term is then one index token (fast and exact).
* Latin words are lower-cased and lightly stemmed (`refunds`, `refunded` -> `refund`; `shipping` -> `ship`).
* Chinese text also yields **pinyin bigram** tokens (`运费` -> `yunfei`), which is how homophone typos
  (`运废`), Traditional characters and pinyin typed without conversion (`fapiao`) still find the entry.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from agentdesk.faq.model import Lang

_CJK_RANGES = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_RE = re.compile(f"[{_CJK_RANGES}]")
_CJK_RUN_RE = re.compile(f"[{_CJK_RANGES}]+")
#: a token: a run of CJK characters, or a run of latin letters/digits
_TOKEN_RE = re.compile(f"([{_CJK_RANGES}]+)|([a-z0-9]+)")
_INVISIBLE_RE = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
#: noise customers paste: order numbers, phone numbers, e-mail addresses, URLs, long digit runs
_NOISE_RE = re.compile(
    r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+|\bnw\s?\d{6,}\b|\b\d{7,}\b|(?<![a-z0-9])1[3-9]\d{9}(?!\d)",
    re.IGNORECASE,
)
#: greetings and politeness that carry no meaning for search (removed before tokenising)
_GREETING_RE = re.compile(
    r"(你好|您好|哈喽|嗨|请问一下|请问|问一下|麻烦问下|麻烦|谢谢你?们?|多谢|感谢|小姐姐|亲爱的"
    # 亲 (dear) and 在吗 (are you there) only standing alone: 亲自 and 券还在吗 keep their words
    r"|(?:^|(?<=[\s,.!?，。！？]))(?:亲|在吗|在不在)(?=[\s,.!?，。！？]|$))"
    r"|\b(hi|hello|hey|thanks|thank you|thx|pls|please|dear|sir|madam)\b",
    re.IGNORECASE,
)


#: Chinese function bigrams and English stop-words: indexed, but they never count as query content
def _split(words: str) -> list[str]:
    return words.split()


ZH_STOP: frozenset[str] = frozenset(
    _split(
        "怎么 什么 可以 能不 不能 能否 是否 如何 为什么 哪里 一下 我的 我们 你们 他们 这个 那个 一个 这样 还是 还能 能够 是不 不是 有没 没有 请问 现在 已经 "
        "应该 需要 的话 时候 然后 但是 所以 因为 要怎 么办 怎样 多少 多久 吗 呢 啊 吧 呀 了 的 是 我 你 么 在 有 和 都 也 就 又 还 会 能 要 想 给我 "
        "我想 想要 我是 你好 您好 一直 这种 那种 这边 那边 请 帮 帮我 咋办 咋整 怎么整 怎么搞 咋回事 怎么回事 为啥 "
    )
)
#: particles and pronouns: a bigram containing one is almost always a cross-word fragment (`了一`, `单怎`)
ZH_FUNCTION_CHARS: frozenset[str] = frozenset(
    "了的吗呢啊吧呀么嘛哦啦呗哈们我你您他她它这那些就都也又是着咋啥"
)


def is_zh_noise(bigram: str) -> bool:
    """A CJK query token that carries no meaning of its own (stop word or cross-word fragment)."""
    return bigram in ZH_STOP or any(c in ZH_FUNCTION_CHARS for c in bigram)


EN_STOP: frozenset[str] = frozenset(
    _split(
        "a an the and or but if of to in on at for from by with about as into is are was were be "
        "been being am i me my we our you your u ur he she it its they them their this that these "
        "those there here do does did done doing have has had having can could will would should "
        "shall may might must not no yes so what when where which who whom why how any some all "
        "just also than then too very up out off over again still yet get got im many much till "
        "ago i'm it's dont don't cant can't pls please hi hello hey thanks "
    )
)


#: general-purpose synonym groups for shop support (everyday wording -> the wording FAQs use). Each word
#: of a group may stand for any other, at a discount. Chinese words are 2 characters (one index token).
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    # English: everyday wording <-> the wording of help-centre articles
    ("buy", "bought", "purchase", "order"),
    ("see", "find", "view", "check", "look", "track"),
    ("arrive", "receive", "deliver", "delivery", "come"),
    ("cost", "fee", "price", "charge"),
    ("phone", "mobile", "cell"),
    ("broken", "faulty", "defective", "damaged", "fault"),
    ("quick", "quicker", "fast", "faster", "soon"),
    ("parcel", "package", "shipment"),
    ("cancel", "cancell", "cancelled"),
    ("money", "refund"),
    ("send", "ship", "dispatch"),
    ("wrong", "incorrect"),
    ("missing", "lost"),
    ("discount", "coupon", "promo", "voucher"),
    ("login", "log", "sign"),
    ("change", "modify", "update", "edit"),
    # Chinese: colloquial <-> formal (2-character words, one index token each)
    ("坏了", "故障", "损坏", "坏掉"),
    ("快递", "包裹", "物流"),
    ("退单", "取消"),
    ("过年", "春节"),
    ("没货", "缺货", "无货"),
    ("登陆", "登录"),
    ("拒签", "拒收"),
    ("签收", "收货"),
    ("多少", "费用", "收费"),
    ("邮费", "运费"),
    ("便宜", "优惠", "降价"),
    ("钱款", "退款"),
    ("寄回", "退回", "寄还"),
    ("发出", "发货", "出库"),
    ("丢了", "丢件", "丢失"),
    ("修改", "更改", "改成"),
    ("优惠", "折扣"),
    ("手机", "电话"),
    ("到账", "退回"),
    ("质保", "保修"),
    ("客服", "人工"),
    ("账号", "账户"),
    ("付款", "支付"),
    ("发票", "收据"),
)


@lru_cache(maxsize=1)
def synonyms() -> dict[str, frozenset[str]]:
    """index token -> the index tokens of its synonyms"""
    out: dict[str, set[str]] = {}
    for group in SYNONYM_GROUPS:
        toks = {stem(w) if w.isascii() else w for w in group}
        for t in toks:
            out.setdefault(t, set()).update(toks - {t})
    return {k: frozenset(v) for k, v in out.items()}


def normalize(text: str) -> str:
    """NFKC (full-width -> half-width), Traditional -> Simplified, lower case, no invisible characters."""
    if text.isascii():
        return _INVISIBLE_RE.sub("", text).lower()
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE_RE.sub("", text)
    if not _trad_chars().isdisjoint(text):
        text = text.translate(_simplify_table())
    return text.lower()


#: common Cantonese words -> Mandarin (after Traditional -> Simplified), so they match the FAQ's wording
CANTONESE: tuple[tuple[str, str], ...] = (
    ("点样", "怎么"),
    ("几时", "什么时候"),
    ("几耐", "多久"),
    ("几钱", "多少钱"),
    ("边度", "哪里"),
    ("边个", "哪个"),
    ("乜嘢", "什么"),
    ("咩", "什么"),
    ("唔该", "谢谢"),
    ("唔", "不"),
    ("冇", "没有"),
    ("嘅", "的"),
    ("咗", "了"),
    ("佢", "他"),
    ("俾", "给"),
    ("啲", "些"),
    ("喺", "在"),
    ("嚟", "来"),
    ("攞", "拿"),
    ("睇", "看"),
    ("揾", "找"),
)
_CANTONESE_RE = re.compile("|".join(re.escape(a) for a, _ in CANTONESE))
_CANTONESE_MAP = dict(CANTONESE)


def clean_query(text: str) -> str:
    """`normalize` plus removal of pasted noise (order numbers, phones, URLs) and greetings."""
    text = _NOISE_RE.sub(" ", normalize(text))
    text = _CANTONESE_RE.sub(lambda m: _CANTONESE_MAP[m.group()], text)
    return _GREETING_RE.sub(" ", text)


def detect_lang(text: str) -> Lang:
    """The customer's language: "zh" if the text has Chinese characters (even mixed with English)
    or reads as pinyin, else "en"."""
    norm = normalize(text)
    cjk = len(CJK_RE.findall(norm))
    if cjk:
        return "zh"
    words = re.findall(r"[a-z]+", norm)
    if words and all(w not in EN_STOP and pinyin_split(w) is not None for w in words):
        return "zh"
    return "en"


@lru_cache(maxsize=1)
def _simplify_table() -> dict[int, str]:
    """Traditional -> Simplified, character by character (zhconv's zh2Hans table, single characters only:
    a C-speed `str.translate` that gives the index and the query the same text)."""
    import importlib

    zhconv = importlib.import_module("zhconv.zhconv")  # untyped; only its data is used
    zhconv.loaddict(zhconv.DICTIONARY)
    pairs: dict[str, str] = zhconv.zhcdicts["zh2Hans"]
    return {ord(k): v for k, v in pairs.items() if len(k) == 1 and len(v) == 1 and k != v}


@lru_cache(maxsize=1)
def _trad_chars() -> frozenset[str]:
    """The characters the table would change (a C-speed test before the translation)."""
    return frozenset(chr(c) for c in _simplify_table())


# ---------------------------------------------------------------------------------------------- stemming
_VOWEL = re.compile("[aeiouy]")
#: a 3-letter consonant-vowel-consonant stem (not ending in w, x or y) lost its final e to -ing / -ed
_SHORT_CVC = re.compile("^[^aeiou][aeiouy][^aeiouwxy]$")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer (plural, -ed, -ing, -ly, final e), stable and idempotent."""
    w = word
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and _VOWEL.search(w[: -len(suffix)]):
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            elif suffix != "ly" and _SHORT_CVC.match(w):
                w += "e"  # cod|ing -> code, mak|ing -> make, siz|ing -> size (Porter 1b)
            break
    if w.endswith("e") and len(w) > 4:  # code stays code (not cod, which is cash on delivery)
        w = w[:-1]
    if w.endswith("y") and len(w) > 3:
        w = w[:-1] + "i"
    return w


# --------------------------------------------------------------------------------------------- segments
@lru_cache(maxsize=1)
def _jieba() -> Any:
    import importlib

    return importlib.import_module("rjieba")  # untyped Rust extension (jieba-rs)


def segment(run: str) -> list[str]:
    """Words of a run of Chinese characters (jieba, exact mode).
    Used on the query side only; the index keeps exact character bigrams."""
    return [w for w in _jieba().cut(run) if w.strip()]


def segment_all(text: str) -> list[str]:
    """Every word jieba finds in `text`, including the shorter words inside longer ones (search mode)."""
    return [w for w in _jieba().cut_for_search(text) if w.strip()]


def tag(run: str) -> list[tuple[str, str]]:
    """(word, part of speech) pairs of a run of Chinese characters (jieba tags: n noun, v verb, d adverb…)."""
    return [(w, t) for w, t in _jieba().tag(run) if w.strip()]


def is_word(text: str) -> bool:
    """Whether jieba's dictionary knows `text` (a real word, not a fragment across two words)."""
    return bool(_jieba().has_word(text))


# ----------------------------------------------------------------------------------------------- pinyin
@lru_cache(maxsize=1)
def _pinyin_table() -> dict[str, str]:
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[str, str] = {}
    for code, readings in pinyin_dict.items():
        first = readings.split(",")[0]
        plain = "".join(c for c in unicodedata.normalize("NFD", first) if not unicodedata.combining(c))
        table[chr(code)] = plain.replace("ü", "v")
    return table


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    return frozenset(_pinyin_table().values())


def char_pinyin(ch: str) -> str:
    return _pinyin_table().get(ch, ch)


@lru_cache(maxsize=4096)
def pinyin_split(word: str) -> tuple[str, ...] | None:
    """Split latin letters into pinyin syllables (`fapiao` -> (`fa`, `piao`)), or None if impossible.
    Prefers the fewest syllables, so `xian` stays one syllable."""
    if not word.isalpha() or len(word) > 40:
        return None
    sylls = _syllables()
    best: list[tuple[str, ...] | None] = [None] * (len(word) + 1)
    best[0] = ()
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            prev = best[start]
            piece = word[start:end]
            if prev is not None and piece in sylls:
                cand = (*prev, piece)
                cur = best[end]
                if cur is None or len(cand) < len(cur):
                    best[end] = cand
    return best[len(word)]


# ----------------------------------------------------------------------------------------------- tokens
@dataclass(frozen=True, slots=True)
class Token:
    text: str
    kind: str  # "zh" (CJK bigram/unigram), "en" (stemmed word), "num"
    start: int  # offsets into the normalised text the token came from
    end: int


def tokens(norm: str) -> Iterator[Token]:
    """Index/query tokens of already-normalised text, with their offsets."""
    for m in _TOKEN_RE.finditer(norm):
        if m.group(1):
            run, base = m.group(1), m.start(1)
            if len(run) == 1:
                yield Token(run, "zh", base, base + 1)
            for i in range(len(run) - 1):
                yield Token(run[i : i + 2], "zh", base + i, base + i + 2)
        else:
            word = m.group(2)
            kind = "num" if word.isdigit() else "en"
            yield Token(stem(word) if kind == "en" else word, kind, m.start(2), m.end(2))


def pinyin_tokens(norm: str) -> Iterator[Token]:
    """Pinyin bigram tokens of the CJK runs (`运费` -> `yunfei`)."""
    for m in CJK_RE.finditer(norm):
        i = m.start()
        if i + 1 < len(norm) and CJK_RE.match(norm[i + 1]):
            yield Token(char_pinyin(norm[i]) + char_pinyin(norm[i + 1]), "py", i, i + 2)


def index_string(text: str, *, pinyin: bool = False, normalized: bool = False) -> str:
    """The space-separated token string stored in an FTS5 column (same tokens as `tokens`, faster).
    `normalized=True` skips `normalize` for text that already went through it."""
    norm = text if normalized else normalize(text)
    out: list[str] = []
    if pinyin:
        table = _pinyin_table()
        for run in _CJK_RUN_RE.findall(norm):
            sy = [table.get(c, c) for c in run]
            out.extend(map(str.__add__, sy, sy[1:]))
        return " ".join(out)
    for cjk, word in _TOKEN_RE.findall(norm):
        if cjk:
            if len(cjk) == 1:
                out.append(cjk)
            else:
                out.extend(map(str.__add__, cjk, cjk[1:]))
        elif word.isdigit():
            out.append(word)
        else:
            out.append(stem(word))
    return " ".join(out)
