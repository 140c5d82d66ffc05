"""The customer's language: Chinese has no spaces, so long Chinese text is text, not pasted noise."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentdesk.ai import Conversation, DraftEngine
from agentdesk.ai.prompt import build_prompt
from agentdesk.ai.retrieval import search_queries
from agentdesk.ai.text import clean, conversation_lang, detect_lang, drop_noise, truncate
from agentdesk.ai.triage import triage
from agentdesk.faq.model import FaqHit

HitsFor = Callable[[Conversation], list[FaqHit]]

LONG_ZH = "我上周三在你们这买了一个吹风机，付了五百九十九块，今天刷到同一个型号同一个颜色只要五百二十九了，这个差价能退给我吗"
LONG_ZH_TRADITIONAL = (
    "我上個月在你們這裡買的電飯煲已經壞了兩次，每次送修都要等很久，請問這種情況可以直接換一台新的嗎？謝謝"
)
LONG_CANTONESE = (
    "我琴日喺你哋度買咗部吸塵機，今日收到嘅時候發現個盒爛晒，入面部機都花咗，我想問下可唔可以換過部新嘅"
)
JUNK = "ERR_PAYMENT_TIMEOUT;" * 250  # 5,000 characters without a space


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        pytest.param(LONG_ZH, "zh", id="long-zh"),
        pytest.param(LONG_ZH * 5, "zh", id="300-char-zh-sentence"),
        pytest.param(LONG_ZH_TRADITIONAL, "zh", id="traditional"),
        pytest.param(LONG_CANTONESE, "zh", id="cantonese"),
        # mixed: Chinese carries the text
        pytest.param("我的order还没ship，已经等了五天了，what happened？能帮我看看物流吗", "zh", id="mixed"),
        pytest.param(f"{JUNK} 支付一直失败怎么办", "zh", id="junk-beside-zh"),
        pytest.param(f"{JUNK}支付一直失败怎么办", "zh", id="junk-glued-to-zh"),
        pytest.param("fapiao zenme kai", "zh", id="pinyin"),  # toneless pinyin: the customer reads Chinese
        pytest.param("wo de kuaidi dao nali le", "zh", id="pinyin-sentence"),
        pytest.param("tuihuo yunfei shei chu", "zh", id="pinyin-one-unknown-syllable"),
        pytest.param("How do I change my order?", "en", id="en"),
        pytest.param("Can he change the address", "en", id="en-pinyin-like-words"),
        pytest.param(f"{JUNK} how do I pay with PayPal?", "en", id="junk-beside-en"),
        pytest.param("Refund please https://example.com/" + "a" * 80 + " 谢", "en", id="en-long-url"),
        pytest.param("😀😀😀", "en", id="emoji-only"),
        pytest.param("", "en", id="empty"),
    ],
)
def test_detect_lang(text: str, lang: str) -> None:
    assert detect_lang(text) == lang


def test_noise_is_latin_script_junk_only() -> None:
    assert drop_noise(LONG_ZH) == LONG_ZH
    assert drop_noise(f"{JUNK}退款").strip() == "退款"
    assert drop_noise("see https://example.com/" + "x" * 60 + " ok").split() == ["see", "ok"]


def test_long_chinese_conversation_gets_a_chinese_offline_draft(hits_for: HitsFor) -> None:
    conv = Conversation.of_texts(
        LONG_ZH, "还有，如果差价能退的话，会退到哪里？是原路退回还是退到钱包里面去呢，麻烦告诉我一下"
    )
    assert conversation_lang(conv) == "zh"
    hits = hits_for(conv)
    assert hits, "a long Chinese question is searched, not dropped as noise"
    result = DraftEngine().offline(conv, hits)
    assert result.language == "zh" and result.text.startswith("您好")


def test_long_chinese_is_searched_and_sent_whole() -> None:
    conv = Conversation.of_texts(LONG_ZH * 3)
    whole = clean(LONG_ZH * 3)  # NFKC: full-width commas become ASCII
    assert whole in search_queries(conv)
    assert truncate(whole) == whole  # under the 600-character cap: not cut after 120 characters
    assert truncate("x" * 300).endswith("…[truncated]")
    prompt = build_prompt(conv, [], language="zh", triage=triage(conv), tone=None, canary="NW-test")
    assert whole in prompt.messages[1]["content"]


def test_junk_line_then_a_chinese_question(hits_for: HitsFor) -> None:
    conv = Conversation.of_texts(JUNK, "上面是app报的错，付款一直失败")
    assert conversation_lang(conv) == "zh"
    assert DraftEngine().offline(conv, hits_for(conv)).language == "zh"
