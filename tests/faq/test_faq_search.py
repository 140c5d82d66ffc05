"""Store and search behaviour on the shared 160-entry FAQ (a real SQLite file)."""

from __future__ import annotations

from pathlib import Path

from agentdesk.faq import detect_lang
from agentdesk.faq.lexicon import lexicon
from agentdesk.faq.model import FaqEntry
from agentdesk.faq.store import MIGRATIONS, SCHEMA_VERSION, FaqStore
from agentdesk.faq.text import normalize, stem
from agentdesk.sqlite_db import open_db


def top(store: FaqStore, query: str, **kw: object) -> list[str]:
    return [h.id for h in store.search(query, **kw).hits]  # type: ignore[arg-type]


def test_two_character_chinese_terms_are_found(faq_store: FaqStore) -> None:
    # each of these is the whole query; the entry that is about it must come first
    assert top(faq_store, "运费")[0] == "faq-016"
    assert top(faq_store, "保修")[0] == "faq-098"
    assert top(faq_store, "积分")[0] == "faq-137"
    for term in ("发票", "退款", "拒收", "秒杀", "换货", "延保"):
        hits = faq_store.search(term).hits
        assert hits, term
        assert term in hits[0].entry.question_zh + "".join(hits[0].entry.tags), term


def test_english_words_are_stemmed(faq_store: FaqStore) -> None:
    assert stem("refunds") == stem("refunded") == stem("refund")
    assert stem("shipping") == stem("shipped") == stem("ship")
    ids = top(faq_store, "refunded paypal")
    assert ids[0] == "faq-055"


def test_full_width_and_traditional_input(faq_store: FaqStore) -> None:
    assert normalize("ＰａｙＰａｌ　退款") == "paypal 退款"
    assert top(faq_store, "ＰａｙＰａｌ退款")[0] == top(faq_store, "PayPal退款")[0]
    assert top(faq_store, "運費怎麼算")[0] == "faq-016"
    # Cantonese wording (幾時 = when, 點樣 = how)
    assert top(faq_store, "退款幾時到賬")[0] == "faq-051"
    assert top(faq_store, "點樣開發票")[0] == "faq-144"


def test_pasted_noise_is_ignored(faq_store: FaqStore) -> None:
    plain = top(faq_store, "发票怎么开")
    noisy = top(faq_store, "你好，在吗？订单NW260402117356 发票怎么开 谢谢 13812345678 https://x.example/a")
    assert noisy[0] == plain[0]


def test_snippet_positions_point_at_the_matched_text(faq_store: FaqStore) -> None:
    hit = faq_store.search("运费", lang="zh").hits[0]
    assert hit.snippet.matches
    # the query's word, and the other terms of its lexicon concept that the entry uses (配送费)
    allowed = {"运费", *lexicon().concepts[lexicon().zh["运费"]]}
    marked = [hit.snippet.text[start:end] for start, end in hit.snippet.matches]
    assert "运费" in marked
    assert all(any(m in term or term in m for term in allowed) for m in marked), marked
    en = faq_store.search("shipping fee", lang="en").hits[0]
    assert en.lang == "en"
    marked = [en.snippet.text[a:b].lower() for a, b in en.snippet.matches]
    assert any(m.startswith("fee") or m.startswith("ship") for m in marked)


def test_did_you_mean_from_the_index_vocabulary(faq_store: FaqStore) -> None:
    res = faq_store.search("how do i chnage my pasword")
    assert res.suggestion == "how do i change my password"


def test_homophone_typo_and_pinyin(faq_store: FaqStore) -> None:
    assert "faq-016" in top(faq_store, "运废怎么算")[:3]
    assert "faq-144" in top(faq_store, "fapiao zenme kai")[:3]


def test_no_answer_for_an_uncovered_question(faq_store: FaqStore) -> None:
    res = faq_store.search("今天股市怎么样")
    assert res.hits == ()
    assert 0.0 <= res.best_score < 1.0
    assert faq_store.search("").hits == ()
    assert faq_store.search("？？？!!!").hits == ()


def test_scores_are_0_to_1_best_first(faq_store: FaqStore) -> None:
    hits = faq_store.search("退款多久到账", limit=5).hits
    assert len(hits) == 5
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_lang_detection_and_presentation(faq_store: FaqStore) -> None:
    assert detect_lang("How do I cancel?") == "en"
    assert detect_lang("怎么取消订单") == "zh"
    assert detect_lang("我的order已经shipped了") == "zh"
    assert detect_lang("fapiao zenme kai") == "zh"
    hit = faq_store.search("cancel order", lang="zh").hits[0]
    assert hit.lang == "zh"
    assert hit.snippet.text  # the Chinese answer


def test_get_upsert_and_schema(tmp_path: Path) -> None:
    store = FaqStore.open(tmp_path / "c.sqlite")
    e = FaqEntry(
        "x-1", "orders", "怎么开发票", "How do I get an invoice?", "在订单详情申请。", "From Order Details."
    )
    s1 = store.upsert([e])
    s2 = store.upsert([e])
    assert (s1.added, s2.unchanged) == (1, 1)
    changed = FaqEntry(**{**_fields(e), "answer_en": "Under Order Details > Invoice."})
    s3 = store.upsert([changed])
    assert s3.updated == 1
    assert store.get("x-1") == changed
    assert store.get("nope") is None
    assert store.search("invoice").hits[0].id == "x-1"
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()
    reopened = FaqStore.open(tmp_path / "c.sqlite")
    assert reopened.get("x-1") == changed
    reopened.close()


def test_corrupt_cache_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "faq.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = FaqStore.open(path)
    assert store.moved_aside is not None and store.moved_aside.exists()
    assert store.count() == 0
    assert store.search("运费").hits == ()
    store.close()


def _fields(e: FaqEntry) -> dict[str, object]:
    return {f: getattr(e, f) for f in FaqEntry.__dataclass_fields__}


def test_a_v1_cache_is_reindexed_with_the_current_tokenizer(tmp_path: Path) -> None:
    """v1 caches were tokenised with a stemmer that made `code` into `cod` (cash on delivery); opening one
    migrates it to v2, which rebuilds the token columns, the FTS index and the word stems, keeping the data."""
    path = tmp_path / "old.sqlite"
    opened = open_db(path, MIGRATIONS[:1])
    old = FaqStore(opened.conn, opened.path)
    entries = [
        FaqEntry("c-1", "account", "收不到验证码", "I can't get verification codes", "检查短信拦截。",
                 "Check your SMS filter."),
        FaqEntry("c-2", "payment", "支持货到付款吗", "Do you offer COD?", "支持，手续费5元。",
                 "Yes, COD costs a 5 yuan fee."),
    ]  # fmt: skip
    old.upsert(entries)
    # what the v1 tokenizer stored
    old.conn.execute("UPDATE faq SET s_q = replace(s_q, 'code', 'cod') WHERE id = 'c-1'")
    old.conn.execute("UPDATE words SET stem = 'cod' WHERE word = 'codes'")
    old.conn.execute("INSERT INTO faq_fts(faq_fts) VALUES ('rebuild')")
    old.conn.commit()
    assert old.conn.execute("PRAGMA user_version").fetchone()[0] == 1
    old.close()

    store = FaqStore.open(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert [store.get(e.id) for e in entries] == entries
    assert "code" in store.conn.execute("SELECT s_q FROM faq WHERE id = 'c-1'").fetchone()[0].split()
    assert [h.id for h in store.search("COD fee", limit=2).hits][:1] == ["c-2"]
    assert [h.id for h in store.search("verification codes", limit=2).hits][:1] == ["c-1"]
    assert store.conn.execute("SELECT stem FROM words WHERE word = 'codes'").fetchone()[0] == "code"
    store.conn.execute("INSERT INTO faq_fts(faq_fts, rank) VALUES ('integrity-check', 1)")  # raises if not
    # the update trigger was recreated: a changed entry is found by its new words
    store.upsert([FaqEntry(**{**_fields(entries[0]), "question_en": "My login codes never arrive"})])
    assert [h.id for h in store.search("login codes never arrive", limit=1).hits] == ["c-1"]
    store.conn.execute("INSERT INTO faq_fts(faq_fts, rank) VALUES ('integrity-check', 1)")
    store.close()


def test_the_stemmer_keeps_word_families_together_and_code_apart_from_cod() -> None:
    assert stem("code") == stem("codes") == stem("coded") == stem("coding") == "code"
    assert stem("cod") == "cod"
    assert stem("make") == stem("making") and stem("size") == stem("sizing") and stem("date") == stem("dated")
    assert stem("shipping") == stem("shipped") == stem("ship") and stem("hopping") == "hop"


def test_a_message_of_question_words_only_gets_no_answer(faq_store: FaqStore) -> None:
    """多久 / how much / where is it are lexicon concepts (they help rank "how long" against "how to"), but
    alone they ask nothing the FAQ could answer."""
    for q in ("多久", "怎么回事", "为啥", "how much", "where is it"):
        assert faq_store.search(q).hits == (), q
    assert faq_store.search("退款多久到账").hits  # with a topic they count


def test_greetings_are_removed_only_where_they_stand_alone() -> None:
    from agentdesk.faq.text import clean_query

    assert "亲自" in clean_query("亲自去取可以吗")
    assert "在吗" in clean_query("券还在吗")
    assert clean_query("亲，在吗？退款多久").strip(" ,?") == "退款多久"


def test_snippets_do_not_highlight_stop_words(faq_store: FaqStore) -> None:
    from agentdesk.faq.text import EN_STOP

    for hit in faq_store.search("cancel order", lang="en").hits:
        marked = {hit.snippet.text[a:b].lower() for a, b in hit.snippet.matches}
        assert not marked & EN_STOP, marked


def test_a_very_long_message_is_searched_by_its_beginning(faq_store: FaqStore) -> None:
    """A pasted document is searched by its first MAX_QUERY_CHARS characters (the analysis and the lexicon
    scan grow with the text)."""
    from agentdesk.faq.search import MAX_QUERY_CHARS

    msg = "运费多少钱" + "保修期多久" * 5000
    got = faq_store.search(msg)
    assert got.hits
    assert [h.id for h in got.hits] == [h.id for h in faq_store.search(msg[:MAX_QUERY_CHARS]).hits]
