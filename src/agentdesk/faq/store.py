"""The FAQ cache: one SQLite file (sqlite-utils on top of `agentdesk.sqlite_db.open_db`) with an FTS5 index.

Schema (version = `PRAGMA user_version`, see `MIGRATIONS`):

* `faq`: one row per entry (the `FaqEntry` fields, `tags` as a JSON array), plus `seq` (a change counter: a
  row gets the store's next `seq` each time its content changes), `content_hash`, and four token columns
  `s_q`, `s_a`, `s_t`, `s_py`, `s_c` (question, answer, tags, pinyin of question + tags, the distinct
  Chinese characters of question + tags) built by `agentdesk.faq.text`.
* `faq_fts`: an external-content FTS5 table over the five token columns (`unicode61` over our pre-built
  tokens: CJK bigrams, stemmed English, pinyin bigrams), kept in sync by triggers.
* `faq_vocab`: an `fts5vocab` view (term -> number of entries), used for IDF and "did you mean".
* `words`: surface English words seen in the entries (for "did you mean" suggestions).
* `meta`: key/value (`last_seq`, sync state per URL).

Entry points for other modules: `FaqStore.open(path)`, `.search()`, `.get()`, `.upsert()`, `.stats()`,
and `agentdesk.faq.importers.load_jsonl()` / `agentdesk.faq.sync.export_jsonl()`.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from agentdesk.faq.model import FaqEntry, Lang, SearchResult
from agentdesk.faq.text import CJK_RE, index_string, normalize
from agentdesk.sqlite_db import DatabaseError, Migration, open_db

#: progress callback: (done, total or None)
Progress = Callable[[int, int | None], None]

_SCHEMA_V1 = """
CREATE TABLE faq (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL DEFAULT '',
    question_zh TEXT NOT NULL DEFAULT '',
    question_en TEXT NOT NULL DEFAULT '',
    answer_zh TEXT NOT NULL DEFAULT '',
    answer_en TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    updated_at TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    seq INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT NOT NULL DEFAULT '',
    s_q TEXT NOT NULL DEFAULT '',
    s_a TEXT NOT NULL DEFAULT '',
    s_t TEXT NOT NULL DEFAULT '',
    s_py TEXT NOT NULL DEFAULT '',
    s_c TEXT NOT NULL DEFAULT ''
);
CREATE INDEX faq_seq ON faq(seq);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE words (word TEXT PRIMARY KEY, stem TEXT NOT NULL) WITHOUT ROWID;
CREATE VIRTUAL TABLE faq_fts USING fts5(
    s_q, s_a, s_t, s_py, s_c, content='faq', content_rowid='rowid', tokenize='unicode61 remove_diacritics 0'
);
CREATE VIRTUAL TABLE faq_vocab USING fts5vocab(faq_fts, 'row');
{trigger_ai};
CREATE TRIGGER faq_ad AFTER DELETE ON faq BEGIN
    INSERT INTO faq_fts(faq_fts, rowid, s_q, s_a, s_t, s_py, s_c)
        VALUES ('delete', old.rowid, old.s_q, old.s_a, old.s_t, old.s_py, old.s_c);
END;
CREATE TRIGGER faq_au AFTER UPDATE OF s_q, s_a, s_t, s_py, s_c ON faq BEGIN
    INSERT INTO faq_fts(faq_fts, rowid, s_q, s_a, s_t, s_py, s_c)
        VALUES ('delete', old.rowid, old.s_q, old.s_a, old.s_t, old.s_py, old.s_c);
    INSERT INTO faq_fts(rowid, s_q, s_a, s_t, s_py, s_c)
        VALUES (new.rowid, new.s_q, new.s_a, new.s_t, new.s_py, new.s_c);
END;
INSERT INTO meta(key, value) VALUES ('last_seq', '0');
"""

_TRIGGER_AI = """CREATE TRIGGER faq_ai AFTER INSERT ON faq BEGIN
    INSERT INTO faq_fts(rowid, s_q, s_a, s_t, s_py, s_c)
        VALUES (new.rowid, new.s_q, new.s_a, new.s_t, new.s_py, new.s_c);
END"""
_SCHEMA_V1 = _SCHEMA_V1.replace("{trigger_ai}", _TRIGGER_AI)
#: the update trigger as in schema v1 (dropped and recreated by `_reindex`)
_TRIGGER_AU = """CREATE TRIGGER faq_au AFTER UPDATE OF s_q, s_a, s_t, s_py, s_c ON faq BEGIN
    INSERT INTO faq_fts(faq_fts, rowid, s_q, s_a, s_t, s_py, s_c)
        VALUES ('delete', old.rowid, old.s_q, old.s_a, old.s_t, old.s_py, old.s_c);
    INSERT INTO faq_fts(rowid, s_q, s_a, s_t, s_py, s_c)
        VALUES (new.rowid, new.s_q, new.s_a, new.s_t, new.s_py, new.s_c);
END"""


def _reindex(conn: sqlite3.Connection) -> None:
    """Rebuild the token columns, the FTS index and the word stems with this version's tokenizer (v2: the
    stemmer keeps `code` apart from `cod`, cash on delivery). Runs inside the migration's transaction."""
    from agentdesk.faq.text import stem

    conn.execute("DROP TRIGGER IF EXISTS faq_au")
    last = 0
    while True:  # in batches, so a big cache is not held in memory at once
        cur = conn.execute("SELECT * FROM faq WHERE rowid > ? ORDER BY rowid LIMIT 2000", (last,))
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, values, strict=True)) for values in cur.fetchall()]
        if not rows:
            break
        last = rows[-1]["rowid"]
        conn.executemany(
            "UPDATE faq SET s_q = :s_q, s_a = :s_a, s_t = :s_t, s_py = :s_py, s_c = :s_c WHERE rowid = :rowid",
            [{"rowid": row["rowid"], **_index_row(row_to_entry(row))} for row in rows],
        )
    conn.execute("INSERT INTO faq_fts(faq_fts) VALUES ('rebuild')")
    conn.execute(_TRIGGER_AU)
    words = [r[0] for r in conn.execute("SELECT word FROM words")]
    conn.executemany("UPDATE words SET stem = ? WHERE word = ?", [(stem(w), w) for w in words])


MIGRATIONS: Sequence[Migration] = (_SCHEMA_V1, _reindex)
#: an import of at least this many rows into an empty cache builds the FTS index in one pass
BULK_ROWS = 2000
_COLUMNS = [
    "id",
    "category",
    "question_zh",
    "question_en",
    "answer_zh",
    "answer_en",
    "tags",
    "updated_at",
    "source",
    "seq",
    "content_hash",
    "s_q",
    "s_a",
    "s_t",
    "s_py",
    "s_c",
]
_INSERT_SQL = f"INSERT INTO faq ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)})"
_UPDATE_SQL = f"UPDATE faq SET {', '.join(f'{c} = :{c}' for c in _COLUMNS if c != 'id')} WHERE id = :id"
SCHEMA_VERSION = len(MIGRATIONS)

_WORD_RE = re.compile(r"[a-z]{3,}")


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str
    id: str = ""


@dataclass(slots=True)
class ImportSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    deleted: int = 0

    @property
    def ok(self) -> bool:
        return not self.rejected

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StoreStats:
    path: str
    entries: int
    by_category: dict[str, int]
    by_source: dict[str, int]
    last_seq: int
    schema_version: int
    size_bytes: int
    last_updated: str


def entry_hash(e: FaqEntry) -> str:
    payload = json.dumps(
        [e.category, e.question_zh, e.question_en, e.answer_zh, e.answer_en, list(e.tags), e.updated_at],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _index_row(e: FaqEntry) -> dict[str, str]:
    tags = [normalize(t) for t in e.tags]
    q_zh = normalize(e.question_zh)
    qt_zh = q_zh + " ; " + " ; ".join(tags)
    return {
        "s_q": index_string(q_zh + "\n" + normalize(e.question_en), normalized=True),
        "s_a": index_string(normalize(e.answer_zh + "\n" + e.answer_en), normalized=True),
        # tags keep their boundaries (" | " is not a token for unicode61), so a whole tag can be matched
        "s_t": " | ".join(s for s in (index_string(t, normalized=True) for t in tags) if s),
        "s_py": index_string(qt_zh, pinyin=True, normalized=True),
        "s_c": " ".join(sorted(set(CJK_RE.findall(qt_zh)))),
    }


def _row_values(e: FaqEntry, seq: int, digest: str) -> dict[str, Any]:
    return {
        "id": e.id,
        "category": e.category,
        "question_zh": e.question_zh,
        "question_en": e.question_en,
        "answer_zh": e.answer_zh,
        "answer_en": e.answer_en,
        "tags": json.dumps(list(e.tags), ensure_ascii=False),
        "updated_at": e.updated_at,
        "source": e.source,
        "seq": seq,
        "content_hash": digest,
        **_index_row(e),
    }


def row_to_entry(row: sqlite3.Row | dict[str, Any]) -> FaqEntry:
    tags = json.loads(row["tags"]) if row["tags"] else []
    return FaqEntry(
        id=row["id"],
        category=row["category"],
        question_zh=row["question_zh"],
        question_en=row["question_en"],
        answer_zh=row["answer_zh"],
        answer_en=row["answer_en"],
        tags=tuple(str(t) for t in tags),
        updated_at=row["updated_at"],
        source=row["source"],
    )


class FaqStore:
    """A FAQ cache file. Not thread-safe: one store per thread (open it again in a worker)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, moved_aside: Path | None = None) -> None:
        conn.row_factory = sqlite3.Row
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.path = path
        #: where a corrupt file was moved before this one was created (tell the user), else None
        self.moved_aside = moved_aside
        self._df_cache: dict[str, int] = {}
        self._words: list[str] | None = None
        self._count: int | None = None
        #: derived values other modules cache until the next write (e.g. average column lengths)
        self.cache: dict[str, object] = {}

    # ------------------------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, path: Path | str, *, check_same_thread: bool = True) -> FaqStore:
        """Open (or create) the cache. A file SQLite cannot read is moved aside and rebuilt empty
        (`store.moved_aside` says where); a file from a newer agentdesk raises `DatabaseError`."""
        opened = open_db(path, MIGRATIONS, check_same_thread=check_same_thread)
        return cls(opened.conn, opened.path, opened.moved_aside)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> FaqStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write: everything inside commits together or not at all."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._invalidate()
            raise
        self.conn.execute("COMMIT")
        self._invalidate()

    def _invalidate(self) -> None:
        self._df_cache.clear()
        self._words = None
        self._count = None
        self.cache.clear()

    # --------------------------------------------------------------------------------------- writes
    def upsert(
        self,
        entries: Iterable[FaqEntry],
        *,
        progress: Progress | None = None,
        total: int | None = None,
        _in_transaction: bool = False,
    ) -> ImportSummary:
        """Insert or update entries by id, in one transaction. Unchanged entries are not rewritten."""
        summary = ImportSummary()
        if total is None and isinstance(entries, Sequence):
            total = len(entries)
        if _in_transaction:
            self._upsert(entries, summary, progress, total)
        else:
            with self.transaction():
                self._upsert(entries, summary, progress, total)
        return summary

    def _upsert(
        self,
        entries: Iterable[FaqEntry],
        summary: ImportSummary,
        progress: Progress | None,
        total: int | None,
    ) -> None:
        conn = self.conn
        seq = self.last_seq()
        bulk = self.count() == 0 and total is not None and total >= BULK_ROWS
        if bulk:  # an empty cache filled at once: build the FTS index in one pass at the end
            conn.execute("DROP TRIGGER faq_ai")
        words: set[str] = set()
        done = 0
        batch: list[FaqEntry] = []

        def flush() -> None:
            nonlocal seq
            ids = [e.id for e in batch]
            marks = ",".join("?" * len(ids))
            old = {
                r[0]: r[1]
                for r in conn.execute(f"SELECT id, content_hash FROM faq WHERE id IN ({marks})", ids)
            }
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            for e in batch:
                digest = entry_hash(e)
                if old.get(e.id) == digest:
                    summary.unchanged += 1
                    continue
                seq += 1
                values = _row_values(e, seq, digest)
                words.update(_WORD_RE.findall(normalize(f"{e.question_en} {e.answer_en} {' '.join(e.tags)}")))
                (updates if e.id in old else inserts).append(values)
                old[e.id] = digest
            if inserts:
                conn.executemany(_INSERT_SQL, inserts)
                summary.added += len(inserts)
            if updates:
                conn.executemany(_UPDATE_SQL, updates)
                summary.updated += len(updates)
            batch.clear()

        for e in entries:
            batch.append(e)
            done += 1
            if len(batch) >= 500:
                flush()
                if progress is not None:
                    progress(done, total)
        if batch:
            flush()
        if bulk:
            conn.execute("INSERT INTO faq_fts(faq_fts) VALUES ('rebuild')")
            conn.execute(_TRIGGER_AI)
        if progress is not None:
            progress(done, total)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (str(seq),))
        if words:
            from agentdesk.faq.text import stem

            conn.executemany(
                "INSERT OR IGNORE INTO words(word, stem) VALUES (?, ?)", [(w, stem(w)) for w in sorted(words)]
            )

    def delete_except(self, keep_ids: set[str], *, source: str) -> int:
        """Delete the entries of `source` whose id is not in `keep_ids` (call inside `transaction()`)."""
        rows = self.conn.execute("SELECT id FROM faq WHERE source = ?", (source,)).fetchall()
        gone = [r["id"] for r in rows if r["id"] not in keep_ids]
        self.conn.executemany("DELETE FROM faq WHERE id = ?", [(i,) for i in gone])
        return len(gone)

    def optimize(self) -> None:
        self.conn.execute("INSERT INTO faq_fts(faq_fts) VALUES ('optimize')")

    # ---------------------------------------------------------------------------------------- reads
    def get(self, id: str) -> FaqEntry | None:
        row = self.conn.execute("SELECT * FROM faq WHERE id = ?", (id,)).fetchone()
        return None if row is None else row_to_entry(row)

    def all_entries(self, *, since: int | None = None) -> Iterator[tuple[int, FaqEntry]]:
        """(seq, entry) in change order; with `since`, only entries changed after that counter."""
        sql = "SELECT * FROM faq WHERE seq > ? ORDER BY seq"
        for row in self.conn.execute(sql, (since or 0,)):
            yield int(row["seq"]), row_to_entry(row)

    def count(self) -> int:
        if self._count is None:
            self._count = int(self.conn.execute("SELECT count(*) FROM faq").fetchone()[0])
        return self._count

    def last_seq(self) -> int:
        return int(self.conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()[0])

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def doc_freq(self, terms: Iterable[str]) -> dict[str, int]:
        """Number of entries containing each index token (cached until the next write)."""
        out: dict[str, int] = {}
        missing = []
        for t in terms:
            if t in self._df_cache:
                out[t] = self._df_cache[t]
            else:
                missing.append(t)
        for t in missing:
            row = self.conn.execute("SELECT doc FROM faq_vocab WHERE term = ?", (t,)).fetchone()
            n = int(row[0]) if row else 0
            self._df_cache[t] = out[t] = n
        return out

    def words(self) -> list[str]:
        """Surface English words of the entries (for "did you mean")."""
        if self._words is None:
            self._words = [r[0] for r in self.conn.execute("SELECT word FROM words")]
        return self._words

    def stats(self) -> StoreStats:
        by_cat = {r[0]: r[1] for r in self.conn.execute("SELECT category, count(*) FROM faq GROUP BY 1")}
        by_src = {r[0]: r[1] for r in self.conn.execute("SELECT source, count(*) FROM faq GROUP BY 1")}
        last = self.conn.execute("SELECT max(updated_at) FROM faq").fetchone()[0] or ""
        size = 0
        if str(self.path) != ":memory:":
            for suffix in ("", "-wal"):
                p = Path(str(self.path) + suffix)
                size += p.stat().st_size if p.exists() else 0
        return StoreStats(
            path=str(self.path),
            entries=self.count(),
            by_category=dict(sorted(by_cat.items())),
            by_source=dict(sorted(by_src.items())),
            last_seq=self.last_seq(),
            schema_version=int(self.conn.execute("PRAGMA user_version").fetchone()[0]),
            size_bytes=size,
            last_updated=str(last),
        )

    # --------------------------------------------------------------------------------------- search
    def search(self, query: str, *, limit: int = 5, lang: Lang | None = None) -> SearchResult:
        """Best entries for a customer's question, or no hits when the FAQ does not cover it."""
        from agentdesk.faq.search import search

        return search(self, query, limit=limit, lang=lang)


__all__ = ["DatabaseError", "FaqStore", "ImportSummary", "Rejected", "StoreStats"]
