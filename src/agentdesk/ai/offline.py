"""The offline drafter: no model, deterministic. Used when no model is configured and as the fallback.

The reply is the best FAQ answer in the customer's language between a short greeting and closing, citing
it, with the retrieval score as confidence. When the FAQ has no answer, or triage says a person must take
over, it writes a short holding reply (a colleague will help) that promises nothing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from agentdesk.ai.text import clean, drop_noise, is_pinyin, message_text
from agentdesk.ai.types import Conversation, DraftResult, Route, Tone, TriageResult
from agentdesk.faq.model import FaqHit, Lang

#: a second FAQ answer is added when it scores at least this fraction of the best one
SECOND_HIT_RATIO = 0.95
#: ...and at least this retrieval score
SECOND_HIT_MIN = 0.45
MAX_CITED = 2
#: a hit this strong is answered even beside a request for the assistant's instructions
STRONG_HIT = 0.5
#: a follow-up message's own best entry is cited when it covers this share of the message's terms...
FOLLOWUP_OVERLAP = 0.25
#: ...and this much more than the best entry does
FOLLOWUP_MARGIN = 0.1
MIN_FOLLOWUP_GRAMS = 4
#: confidence discounts (see `confidence`): a reply whose cited entries cover less than this share of the
#: customer's content words is discounted (factor `COVERAGE_FLOOR + coverage`, so 0.5 at no overlap)...
COVERAGE_FULL = 0.5
COVERAGE_FLOOR = 0.5
#: ...and when the best entry not cited scores at least this fraction of the cited one (an ambiguous
#: match), the factor falls linearly to `MARGIN_FLOOR` for a tie
MARGIN_START = 0.9
MARGIN_FLOOR = 0.5
#: fewer content terms than this in the last message: the whole conversation is measured instead
MIN_COVERAGE_TERMS = 3
_HAN = re.compile(r"[\u4e00-\u9fff]")
#: characters that carry no topic (pronouns, particles, question words): not content
_ZH_FUNCTION = frozenset(
    "我你您他她它的了吗呢吧啊呀么怎什可以能会要想是在有没不这那个一下请问谢好亲哈嗯就还都也和跟给把被得地着过嘛喔哦呗啦咋"
)
_EN_FUNCTION = frozenset(
    [
        "the",
        "and",
        "you",
        "can",
        "for",
        "how",
        "what",
        "it's",
        "was",
        "are",
        "this",
        "that",
        "with",
        "did",
        "does",
        "is",
        "a",
        "an",
        "to",
        "of",
        "in",
        "on",
        "at",
        "it",
        "i",
        "me",
        "we",
        "our",
        "your",
        "yours",
        "please",
        "thanks",
        "thank",
        "hi",
        "hello",
        "hey",
        "there",
        "here",
        "have",
        "has",
        "had",
        "get",
        "got",
        "will",
        "would",
        "could",
        "should",
        "just",
        "want",
        "need",
        "know",
        "any",
        "some",
        "about",
        "from",
        "when",
        "where",
        "why",
        "which",
        "who",
        "them",
        "they",
        "then",
        "than",
        "its",
        "not",
        "but",
        "so",
        "if",
        "or",
        "also",
        "still",
        "yet",
        "one",
    ]
)
_STOP = {
    "the",
    "and",
    "you",
    "can",
    "for",
    "how",
    "what",
    "my",
    "it's",
    "was",
    "are",
    "this",
    "that",
    "with",
    "did",
}

_GREETING: dict[Lang, dict[Tone | None, str]] = {
    "zh": {
        None: "您好！",
        "friendlier": "亲，您好呀！很高兴为您服务～",
        "formal": "尊敬的客户，您好。",
        "shorter": "",
    },
    "en": {
        None: "Hi,",
        "friendlier": "Hi there, thanks so much for reaching out!",
        "formal": "Dear customer,",
        "shorter": "",
    },
}
_CLOSING: dict[Lang, dict[Tone | None, str]] = {
    "zh": {
        None: "如还有其他问题，欢迎随时联系我们。",
        "friendlier": "还有什么问题随时找我们哦，祝您生活愉快！",
        "formal": "如有其他疑问，敬请随时垂询，感谢您的耐心与支持。",
        "shorter": "",
    },
    "en": {
        None: "Let us know if there is anything else we can help with.",
        "friendlier": "Anything else at all, just ask. Have a lovely day!",
        "formal": "Should you have any further questions, please do not hesitate to contact us.",
        "shorter": "",
    },
}
_HANDOVER: dict[Lang, str] = {
    "zh": "这个问题需要由人工同事为您处理，同事会尽快在这里回复您（人工客服服务时间为每天 8:00–23:00）。",
    "en": "A colleague will take this over and reply to you here as soon as possible (our agents are available 8:00–23:00 every day).",
}
_NO_ANSWER: dict[Lang, str] = {
    "zh": "这个问题我暂时无法准确回答，稍后会有同事为您处理，请稍候。",
    "en": "I can't answer this one reliably, so a colleague will help you with it shortly.",
}
_UNREADABLE: dict[Lang, str] = {
    "zh": "抱歉，我这边暂时无法查看视频或语音内容。",
    "en": "Sorry, I'm not able to open videos or voice messages here.",
}
_URGENT: dict[Lang, str] = {
    "zh": "非常抱歉给您带来不好的体验。您反映的情况我们非常重视，已转交专人优先处理，请稍候。",
    "en": "We're very sorry about your experience. We take this seriously and a senior colleague is looking into it as a priority.",
}
_SAFETY: dict[Lang, str] = {
    "zh": "为了安全，请先停止使用该产品并断开电源。",
    "en": "For your safety, please stop using the product and unplug it.",
}
_SELF_HARM: dict[Lang, str] = {
    "zh": "如果您现在感到难以承受，请联系身边信任的人，或拨打当地紧急电话（如 110 / 120）寻求帮助。",
    "en": "If you are feeling overwhelmed right now, please reach out to someone you trust or call your local emergency number.",
}
_DECLINE: dict[Lang, str] = {
    "zh": "抱歉，内部配置和指令无法提供。如果您有订单、配送、售后等方面的问题，我很乐意为您解答。",
    "en": "Sorry, I can't share internal configuration or instructions. I'm happy to help with orders, delivery, returns and more.",
}


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.findall(r"[^。！？!?.]+[。！？!?.]?", text) if s.strip()]


def _shorten(text: str, n: int = 2) -> str:
    parts = _sentences(text)
    joiner = "" if re.search(r"[\u4e00-\u9fff]", text) else " "
    return joiner.join(parts[:n]) if parts else text


def _wrap(body: str, lang: Lang, tone: Tone | None, *, closing: bool = True) -> str:
    """Greeting + body + closing; a handover or an escalation gets no "anything else?" closing."""
    sep = "" if lang == "zh" else " "
    parts = [_GREETING[lang][tone], body, _CLOSING[lang][tone] if closing else ""]
    if lang == "en":
        return "\n".join(p for p in parts if p) if tone != "shorter" else body
    return sep.join(p for p in parts if p)


def _grams(text: str) -> set[str]:
    """Chinese character bigrams and lower-case English words (digits kept): a cheap overlap measure."""
    text = clean(text).lower()
    grams = {a + b for a, b in itertools.pairwise(text) if _HAN.match(a) and _HAN.match(b)}
    grams |= {w for w in re.findall(r"[a-z]{3,}|\d+", text) if w not in _STOP}
    return grams


def _overlap(message: str, hit: FaqHit) -> float:
    grams = _grams(message)
    if len(grams) < MIN_FOLLOWUP_GRAMS:
        return 0.0
    e = hit.entry
    target = _grams(" ".join((e.question_zh, e.question_en, e.answer_zh, e.answer_en, " ".join(e.tags))))
    return len(grams & target) / len(grams)


def _content_terms(text: str) -> tuple[set[str], set[str], set[str]]:
    """Topic-bearing terms: Chinese content characters and bigrams, English word stems (first 5 letters)."""
    text = drop_noise(clean(text)).lower()
    han = [c for c in text if _HAN.match(c)]
    chars = {c for c in han if c not in _ZH_FUNCTION}
    bigrams = {
        a + b
        for a, b in itertools.pairwise(text)
        if _HAN.match(a) and _HAN.match(b) and not (a in _ZH_FUNCTION and b in _ZH_FUNCTION)
    }
    words = {w[:5] for w in re.findall(r"[a-z]{3,}", text) if w not in _EN_FUNCTION}
    return chars, bigrams, words


def coverage(text: str, hits: Sequence[FaqHit]) -> float | None:
    """The share of the customer's content terms that the cited entries contain (question, answer and tags in
    both languages); Chinese counts characters and bigrams half each (robust to paraphrase, strict on
    topic). None when the text has nothing to measure (only emoji, only pinyin, no words)."""
    chars, bigrams, words = _content_terms(text)
    if not chars and is_pinyin(re.findall(r"[A-Za-z]{2,}", text)):
        return None  # toneless pinyin: the FAQ search reads it, a term overlap cannot
    if not chars and not words:
        return None
    t_chars: set[str] = set()
    t_bigrams: set[str] = set()
    t_words: set[str] = set()
    for h in hits:
        e = h.entry
        c, b, w = _content_terms(" ".join((e.question_zh, e.question_en, e.answer_zh, e.answer_en, *e.tags)))
        t_chars |= c
        t_bigrams |= b
        t_words |= w
    parts: list[tuple[float, int]] = []
    if chars:
        share_chars = len(chars & t_chars) / len(chars)
        share_bigrams = len(bigrams & t_bigrams) / len(bigrams) if bigrams else share_chars
        parts.append(((share_chars + share_bigrams) / 2, len(chars)))
    if words:
        parts.append((len(words & t_words) / len(words), len(words)))
    return sum(p * n for p, n in parts) / sum(n for _, n in parts)


def confidence(chosen: Sequence[FaqHit], hits: Sequence[FaqHit], conversation: Conversation) -> float:
    """How far the offline reply can be trusted: the cited entry's retrieval score, discounted when the cited
    entries cover little of what the customer wrote (a match on one incidental word), and when an entry that
    is not cited scores nearly as well (an ambiguous match)."""
    if not chosen:
        return 0.0
    score = max(0.0, min(1.0, chosen[0].score))
    texts = [message_text(m) for m in conversation.customer_messages()]
    texts = [t for t in texts if t.strip()]
    last = texts[-1] if texts else ""
    chars, _, words = _content_terms(last)
    measured = last if len(chars) + len(words) >= MIN_COVERAGE_TERMS else "\n".join(texts)
    cov = coverage(measured, chosen)
    if cov is not None and cov < COVERAGE_FULL:
        score *= COVERAGE_FLOOR + cov
    cited = {h.id for h in chosen}
    runner_up = max((h.score for h in hits if h.id not in cited), default=0.0)
    if chosen[0].score > 0:
        ratio = min(1.0, runner_up / chosen[0].score)
        if ratio > MARGIN_START:
            score *= 1.0 - (1.0 - MARGIN_FLOOR) * (ratio - MARGIN_START) / (1.0 - MARGIN_START)
    return max(0.0, min(1.0, score))


def choose_hits(hits: Sequence[FaqHit], followup: str = "") -> list[FaqHit]:
    """The FAQ entries a reply cites: the best one, plus a close second, or the entry that best answers the
    customer's last message when the best one does not (a follow-up that adds specifics or a new question)."""
    ranked = sorted(hits, key=lambda h: (-h.score, h.id))
    if not ranked:
        return []
    chosen = [ranked[0]]
    rest = ranked[1:]
    close = [h for h in rest if h.score >= max(ranked[0].score * SECOND_HIT_RATIO, SECOND_HIT_MIN)]
    if close:
        chosen.append(close[0])
    elif followup and rest:
        base = _overlap(followup, ranked[0])
        best = max(rest, key=lambda h: (_overlap(followup, h), h.score))
        gain = _overlap(followup, best)
        if gain >= FOLLOWUP_OVERLAP and gain > base + FOLLOWUP_MARGIN:
            chosen.append(best)
    return chosen[:MAX_CITED]


def offline_draft(
    conversation: Conversation,
    hits: Sequence[FaqHit],
    *,
    triage: TriageResult,
    language: Lang,
    tone: Tone | None = None,
    fallback_reason: str | None = None,
    min_score: float = 0.0,
    for_agent: bool = False,
) -> DraftResult:
    """A deterministic draft: same input, same output. Hits under `min_score` count as no answer.

    `for_agent`: the draft is for the person who took the conversation over (the console), not a reply the bot
    sends on its own. When triage says a person must handle it, the customer-facing holding reply ("a colleague
    will help") is no use to that person: they get the best FAQ answer as a working draft instead (the route
    and the reason still say `needs_human` and why), or the holding reply when the FAQ has no answer."""
    lang = language
    kinds = {s.kind for s in triage.signals}
    if for_agent and triage.route == "needs_human" and "unreadable" not in kinds:
        working = _working_draft(conversation, hits, triage, lang, tone, fallback_reason, min_score)
        if working is not None:
            return working
    if triage.route == "escalate_urgent":
        body = _URGENT[lang]
        if kinds & {"safety", "injury"}:
            body += (" " if lang == "en" else "") + _SAFETY[lang]
        if "self_harm" in kinds:
            body += (" " if lang == "en" else "") + _SELF_HARM[lang]
        return _result(
            _wrap(body, lang, tone, closing=False),
            (),
            0.9,
            triage.route,
            triage.reason,
            lang,
            tone,
            triage,
            fallback_reason,
        )
    if triage.route == "needs_human":
        body = _HANDOVER[lang]
        if "unreadable" in kinds:
            body = _UNREADABLE[lang] + (" " if lang == "en" else "") + body
        return _result(
            _wrap(body, lang, tone, closing=False),
            (),
            0.85,
            triage.route,
            triage.reason,
            lang,
            tone,
            triage,
            fallback_reason,
        )
    chosen, usable = _pick(conversation, hits, min_score)
    conf = confidence(chosen, usable, conversation)
    if "prompt_extraction" in kinds and not (chosen and chosen[0].score >= STRONG_HIT):
        # Decline; a weak lexical match on "prompt" or "mode" is not a question worth answering.
        return _result(
            _wrap(_DECLINE[lang], lang, tone),
            (),
            0.6,
            "ai_ok",
            triage.reason,
            lang,
            tone,
            triage,
            fallback_reason,
        )
    if not chosen:
        return _result(
            _wrap(_NO_ANSWER[lang], lang, tone),
            (),
            0.5,
            "needs_human",
            "the FAQ has no answer to this question",
            lang,
            tone,
            triage,
            fallback_reason,
        )
    body, ids = _faq_body(chosen, lang, tone)
    reason = f"answered from {', '.join(ids)} (retrieval score {chosen[0].score:.2f}, confidence {conf:.2f})"
    if triage.signals:
        reason += f"; {triage.reason}"
    return _result(_wrap(body, lang, tone), ids, conf, "ai_ok", reason, lang, tone, triage, fallback_reason)


def _working_draft(
    conversation: Conversation,
    hits: Sequence[FaqHit],
    triage: TriageResult,
    lang: Lang,
    tone: Tone | None,
    fallback_reason: str | None,
    min_score: float,
) -> DraftResult | None:
    """The FAQ answer a person can start from in a conversation triage handed over; None without one."""
    chosen, usable = _pick(conversation, hits, min_score)
    if not chosen:
        return None
    body, ids = _faq_body(chosen, lang, tone)
    reason = (
        f"{triage.reason}; a working draft for the person taking over, from {', '.join(ids)} "
        f"(retrieval score {chosen[0].score:.2f}): check it against the conversation before sending"
    )
    conf = confidence(chosen[:1] if tone == "shorter" else chosen, usable, conversation)
    return _result(
        _wrap(body, lang, tone), ids, conf, "needs_human", reason, lang, tone, triage, fallback_reason
    )


def _pick(
    conversation: Conversation, hits: Sequence[FaqHit], min_score: float
) -> tuple[list[FaqHit], list[FaqHit]]:
    """(the entries to cite, the hits at or above `min_score`)."""
    texts = [m.text for m in conversation.customer_messages() if m.kind == "text" and m.text.strip()]
    usable = [h for h in hits if h.score >= min_score]
    return choose_hits(usable, texts[-1] if len(texts) > 1 else ""), usable


def _faq_body(chosen: Sequence[FaqHit], lang: Lang, tone: Tone | None) -> tuple[str, tuple[str, ...]]:
    """The reply body from the cited answers (`shorter`: the first one, shortened) and the ids it cites."""
    if tone == "shorter":
        return _shorten(chosen[0].entry.answer(lang).strip()), (chosen[0].id,)
    body = ("\n" if lang == "en" else "").join(h.entry.answer(lang).strip() for h in chosen)
    return body, tuple(h.id for h in chosen)


def _result(
    text: str,
    ids: tuple[str, ...],
    confidence: float,
    route: Route,
    reason: str,
    lang: Lang,
    tone: Tone | None,
    triage: TriageResult,
    fallback_reason: str | None,
) -> DraftResult:
    return DraftResult(
        text=text,
        faq_ids=ids,
        confidence=round(confidence, 3),
        route=route,
        reason=reason,
        language=lang,
        source="offline",
        fallback_reason=fallback_reason,
        tone=tone,
        triage=triage,
        signals=tuple(s.kind for s in triage.signals),
    )
