"""The offline drafter (deterministic, tones, honest when the FAQ has no answer) and draft fate records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers_ai import DATA, DEV, DEV_BY_ID

from agentdesk.ai import Conversation, DraftEngine
from agentdesk.ai.fate import FateStore, edit_distance
from agentdesk.ai.guards import check_output
from agentdesk.faq.importers import load_jsonl
from agentdesk.faq.model import FaqHit

HitsFor = Callable[[Conversation], list[FaqHit]]


@pytest.mark.parametrize("case", DEV, ids=[d["id"] for d in DEV])
def test_offline_is_deterministic_and_safe(case: dict[str, object], hits_for: HitsFor) -> None:
    conv = Conversation.from_script(case)
    hits = hits_for(conv)
    first = DraftEngine().offline(conv, hits)
    again = DraftEngine().offline(conv, list(hits))
    assert first == again
    assert first.source == "offline" and 0.0 <= first.confidence <= 1.0
    assert set(first.faq_ids) <= {h.id for h in hits}
    faq = [h.entry.answer(first.language) for h in hits]
    assert check_output(first.text, faq_texts=faq) == []


def test_reply_is_the_best_faq_answer_in_the_customers_language(hits_for: HitsFor) -> None:
    conv = Conversation.from_script(DEV_BY_ID["cvd-021"])  # expired coupon, Chinese
    hits = hits_for(conv)
    result = DraftEngine().offline(conv, hits)
    assert result.language == "zh" and result.faq_ids[0] == hits[0].id
    assert hits[0].entry.answer_zh in result.text and result.text.startswith("您好")
    # confidence is the retrieval score, discounted only for weak coverage or an ambiguous runner-up
    assert 0.0 < result.confidence <= round(hits[0].score, 3)


def test_no_faq_answer_hands_over(hits_for: HitsFor) -> None:
    conv = Conversation.of_texts("你们仓库在哪个城市？我想自己去提货")
    result = DraftEngine().offline(conv, [])
    assert result.route == "needs_human" and result.faq_ids == ()
    assert "同事" in result.text and "FAQ has no answer" in result.reason


def test_prompt_extraction_is_declined_politely(hits_for: HitsFor) -> None:
    conv = Conversation.from_script(DEV_BY_ID["cvd-028"])
    result = DraftEngine().offline(conv, hits_for(conv))
    assert result.route == "ai_ok" and "无法提供" in result.text


def test_urgent_holding_reply_promises_nothing(hits_for: HitsFor) -> None:
    conv = Conversation.from_script(DEV_BY_ID["cvd-024"])  # sparks and a burn
    result = DraftEngine().offline(conv, hits_for(conv))
    assert result.route == "escalate_urgent" and "停止使用" in result.text
    assert check_output(result.text) == [] and "赔" not in result.text


@pytest.mark.parametrize("tone", ["friendlier", "formal", "shorter"])
def test_tones_are_deterministic_and_different(tone: str, hits_for: HitsFor) -> None:
    conv = Conversation.from_script(DEV_BY_ID["cvd-029"])
    hits = hits_for(conv)
    engine = DraftEngine()
    plain = engine.offline(conv, hits)
    toned = engine.offline(conv, hits, tone=tone)  # type: ignore[arg-type]
    assert toned == engine.offline(conv, hits, tone=tone)  # type: ignore[arg-type]
    assert toned.text != plain.text and toned.tone == tone
    if tone == "shorter":
        assert len(toned.text) < len(plain.text)
    if tone == "formal":
        assert toned.text.startswith("Dear customer")


async def test_offline_stream_matches_result(hits_for: HitsFor) -> None:
    conv = Conversation.from_script(DEV_BY_ID["cvd-009"])
    stream = DraftEngine().draft(conv, hits_for(conv))
    chunks = [c.text async for c in stream]
    result = await stream.result()
    assert "".join(chunks) == result.text and len(chunks) > 1
    assert result.first_chunk_ms is not None and result.total_ms >= result.first_chunk_ms


def test_edit_distance() -> None:
    assert edit_distance("abc", "abc") == 0.0
    assert edit_distance("", "abc") == 1.0
    assert edit_distance("kitten", "sitting") == pytest.approx(3 / 7)


def test_fate_records_and_summary(tmp_path: Path, hits_for: HitsFor) -> None:
    conv = Conversation.from_script(DEV_BY_ID["cvd-029"])
    draft = DraftEngine().offline(conv, hits_for(conv))
    path = tmp_path / "drafts.sqlite"
    store = FateStore.open(path)
    store.record(draft, "approved", conversation_id="c-1")
    edited = store.record(draft, "edited", conversation_id="c-1", final_text=draft.text + " Thanks!")
    store.record(draft, "rejected", conversation_id="c-2")
    store.record(draft, "regenerated", conversation_id="c-2")
    assert edited.edit_distance is not None and 0 < edited.edit_distance < 0.1
    with pytest.raises(ValueError):
        store.record(draft, "edited", conversation_id="c-3")
    store.close()
    reopened = FateStore.open(path)  # persisted
    s = reopened.summary()
    assert s.total == 4 and s.counts == {"approved": 1, "edited": 1, "rejected": 1, "regenerated": 1}
    assert s.acceptance_rate == 0.25 and s.sent_rate == 0.5
    assert s.mean_edit_distance == pytest.approx(edited.edit_distance)
    recs = reopened.records(conversation_id="c-1")
    assert [r.fate for r in recs] == ["approved", "edited"] and recs[0].faq_ids == draft.faq_ids
    assert recs[0].source == "offline" and recs[0].route == draft.route
    reopened.close()


def test_corrupt_fate_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "drafts.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = FateStore.open(path)
    assert store.summary().total == 0
    assert any(p.name.startswith("drafts.sqlite.corrupt-") for p in tmp_path.iterdir())
    store.close()


# --- confidence: how far an offline answer can be trusted ---------------------------------------------------
# Hits are built from real FAQ entries with fixed scores, so these tests do not move with search tuning.

ENTRIES = {e.id: e for e in load_jsonl(DATA / "faq.jsonl")}


def _hit(faq_id: str, score: float) -> FaqHit:
    return FaqHit(entry=ENTRIES[faq_id], score=score, lang="en")


def test_a_match_on_one_incidental_word_is_discounted() -> None:
    bulky = _hit("faq-026", 0.6)  # bulky items delivered "to your floor"
    engine = DraftEngine()
    on_topic = engine.offline(Conversation.of_texts("How are fridges delivered and installed?"), [bulky])
    off_topic = engine.offline(
        Conversation.of_texts("My cat sleeps on the wooden floor all day and scratches it, is that normal?"),
        [bulky],
    )
    assert on_topic.confidence == 0.6
    assert off_topic.faq_ids == ("faq-026",) and off_topic.confidence < 0.6 * 0.8


def test_chinese_coverage_counts_paraphrases_not_stray_characters() -> None:
    fee = _hit("faq-016", 0.6)  # 运费怎么算
    engine = DraftEngine()
    assert engine.offline(Conversation.of_texts("邮费是怎么收的？"), [fee]).confidence >= 0.5
    stray = engine.offline(Conversation.of_texts("我家猫总喜欢睡在木地板上，正常吗"), [fee])
    assert stray.confidence < 0.4


def test_an_ambiguous_match_is_discounted() -> None:
    question = Conversation.of_texts("How are shipping fees calculated?")
    engine = DraftEngine()
    clear = engine.offline(question, [_hit("faq-016", 0.4), _hit("faq-017", 0.2)])
    tie = engine.offline(question, [_hit("faq-016", 0.4), _hit("faq-017", 0.395)])
    assert clear.faq_ids == tie.faq_ids == ("faq-016",)  # under SECOND_HIT_MIN: the second is not cited
    assert clear.confidence == 0.4 and tie.confidence < 0.4 * 0.6


def test_a_cited_second_entry_is_not_an_ambiguity() -> None:
    both = [_hit("faq-016", 0.8), _hit("faq-032", 0.79)]
    result = DraftEngine().offline(Conversation.of_texts("运费怎么算，包邮券能抵运费吗"), both)
    assert result.faq_ids == ("faq-016", "faq-032") and result.confidence == 0.8


def test_pinyin_is_not_penalised_for_sharing_no_characters() -> None:
    invoice = _hit("faq-144", 0.6)
    assert DraftEngine().offline(Conversation.of_texts("fapiao zenme kai"), [invoice]).confidence == 0.6


def test_confidence_is_the_same_whatever_the_tone() -> None:
    hits = [_hit("faq-016", 0.4), _hit("faq-017", 0.39)]
    conv = Conversation.of_texts("How are shipping fees calculated?")
    engine = DraftEngine()
    assert len({engine.offline(conv, hits, tone=t).confidence for t in (None, "shorter", "formal")}) == 1


def _agent_draft(conv: Conversation, hits: list[FaqHit]):  # type: ignore[no-untyped-def]
    from agentdesk.ai.offline import offline_draft
    from agentdesk.ai.text import conversation_lang

    engine = DraftEngine()
    return offline_draft(
        conv, hits, triage=engine.triage(conv), language=conversation_lang(conv), for_agent=True
    )


def test_a_handed_over_conversation_gets_a_working_draft_for_the_person(hits_for: HitsFor) -> None:
    """cvd-002 asks for a human: the bot sends the holding reply, but the person who takes over is offered the
    FAQ answer (route and reason still say a person must handle it)."""
    conv = Conversation.from_script(DEV_BY_ID["cvd-002"])
    hits = hits_for(conv)
    for_bot = DraftEngine().offline(conv, hits)
    assert for_bot.route == "needs_human" and for_bot.faq_ids == () and "同事" in for_bot.text
    for_agent = _agent_draft(conv, hits)
    assert for_agent.route == "needs_human" and for_agent.faq_ids == ("faq-097",)
    assert hits[0].entry.answer_zh in for_agent.text
    assert for_agent.reason.startswith(for_bot.reason) and "working draft" in for_agent.reason
    assert check_output(for_agent.text, faq_texts=[h.entry.answer_zh for h in hits]) == []


def test_the_person_gets_the_holding_reply_when_there_is_nothing_to_draft_from(hits_for: HitsFor) -> None:
    video = Conversation.from_script(DEV_BY_ID["cvd-016"])  # only a video: no FAQ answer is about it
    assert _agent_draft(video, hits_for(video)).faq_ids == ()
    human = Conversation.of_texts("转人工")
    got = _agent_draft(human, [])
    assert got.route == "needs_human" and got.faq_ids == () and "同事" in got.text
