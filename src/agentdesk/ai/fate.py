"""What happened to each draft: the quality signal of the engine.

    fates = FateStore.open(paths.data_dir() / "drafts.sqlite")
    fates.record(result, "edited", conversation_id="c-120402", final_text=sent_text)
    fates.summary()   # acceptance rate, mean edit distance, latencies

Fates: `approved` (sent unchanged), `edited` (sent after changes; the normalised edit distance is stored),
`rejected` (not used), `regenerated` (the agent asked for another draft, e.g. with a tone).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agentdesk.ai.types import DraftResult
from agentdesk.sqlite_db import open_db

Fate = Literal["approved", "edited", "rejected", "regenerated"]
FATES: tuple[Fate, ...] = ("approved", "edited", "rejected", "regenerated")

MIGRATIONS = [
    """
    CREATE TABLE draft_fate (
        id INTEGER PRIMARY KEY,
        draft_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        fate TEXT NOT NULL CHECK (fate IN ('approved', 'edited', 'rejected', 'regenerated')),
        edit_distance REAL,
        route TEXT NOT NULL,
        source TEXT NOT NULL,
        model TEXT,
        faq_ids TEXT NOT NULL,
        confidence REAL NOT NULL,
        first_chunk_ms REAL,
        total_ms REAL,
        tone TEXT,
        fallback_reason TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX draft_fate_conversation ON draft_fate (conversation_id);
    CREATE INDEX draft_fate_created ON draft_fate (created_at);
    """,
]


def edit_distance(a: str, b: str) -> float:
    """Levenshtein distance normalised by the longer text: 0 = identical, 1 = nothing in common."""
    if a == b:
        return 0.0
    if not a or not b:
        return 1.0
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] / len(a)


@dataclass(frozen=True, slots=True)
class FateRecord:
    draft_id: str
    conversation_id: str
    fate: Fate
    edit_distance: float | None
    route: str
    source: str
    model: str | None
    faq_ids: tuple[str, ...]
    confidence: float
    first_chunk_ms: float | None
    total_ms: float | None
    created_at: float


@dataclass(frozen=True, slots=True)
class FateSummary:
    total: int
    counts: dict[str, int]
    #: drafts sent unchanged / all recorded drafts
    acceptance_rate: float
    #: drafts sent (unchanged or edited) / all recorded drafts
    sent_rate: float
    #: mean normalised edit distance of the edited drafts (None when there are none)
    mean_edit_distance: float | None
    mean_first_chunk_ms: float | None
    mean_total_ms: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "counts": self.counts,
            "acceptance_rate": self.acceptance_rate,
            "sent_rate": self.sent_rate,
            "mean_edit_distance": self.mean_edit_distance,
            "mean_first_chunk_ms": self.mean_first_chunk_ms,
            "mean_total_ms": self.mean_total_ms,
        }


class FateStore:
    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path | str, *, check_same_thread: bool = True) -> FateStore:
        opened = open_db(path, MIGRATIONS, check_same_thread=check_same_thread)
        return cls(opened.conn, opened.path)

    def close(self) -> None:
        self.conn.close()

    def record(
        self,
        result: DraftResult,
        fate: Fate,
        *,
        conversation_id: str,
        final_text: str | None = None,
        draft_id: str | None = None,
        now: float | None = None,
    ) -> FateRecord:
        if fate not in FATES:
            raise ValueError(f"unknown fate {fate!r}")
        distance: float | None
        if fate == "approved":
            distance = 0.0
        elif fate == "edited":
            if final_text is None:
                raise ValueError("an edited draft needs the text that was sent")
            distance = round(edit_distance(result.text, final_text), 4)
        else:
            distance = None
        rec = FateRecord(
            draft_id=draft_id or uuid.uuid4().hex,
            conversation_id=conversation_id,
            fate=fate,
            edit_distance=distance,
            route=result.route,
            source=result.source,
            model=result.model,
            faq_ids=result.faq_ids,
            confidence=result.confidence,
            first_chunk_ms=result.first_chunk_ms,
            total_ms=result.total_ms,
            created_at=time.time() if now is None else now,
        )
        self.conn.execute(
            "INSERT INTO draft_fate (draft_id, conversation_id, fate, edit_distance, route, source, model, faq_ids,"
            " confidence, first_chunk_ms, total_ms, tone, fallback_reason, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rec.draft_id,
                rec.conversation_id,
                rec.fate,
                rec.edit_distance,
                rec.route,
                rec.source,
                rec.model,
                json.dumps(list(rec.faq_ids)),
                rec.confidence,
                rec.first_chunk_ms,
                rec.total_ms,
                result.tone,
                result.fallback_reason,
                rec.created_at,
            ),
        )
        return rec

    def records(self, *, conversation_id: str | None = None) -> list[FateRecord]:
        sql = (
            "SELECT draft_id, conversation_id, fate, edit_distance, route, source, model, faq_ids, confidence,"
            " first_chunk_ms, total_ms, created_at FROM draft_fate"
        )
        args: tuple[str, ...] = ()
        if conversation_id is not None:
            sql += " WHERE conversation_id = ?"
            args = (conversation_id,)
        rows = self.conn.execute(sql + " ORDER BY id", args).fetchall()
        return [
            FateRecord(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(json.loads(r[7])), r[8], r[9], r[10], r[11]
            )
            for r in rows
        ]

    def summary(self, *, since: float | None = None) -> FateSummary:
        where, args = ("WHERE created_at >= ?", (since,)) if since is not None else ("", ())
        counts: dict[str, int] = dict.fromkeys(FATES, 0)
        for fate, n in self.conn.execute(
            f"SELECT fate, count(*) FROM draft_fate {where} GROUP BY fate", args
        ):
            counts[fate] = n
        total = sum(counts.values())
        row = self.conn.execute(
            "SELECT avg(CASE WHEN fate = 'edited' THEN edit_distance END), avg(first_chunk_ms), avg(total_ms)"
            f" FROM draft_fate {where}",
            args,
        ).fetchone()
        return FateSummary(
            total=total,
            counts=counts,
            acceptance_rate=round(counts["approved"] / total, 4) if total else 0.0,
            sent_rate=round((counts["approved"] + counts["edited"]) / total, 4) if total else 0.0,
            mean_edit_distance=None if row[0] is None else round(row[0], 4),
            mean_first_chunk_ms=None if row[1] is None else round(row[1], 1),
            mean_total_ms=None if row[2] is None else round(row[2], 1),
        )
