"""Reading FAQ files: JSONL (the shared format), CSV and Markdown. File contents are data, never evaluated.

* `parse_file(path)` / `parse_jsonl|parse_csv|parse_markdown(text)` -> `Parsed(entries, rejected)`, where every
  rejected row carries its 1-based line number and the reason.
* `load_jsonl(path) -> list[FaqEntry]` is the simple form for callers that trust the file (raises on the
  first bad row).
* `import_file(store, path, progress=...)` parses, then upserts everything valid in ONE transaction: a bad
  file (unreadable, not UTF-8, no valid row) changes nothing.

Formats:

* JSONL: one object per line with `id`, `category`, `question_zh`, `question_en`, `answer_zh`, `answer_en`,
  `tags` (list), `updated_at`, optional `source`. At least one question and its answer are required.
* CSV: a header row with the same column names; `tags` separated by `;` or `|` (or a JSON array).
* Markdown: `## question` headings followed by the answer paragraphs. Optional `<!-- id: x -->`,
  `<!-- category: x -->`, `<!-- tags: a; b -->` comment lines right under a heading. The language of each
  question is detected; an entry without an explicit id gets `md-` + a hash of its question.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentdesk.faq.model import FaqEntry
from agentdesk.faq.store import FaqStore, ImportSummary, Progress, Rejected
from agentdesk.faq.text import detect_lang

MAX_FIELD = 20_000
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_TEXT_FIELDS = ("category", "question_zh", "question_en", "answer_zh", "answer_en", "updated_at", "source")


class FaqFileError(Exception):
    """A file that cannot be imported at all (unreadable, wrong encoding, unknown format)."""


@dataclass(slots=True)
class Parsed:
    entries: list[tuple[int, FaqEntry]] = field(default_factory=list)  # (line, entry)
    rejected: list[Rejected] = field(default_factory=list)


def entry_from_dict(obj: Any, *, default_source: str = "") -> FaqEntry:
    """Validate one record (a dict from JSON/CSV). Raises ValueError with a short reason."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    raw_id = obj.get("id")
    if not isinstance(raw_id, str) or not _ID_RE.match(raw_id.strip()):
        raise ValueError("missing or invalid 'id'")
    values: dict[str, str] = {}
    for name in _TEXT_FIELDS:
        v = obj.get(name, "")
        if v is None:
            v = ""
        if not isinstance(v, str):
            raise ValueError(f"'{name}' must be a string")
        if len(v) > MAX_FIELD:
            raise ValueError(f"'{name}' is longer than {MAX_FIELD} characters")
        values[name] = v.strip()
    if not (values["question_zh"] and values["answer_zh"]) and not (
        values["question_en"] and values["answer_en"]
    ):
        raise ValueError("needs a question and its answer in at least one language")
    tags = _tags(obj.get("tags", []))
    return FaqEntry(
        id=raw_id.strip(),
        category=values["category"],
        question_zh=values["question_zh"],
        question_en=values["question_en"],
        answer_zh=values["answer_zh"],
        answer_en=values["answer_en"],
        tags=tags,
        updated_at=values["updated_at"],
        source=values["source"] or default_source,
    )


def _tags(raw: Any) -> tuple[str, ...]:
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError("'tags' is not a valid JSON array") from exc
        else:
            raw = re.split(r"[;|]", text)
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise ValueError("'tags' must be a list of strings")
    return tuple(t.strip() for t in raw if t.strip())


def _dedupe(parsed: Parsed) -> Parsed:
    """A later row with an id already seen in the same file is rejected (the first one wins)."""
    seen: dict[str, int] = {}
    out = Parsed(rejected=list(parsed.rejected))
    for line, e in parsed.entries:
        if e.id in seen:
            out.rejected.append(Rejected(line, f"duplicate id {e.id!r} (first on line {seen[e.id]})", e.id))
            continue
        seen[e.id] = line
        out.entries.append((line, e))
    out.rejected.sort(key=lambda r: r.line)
    return out


def parse_jsonl(text: str, *, source: str = "") -> Parsed:
    parsed = Parsed()
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            parsed.rejected.append(Rejected(n, f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        try:
            parsed.entries.append((n, entry_from_dict(obj, default_source=source)))
        except ValueError as exc:
            rid = obj.get("id", "") if isinstance(obj, dict) else ""
            parsed.rejected.append(Rejected(n, str(exc), rid if isinstance(rid, str) else ""))
    return _dedupe(parsed)


def parse_csv(text: str, *, source: str = "") -> Parsed:
    parsed = Parsed()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None or "id" not in [f.strip() for f in reader.fieldnames]:
        raise FaqFileError("CSV needs a header row with at least an 'id' column")
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                parsed.rejected.append(Rejected(line, "more fields than the header", row.get("id") or ""))
                continue
            clean = {k.strip(): v for k, v in row.items() if k is not None}
            try:
                parsed.entries.append((line, entry_from_dict(clean, default_source=source)))
            except ValueError as exc:
                parsed.rejected.append(Rejected(line, str(exc), clean.get("id") or ""))
    except csv.Error as exc:
        parsed.rejected.append(Rejected(reader.line_num, f"CSV error: {exc}"))
    return _dedupe(parsed)


_MD_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")
_MD_META = re.compile(r"^<!--\s*(id|category|tags|updated_at)\s*:\s*(.*?)\s*-->\s*$", re.IGNORECASE)


def parse_markdown(text: str, *, source: str = "") -> Parsed:
    parsed = Parsed()
    blocks: list[tuple[int, str, list[str]]] = []
    for n, raw in enumerate(text.split("\n"), start=1):
        m = _MD_HEADING.match(raw)
        if m:
            blocks.append((n, m.group(1), []))
        elif blocks:
            blocks[-1][2].append(raw)
    for line, question, body in blocks:
        meta: dict[str, str] = {}
        answer_lines = []
        for b in body:
            mm = _MD_META.match(b.strip())
            if mm:
                meta[mm.group(1).lower()] = mm.group(2)
            else:
                answer_lines.append(b)
        answer = "\n".join(answer_lines).strip()
        if not answer:
            parsed.rejected.append(Rejected(line, "heading without an answer", meta.get("id", "")))
            continue
        lang = detect_lang(question)
        obj: dict[str, Any] = {
            "id": meta.get("id") or "md-" + hashlib.sha1(question.encode()).hexdigest()[:10],
            "category": meta.get("category", ""),
            f"question_{lang}": question,
            f"answer_{lang}": answer,
            "tags": meta.get("tags", ""),
            "updated_at": meta.get("updated_at", ""),
        }
        try:
            parsed.entries.append((line, entry_from_dict(obj, default_source=source)))
        except ValueError as exc:
            parsed.rejected.append(Rejected(line, str(exc), str(obj["id"])))
    return _dedupe(parsed)


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FaqFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FaqFileError(f"{path}: binary file, not a FAQ export")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FaqFileError(f"{path}: not UTF-8 (byte {exc.start})") from exc


def parse_file(path: Path | str, *, source: str | None = None) -> Parsed:
    p = Path(path)
    text = read_text(p)
    src = p.name if source is None else source
    suffix = p.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return parse_jsonl(text, source=src)
    if suffix == ".csv":
        return parse_csv(text, source=src)
    if suffix in {".md", ".markdown"}:
        return parse_markdown(text, source=src)
    raise FaqFileError(f"{p}: unknown format {suffix or '(no extension)'}; use .jsonl, .csv or .md")


def load_jsonl(path: Path | str) -> list[FaqEntry]:
    """All entries of a JSONL file in the shared format; ValueError on the first bad row."""
    parsed = parse_jsonl(read_text(Path(path)), source=Path(path).name)
    if parsed.rejected:
        r = parsed.rejected[0]
        raise ValueError(f"{path}:{r.line}: {r.reason}")
    return [e for _, e in parsed.entries]


def import_entries(store: FaqStore, parsed: Parsed, *, progress: Progress | None = None) -> ImportSummary:
    summary = store.upsert((e for _, e in parsed.entries), progress=progress, total=len(parsed.entries))
    summary.rejected = list(parsed.rejected)
    return summary


def import_file(
    store: FaqStore, path: Path | str, *, progress: Progress | None = None, source: str | None = None
) -> ImportSummary:
    """Parse `path` and upsert its valid rows atomically. Raises FaqFileError for an unusable file."""
    parsed = parse_file(path, source=source)
    if not parsed.entries and parsed.rejected:
        raise FaqFileError(f"{path}: no valid entry ({len(parsed.rejected)} rejected)")
    return import_entries(store, parsed, progress=progress)


def iter_ids(entries: Iterable[FaqEntry]) -> set[str]:
    return {e.id for e in entries}
