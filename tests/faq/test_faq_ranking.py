"""Ranking behaviours on small FAQs written for these tests (not the shared data): Chinese homophone typos,
English phrasal verbs, cross-word fragments, and the no-answer decision for a topic the FAQ never mentions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentdesk.faq import query
from agentdesk.faq.lexicon import parse
from agentdesk.faq.model import FaqEntry
from agentdesk.faq.query import analyse, homophone_fix, rewrite_phrasal
from agentdesk.faq.store import FaqStore

ENTRIES = [
    FaqEntry("t-01", "refunds", "退款多久到账？", "How long does a refund take?", "原路退回，1-3个工作日。",
             "Back to the original method in 1-3 business days.", ("退款", "refund")),
    FaqEntry("t-02", "membership", "会员一年多少钱？", "How much is the membership?", "会员每年198元。",
             "The membership is 198 a year.", ("会员", "membership")),
    FaqEntry("t-03", "product", "可以免费试用吗？", "Is there a free trial?", "新会员可以免费试用7天。",
             "New members get a 7-day free trial.", ("试用", "trial")),
    FaqEntry("t-04", "returns", "怎么申请退货？", "How do I request a return?", "在我的订单 > 申请售后里提交退货申请。",
             "Open My Orders > After-sales and submit a return request.", ("退货", "return")),
    FaqEntry("t-05", "returns", "什么情况下可以只退款不退货？", "When can I get a refund without sending the item back?",
             "商品丢失或者严重损坏时，可以只退款。", "If the parcel was lost or badly damaged, we refund without a return.",
             ("仅退款", "refund only")),
    FaqEntry("t-06", "payment", "PayPal付款的退款多久能到？", "How long does a PayPal refund take?",
             "PayPal退款3-5个工作日到账。", "PayPal refunds take 3-5 business days.", ("PayPal",)),
    FaqEntry("t-07", "shipping", "有次日达吗？加急怎么收费？", "Is there next-day delivery, and what does express cost?",
             "部分城市23点前付款次日送达，加收15元。", "Selected cities: pay before 23:00, delivered next day for 15 more.",
             ("次日达", "加急", "next-day")),
    FaqEntry("t-08", "shipping", "运费怎么算？", "How is the shipping fee calculated?", "满99元包邮，否则8元。",
             "Free from 99, otherwise 8.", ("运费", "shipping fee")),
]  # fmt: skip


@pytest.fixture(scope="module")
def store() -> Iterator[FaqStore]:
    s = FaqStore.open(":memory:")
    s.upsert(ENTRIES)
    yield s
    s.close()


def top(store: FaqStore, query: str) -> list[str]:
    return [h.id for h in store.search(query, limit=5).hits]


def test_homophone_typo_is_rewritten_to_the_word_the_faq_uses(store: FaqStore) -> None:
    # 宽 (kuan) for 款: not a word, not in the index, same pinyin as a word of the FAQ
    assert homophone_fix(store, "退宽要多久") == ("退款要多久", {"退宽": "退款"})
    res = store.search("退宽要多久")
    assert res.hits[0].id == "t-01"
    assert res.suggestion == "退款要多久"
    assert top(store, "运废怎么算")[0] == "t-08"


def test_a_fragment_across_two_words_is_not_a_typo(store: FaqStore) -> None:
    # 时用 (shiyong) sounds like 试用, which the FAQ has, but here it is 当时|用, two words
    assert homophone_fix(store, "当时用微信付的钱") == ("当时用微信付的钱", {})
    # a real word is never rewritten, even when the FAQ has a homophone of it
    assert homophone_fix(store, "食用方法") == ("食用方法", {})


def test_english_phrasal_verb_becomes_the_faq_word(store: FaqStore) -> None:
    assert rewrite_phrasal("can i send the shoes back") == "can i return the shoes"
    assert rewrite_phrasal("take it back please") == "return it please"
    assert rewrite_phrasal("my money came back") == "my money came back"  # not a phrasal verb of the list
    assert top(store, "how do I send these shoes back")[0] == "t-04"


def test_a_rare_fragment_across_two_words_weighs_no_more_than_the_words(
    store: FaqStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 能到 (多久|能|到) occurs in one entry only, so its IDF is the highest of the query; it is a fragment
    # across words, and it must not outweigh the query's real words (退款). Without the lexicon, which would
    # take the whole message for one concept (how long a refund takes)
    monkeypatch.setattr(query, "lexicon", lambda: parse(""))
    an = analyse(store, "退款多久能到")
    weights = {u.text: u.weight for u in an.units}
    kinds = {u.text: u.kind for u in an.units}
    assert kinds["能到"] == "cross"
    # the real words: in-word bigrams, or the lexicon concept they belong to (退款多久)
    words = [u.weight for u in an.units if u.kind in {"zh", "concept"} and u.weight > 0]
    assert words
    assert weights["能到"] <= sum(words) / len(words) + 1e-9
    assert weights["能到"] <= max(words)


def test_no_answer_for_a_topic_the_faq_never_mentions(store: FaqStore) -> None:
    res = store.search("你们卖汽车轮胎吗")
    assert res.hits == ()
    assert top(store, "会员多少钱")[0] == "t-02"
