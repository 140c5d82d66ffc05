"""The FAQ importers on arbitrary input (JSON Lines, CSV, Markdown, raw bytes in a file): the result is a
summary — accepted entries plus rejected rows with a line and a reason — or `FaqFileError` with a message
for a file that is unusable as a whole; never another exception. Importing the result keeps the cache
usable: the count adds up and a search still answers."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from fuzzkit import FUZZ, json_values, nasty_text
from hypothesis import event, given
from hypothesis import strategies as st

from agentdesk.faq.importers import (
    FaqFileError,
    Parsed,
    import_entries,
    parse_csv,
    parse_file,
    parse_jsonl,
    parse_markdown,
)
from agentdesk.faq.store import FaqStore

FIELDS = [
    "id",
    "category",
    "question_zh",
    "question_en",
    "answer_zh",
    "answer_en",
    "tags",
    "updated_at",
    "source",
]
ids = st.from_regex(r"[a-z]{1,4}-[0-9]{1,4}", fullmatch=True) | nasty_text.map(lambda s: s[:20])
cells = nasty_text.map(lambda s: s[:80]) | st.sampled_from(["运费怎么算？", "满99元包邮。", "How long?", ""])


@st.composite
def records(draw: st.DrawFn) -> dict[str, object]:
    rec: dict[str, object] = {}
    for name in FIELDS:
        if draw(st.integers(0, 4)) == 0:
            continue
        rec[name] = draw(ids if name == "id" else cells)
    if draw(st.integers(0, 5)) == 0:
        rec[draw(st.sampled_from(FIELDS))] = draw(json_values)
    return rec


@st.composite
def jsonl_texts(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.integers(0, 5))
        if kind <= 3:
            lines.append(json.dumps(draw(records()), ensure_ascii=draw(st.booleans())))
        elif kind == 4:
            lines.append(json.dumps(draw(json_values)))
        else:
            lines.append(draw(nasty_text))
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    header = draw(
        st.lists(st.sampled_from([*FIELDS, "extra", " id ", ""]), min_size=0, max_size=10, unique=True)
    )
    if draw(st.integers(0, 4)):  # mostly a usable header: id + one language's question and answer
        lang = draw(st.sampled_from(["zh", "en"]))
        header = ["id", f"question_{lang}", f"answer_{lang}", *[h for h in header if h not in ("id", " id ")]]
    buf = io.StringIO()
    w = csv.writer(buf)
    with_header = bool(header) or draw(st.booleans())
    if with_header:
        w.writerow(header)
    for _ in range(draw(st.integers(0, 10))):
        width = len(header) if draw(st.integers(0, 3)) else draw(st.integers(0, len(header) + 2))
        w.writerow([draw(ids) if i == 0 else draw(cells) for i in range(width)])
    text = buf.getvalue()
    if draw(st.booleans()):  # damage it
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(['"', "\x00", "\n", ",,,", '"\n"'])) + text[at:]
    return text


@st.composite
def markdown_texts(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 4))
        if kind <= 2:
            parts.append(f"## {draw(cells)}")
            if draw(st.booleans()):
                key = draw(st.sampled_from(["id", "category", "tags", "updated_at", "ID"]))
                parts.append(f"<!-- {key}: {draw(cells)} -->")
            parts.append(draw(cells))
        elif kind == 3:
            parts.append(draw(st.sampled_from(["#", "##", "## ##", "###", "<!-- id: -->", "---"])))
        else:
            parts.append(draw(nasty_text))
    return "\n".join(parts)


def check_parsed(parsed: Parsed) -> None:
    event(
        "outcome: "
        + ("entries" if parsed.entries else "no entries")
        + (" + rejected rows" if parsed.rejected else "")
    )
    for line, entry in parsed.entries:
        assert line >= 1 and entry.id
    for r in parsed.rejected:
        assert r.reason
    ids = [e.id for _, e in parsed.entries]
    assert len(ids) == len(set(ids))  # de-duplicated
    with FaqStore.open(":memory:") as store:
        summary = import_entries(store, parsed)
        assert summary.added + summary.updated + summary.unchanged == len(parsed.entries)
        assert len(summary.rejected) == len(parsed.rejected)
        assert store.count() == len(parsed.entries)
        store.search("运费 shipping", limit=3)  # still usable
        store.search("", limit=3)


@FUZZ
@given(jsonl_texts() | nasty_text)
def test_jsonl_import_summarises_or_rejects(text: str) -> None:
    check_parsed(parse_jsonl(text, source="fuzz"))


@FUZZ
@given(csv_texts() | nasty_text)
def test_csv_import_summarises_or_rejects(text: str) -> None:
    try:
        parsed = parse_csv(text, source="fuzz")
    except FaqFileError as exc:
        event("outcome: FaqFileError")
        assert str(exc)
        return
    check_parsed(parsed)


@FUZZ
@given(markdown_texts() | nasty_text)
def test_markdown_import_summarises_or_rejects(text: str) -> None:
    check_parsed(parse_markdown(text, source="fuzz"))


@FUZZ
@given(st.binary(max_size=800), st.sampled_from([".jsonl", ".csv", ".md", ".json", ".txt", ""]))
def test_any_file_bytes(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"faq{suffix}"
        path.write_bytes(data)
        try:
            parsed = parse_file(path)
        except FaqFileError as exc:
            event("outcome: FaqFileError")
            assert str(exc)
            return
        check_parsed(parsed)


def test_the_error_type_is_the_documented_one() -> None:
    with pytest.raises(FaqFileError):
        parse_csv("no,id,header\n1,2,3\n".replace("id", "x"))
