"""The support-domain lexicon: the parser (clear errors naming the line), the matching rules, and what the
concepts and instance words change in search (on small FAQs written here, plus the shipped file itself)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentdesk.faq.lexicon import LexiconError, lexicon, parse
from agentdesk.faq.model import FaqEntry
from agentdesk.faq.query import analyse
from agentdesk.faq.store import FaqStore
from agentdesk.faq.text import normalize

SMALL = """
# a comment
[concepts]
refuse_delivery: 拒收, 拒签, 不签收, refuse delivery, refuse the parcel
return_item: 退货, 寄回, 退回去, return, send back
no_reason: 七天无理由, 7天无理由, no reason
[instances]
显示器, 耳机, airpods, monitor
"""


def test_parse_builds_concepts_and_instances() -> None:
    lex = parse(SMALL)
    # English terms are kept as their stems (the form the index has)
    assert lex.concepts["refuse_delivery"] == ("拒收", "拒签", "不签收", "refus deliveri", "refus the parcel")
    assert lex.zh["拒签"] == "refuse_delivery"
    assert lex.en[("refus", "deliveri")] == "refuse_delivery"  # stored as stems
    assert lex.mixed == {"7天无理由": "no_reason"}
    assert "显示器" in lex.inst_zh and ("airpod",) in lex.inst_en


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("refund: 退款", "line 1: text before a [concepts] or [instances] section"),
        ("[concepts]\nRefund: 退款", "line 2: expected 'concept_id: term, term'"),
        ("[concepts]\nrefund 退款", "line 2: expected 'concept_id: term, term'"),
        ("[concepts]\nrefund: 退", "line 2: Chinese term '退' has fewer than 2 characters"),
        ("[concepts]\nrefund: 退款\nrefund: 退钱", "line 3: concept 'refund' defined twice"),
        ("[concepts]\nrefund: ,", "line 2: concept 'refund' has no terms"),
        ("[concepts]\nrefund: 退款!!", "line 2: term '退款!!' is not Chinese, plain English or a simple mix"),
    ],
)
def test_a_malformed_lexicon_names_the_line(text: str, message: str) -> None:
    with pytest.raises(LexiconError) as err:
        parse(text)
    assert str(err.value) == message


def test_matching_is_longest_first_and_never_overlaps() -> None:
    lex = parse("[concepts]\nreturn: 退货, 退货运费\nfee: 运费, shipping fee\ncard: 银行卡\n")
    got = [(m.surface, m.key) for m in lex.find(normalize("退货运费谁出？shipping fees 银行卡"))]
    assert got == [("退货运费", "return"), ("shipping fees", "fee"), ("银行卡", "card")]


def test_english_terms_match_whole_stemmed_words_only() -> None:
    lex = parse("[concepts]\nreturn: return, send back\n")
    assert [m.surface for m in lex.find("i returned it and sent back the box")] == ["returned"]
    assert [m.surface for m in lex.find("please send it back")] == []  # not the phrase "send back"
    assert [m.surface for m in lex.find("send back")] == ["send back"]
    assert lex.find("returnable") == []


def test_a_concept_term_is_never_an_instance() -> None:
    lex = parse("[concepts]\nbig_appliance: 空调\n[instances]\n空调, 耳机\n")
    assert lex.inst_zh == {"耳机"}


def test_the_shipped_lexicon_parses_and_is_sane() -> None:
    lex = lexicon()
    assert len(lex.concepts) >= 200
    terms = [t for ts in lex.concepts.values() for t in ts]
    assert len(terms) >= 2000
    # the FAQ's key 2-character terms are concepts, and no term means two concepts
    for term in ("退款", "发票", "运费", "保修", "积分", "拒收", "换货"):
        assert term in lex.zh, term
    seen: dict[str, str] = {}
    for cid, ts in lex.concepts.items():
        for t in ts:
            assert seen.setdefault(t, cid) == cid, f"{t!r} in {seen[t]} and {cid}"


ENTRIES = [
    FaqEntry("t-01", "shipping", "拒收之后多久能退款？", "If I refuse a delivery, how soon is the refund?",
             "拒收的包裹退回仓库后自动退款。", "Once the refused parcel is back in the warehouse we refund.",
             ("拒收", "refuse delivery")),
    FaqEntry("t-02", "shipping", "快递柜的包裹多久不取会被退回？", "How long can a parcel stay in a locker?",
             "快递柜保留72小时，超时退回。", "Lockers hold parcels for 72 hours, then send them back.",
             ("快递柜", "locker")),
    FaqEntry("t-03", "returns", "怎么申请退货？", "How do I request a return?", "在我的订单 > 申请售后里提交。",
             "Open My Orders > After-sales and submit a return request.", ("申请退货", "how to return")),
    FaqEntry("t-04", "warranty", "保修期是多久？", "How long is the warranty?", "主机保修一年，配件六个月。",
             "The main unit has a 1-year warranty, accessories 6 months.", ("保修", "warranty")),
]  # fmt: skip


@pytest.fixture(scope="module")
def store() -> Iterator[FaqStore]:
    s = FaqStore.open(":memory:")
    s.upsert(ENTRIES)
    yield s
    s.close()


def top(store: FaqStore, query: str) -> list[str]:
    return [h.id for h in store.search(query, limit=3).hits]


def test_a_customer_word_meets_the_faq_word(store: FaqStore) -> None:
    """拒签 is not in the FAQ; the concept brings its 拒收."""
    assert top(store, "快递我拒签了，多久退款")[:1] == ["t-01"]


def test_english_meets_chinese_through_a_concept(store: FaqStore) -> None:
    an = analyse(store, "我想send back这个耳机")
    (unit,) = [u for u in an.units if u.kind == "concept"]
    assert unit.concept == "return_item"
    assert any(tok == "退货" for tok, _, _ in unit.alts)
    assert top(store, "我想send back这个耳机")[:1] == ["t-03"]


def test_an_instance_word_weighs_little(store: FaqStore) -> None:
    """A product the FAQ never names does not sink the confidence of a question it answers."""
    plain = store.search("保修期多久")
    with_product = store.search("我的AirPods保修期多久")
    with_unknown = store.search("我的Zorblax保修期多久")  # a word the FAQ and the lexicon do not know
    assert with_product.hits and with_product.hits[0].id == "t-04"
    assert with_product.best_score >= 0.6 * plain.best_score
    assert with_product.best_score > with_unknown.best_score + 0.15


def test_an_uncovered_topic_word_still_means_no_answer(store: FaqStore) -> None:
    """The same question shape about something the FAQ does not cover (not an instance) gets no answer."""
    assert store.search("你们的客服是外包的吗").hits == ()


def test_an_english_instance_word_is_discounted_once(store: FaqStore) -> None:
    from agentdesk.faq.query import INSTANCE_W, UNKNOWN_EN, idf

    an = analyse(store, "airpods warranty")
    (unit,) = [u for u in an.units if u.text == "airpod"]
    assert unit.weight == pytest.approx(idf(0, store.count()) * UNKNOWN_EN * INSTANCE_W)
