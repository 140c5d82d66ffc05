"""Importers: JSONL / CSV / Markdown, idempotency, rejected rows with line numbers, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdesk.faq.importers import FaqFileError, import_file, load_jsonl, parse_file
from agentdesk.faq.store import FaqStore

ROW = {
    "id": "t-1",
    "category": "orders",
    "question_zh": "怎么取消订单？",
    "question_en": "How do I cancel an order?",
    "answer_zh": "在 我的订单 里取消。",
    "answer_en": "Cancel it under My Orders.",
    "tags": ["取消订单", "cancel"],
    "updated_at": "2026-01-01",
}


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows)
    )
    return path


def test_shared_jsonl_imports_and_is_idempotent(tmp_path: Path, faq_file: Path) -> None:
    store = FaqStore.open(tmp_path / "c.sqlite")
    first = import_file(store, faq_file)
    assert (first.added, first.updated, first.unchanged, first.rejected) == (160, 0, 0, [])
    again = import_file(store, faq_file)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 160)
    assert len(load_jsonl(faq_file)) == 160
    store.close()


def test_rejected_rows_have_line_numbers_and_reasons(tmp_path: Path) -> None:
    rows: list[object] = [
        ROW,
        "{not json",
        {**ROW, "id": ""},
        {**ROW, "id": "t-2", "question_zh": "", "question_en": ""},
        {**ROW, "id": "t-3", "tags": "a;b"},
        {**ROW, "id": "t-4", "answer_en": 42},
        ROW,
    ]
    path = _jsonl(tmp_path / "f.jsonl", rows)
    store = FaqStore.open(tmp_path / "c.sqlite")
    summary = import_file(store, path)
    assert (summary.added, summary.updated, summary.unchanged) == (2, 0, 0)
    reasons = {r.line: r.reason for r in summary.rejected}
    assert set(reasons) == {2, 3, 4, 6, 7}
    assert "invalid JSON" in reasons[2]
    assert "id" in reasons[3]
    assert "question" in reasons[4]
    assert "answer_en" in reasons[6]
    assert "duplicate" in reasons[7]
    assert store.get("t-3") is not None and store.get("t-3").tags == ("a", "b")  # type: ignore[union-attr]
    store.close()


def test_update_is_counted(tmp_path: Path) -> None:
    store = FaqStore.open(tmp_path / "c.sqlite")
    import_file(store, _jsonl(tmp_path / "a.jsonl", [ROW]))
    summary = import_file(store, _jsonl(tmp_path / "b.jsonl", [{**ROW, "answer_en": "Changed."}]))
    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 0)
    assert store.get("t-1").answer_en == "Changed."  # type: ignore[union-attr]
    store.close()


def test_csv_import(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(
        "id,category,question_zh,question_en,answer_zh,answer_en,tags,updated_at\n"
        'c-1,orders,发票怎么开？,How do I get an invoice?,在订单详情申请。,"From Order Details, Invoice.",发票;invoice,2026-01-02\n'
        "c-2,orders,,,,,,\n"
        "c-3,orders,运费?,Shipping fee?,满99包邮。,Free from 99.,运费|shipping,2026-01-03,extra\n",
        encoding="utf-8",
    )
    store = FaqStore.open(tmp_path / "c.sqlite")
    summary = import_file(store, path)
    assert summary.added == 1
    assert [(r.line, r.id) for r in summary.rejected] == [(3, "c-2"), (4, "c-3")]
    entry = store.get("c-1")
    assert (
        entry is not None
        and entry.tags == ("发票", "invoice")
        and entry.answer_en == "From Order Details, Invoice."
    )
    assert store.search("invoice").hits[0].id == "c-1"
    store.close()


def test_markdown_import(tmp_path: Path) -> None:
    path = tmp_path / "faq.md"
    path.write_text(
        "# Store FAQ\n\nintro text is ignored\n\n"
        "## 发票怎么开？\n<!-- id: md-inv -->\n<!-- tags: 发票; invoice -->\n在 订单详情 > 申请发票 提交。\n\n"
        "## How long does shipping take?\nMainland orders arrive in 2-5 days.\nRemote areas: 5-10 days.\n\n"
        "## Empty heading\n\n",
        encoding="utf-8",
    )
    parsed = parse_file(path)
    assert [r.line for r in parsed.rejected] == [14]
    store = FaqStore.open(tmp_path / "c.sqlite")
    summary = import_file(store, path)
    assert summary.added == 2
    inv = store.get("md-inv")
    assert inv is not None and inv.question_zh == "发票怎么开？" and inv.tags == ("发票", "invoice")
    hit = store.search("shipping take days").hits[0]
    assert hit.entry.question_en == "How long does shipping take?"
    assert "Remote areas" in hit.entry.answer_en
    again = import_file(store, path)
    assert again.unchanged == 2
    store.close()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bad.jsonl", b"\xff\xfe\x00garbage\x00\x00"),
        ("bad.csv", b"question,answer\nfoo,bar\n"),
        ("bad.txt", b"x"),
        ("empty.jsonl", b"{oops\n"),
    ],
)
def test_a_bad_file_leaves_the_cache_intact(
    tmp_path: Path, faq_file: Path, name: str, content: bytes
) -> None:
    store = FaqStore.open(tmp_path / "c.sqlite")
    import_file(store, faq_file)
    before = store.search("运费").hits[0].id
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(FaqFileError):
        import_file(store, bad)
    assert store.count() == 160
    assert store.search("运费").hits[0].id == before
    store.close()


def test_file_content_is_data_never_evaluated(tmp_path: Path) -> None:
    hostile = {
        **ROW,
        "id": "h-1",
        "question_en": "[bold red]x[/] __import__('os').system('false')",
        "answer_en": "\x1b[2J ok",
    }
    store = FaqStore.open(tmp_path / "c.sqlite")
    import_file(store, _jsonl(tmp_path / "h.jsonl", [hostile]))
    got = store.get("h-1")
    assert got is not None and got.question_en == hostile["question_en"] and got.answer_en == "\x1b[2J ok"
    store.close()
