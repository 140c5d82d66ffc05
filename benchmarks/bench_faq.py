"""FAQ cache benchmark: synthetic 10k / 100k mixed zh/en entries.

    .venv/bin/python benchmarks/bench_faq.py [--sizes 10000 100000] [--queries 200] [--json]

Compares, on the same generated data (each in its own on-disk database):

* `agentdesk`: `FaqStore` (CJK bigram + stemmed English + pinyin tokens, FTS5, Python re-ranking);
* `fts5-default`: sqlite-utils `enable_fts` with the default `unicode61` tokenizer, `ORDER BY rank`;
* `fts5-charsplit`: the ECOSYSTEM.md section 2 recipe (every CJK character a token, `porter unicode61`,
  one phrase per whitespace-separated term, implicit AND), `ORDER BY rank`;
* `rapidfuzz`: a brute-force `process.extract` scan (WRatio) over the questions (fewer queries: it is slow).

Reports import time, size on disk and search latency p50/p95 (ms, warm), and writes
`benchmarks/results/bench_faq-<n>.json`. The entries are built from the vocabulary of the shipped FAQ (jieba
words and English words, Zipf-distributed), the queries are the dev queries (all styles) plus bare 2-character
Chinese terms and English words.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import sqlite_utils  # noqa: E402

from agentdesk.faq.importers import load_jsonl  # noqa: E402
from agentdesk.faq.model import FaqEntry  # noqa: E402
from agentdesk.faq.store import FaqStore  # noqa: E402
from agentdesk.faq.text import segment  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
_CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")


def _vocab(entries: list[FaqEntry]) -> tuple[list[str], list[str]]:
    zh: dict[str, int] = {}
    en: dict[str, int] = {}
    for e in entries:
        for w in segment(e.question_zh + e.answer_zh + "".join(e.tags)):
            if _CJK.match(w):
                zh[w] = zh.get(w, 0) + 1
        for w in re.findall(r"[A-Za-z]+", e.question_en + " " + e.answer_en):
            en[w.lower()] = en.get(w.lower(), 0) + 1
    return sorted(zh, key=lambda w: -zh[w]), sorted(en, key=lambda w: -en[w])


def generate(n: int, seed: int = 7) -> list[FaqEntry]:
    base = load_jsonl(ROOT / "tests" / "data" / "faq.jsonl")
    zh, en = _vocab(base)
    rnd = random.Random(seed)
    zw = [1 / (i + 1) ** 0.9 for i in range(len(zh))]
    ew = [1 / (i + 1) ** 0.9 for i in range(len(en))]

    def zs(k: int) -> str:
        return "".join(rnd.choices(zh, zw, k=k))

    def es(k: int) -> str:
        return " ".join(rnd.choices(en, ew, k=k))

    out = []
    for i in range(n):
        out.append(
            FaqEntry(
                id=f"syn-{i:06d}",
                category=rnd.choice(["orders", "shipping", "returns", "refunds", "payment", "account"]),
                question_zh=zs(rnd.randint(3, 7)) + "？",
                question_en=es(rnd.randint(4, 9)).capitalize() + "?",
                answer_zh=zs(rnd.randint(12, 30)) + "。",
                answer_en=es(rnd.randint(12, 30)).capitalize() + ".",
                tags=(*rnd.choices(zh[:400], k=2), rnd.choice(en[:400])),
                updated_at="2026-03-01",
            )
        )
    return out


def queries(k: int, seed: int = 11) -> list[str]:
    dev = [
        json.loads(x)["text"] for x in (ROOT / "tests/data/queries_dev.jsonl").read_text().splitlines() if x
    ]
    base = load_jsonl(ROOT / "tests" / "data" / "faq.jsonl")
    zh, en = _vocab(base)
    rnd = random.Random(seed)
    two = [w for w in zh if len(w) == 2][:300]
    extra = [rnd.choice(two) for _ in range(k // 4)] + [rnd.choice(en[:500]) for _ in range(k // 4)]
    qs = dev + extra
    rnd.shuffle(qs)
    return qs[:k]


def two_char_terms(k: int = 100, seed: int = 5) -> list[str]:
    """Bare 2-character Chinese terms (退款, 运费…) for the index-only comparison."""
    zh, _ = _vocab(load_jsonl(ROOT / "tests" / "data" / "faq.jsonl"))
    two = [w for w in zh if len(w) == 2][:300]
    return random.Random(seed).sample(two, min(k, len(two)))


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def _lat(fn: Callable[[str], Any], qs: list[str], reps: int = 2) -> dict[str, float]:
    for q in qs[:20]:
        fn(q)  # warm caches
    times = []
    for _ in range(reps):
        for q in qs:
            t = time.perf_counter()
            fn(q)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 3),
        "n": len(times),
    }


def bench_agentdesk(entries: list[FaqEntry], qs: list[str], tmp: Path) -> dict[str, Any]:
    path = tmp / "agentdesk.sqlite"
    t = time.perf_counter()
    store = FaqStore.open(path)
    store.upsert(entries)
    store.optimize()
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    imp = time.perf_counter() - t
    res: dict[str, Any] = {"import_s": round(imp, 2), "size_mb": round(_size(path) / 1e6, 1)}
    res.update(_lat(lambda q: store.search(q, limit=5), qs))
    sql = "SELECT rowid FROM faq_fts WHERE faq_fts MATCH ? ORDER BY rank LIMIT 10"
    res["index_only_2char"] = _lat(lambda t: store.conn.execute(sql, [f'"{t}"']).fetchall(), two_char_terms())
    store.close()
    return res


def _plain_rows(entries: list[FaqEntry]) -> list[dict[str, Any]]:
    return [
        {
            "id": e.id,
            "question_zh": e.question_zh,
            "question_en": e.question_en,
            "answer_zh": e.answer_zh,
            "answer_en": e.answer_en,
            "tags": " ".join(e.tags),
        }
        for e in entries
    ]


def bench_fts_default(entries: list[FaqEntry], qs: list[str], tmp: Path) -> dict[str, Any]:
    path = tmp / "default.sqlite"
    t = time.perf_counter()
    db = sqlite_utils.Database(path)
    db["faq"].insert_all(_plain_rows(entries), pk="id", batch_size=1000)
    db["faq"].enable_fts(
        ["question_zh", "question_en", "answer_zh", "answer_en", "tags"], create_triggers=True
    )
    db["faq"].optimize()
    imp = time.perf_counter() - t

    def run(q: str) -> list[Any]:
        terms = [w for w in re.findall(r"\w+", q.lower())]
        if not terms:
            return []
        match = " OR ".join(f'"{w}"' for w in terms)
        sql = "SELECT rowid FROM faq_fts WHERE faq_fts MATCH ? ORDER BY rank LIMIT 5"
        return db.execute(sql, [match]).fetchall()

    res = {"import_s": round(imp, 2), "size_mb": round(_size(path) / 1e6, 1)}
    res.update(_lat(run, qs))
    db.close()
    return res


def bench_charsplit(entries: list[FaqEntry], qs: list[str], tmp: Path) -> dict[str, Any]:
    path = tmp / "charsplit.sqlite"

    def spaced(text: str) -> str:
        return _CJK.sub(r" \1 ", text)

    t = time.perf_counter()
    db = sqlite_utils.Database(path)
    rows = _plain_rows(entries)
    for r in rows:
        r["seg"] = spaced(
            " ".join([r["question_zh"], r["question_en"], r["answer_zh"], r["answer_en"], r["tags"]])
        )
    db["faq"].insert_all(rows, pk="id", batch_size=1000)
    db["faq"].enable_fts(["seg"], tokenize="porter unicode61", create_triggers=True)
    db["faq"].optimize()
    imp = time.perf_counter() - t

    def run(q: str) -> list[Any]:
        phrases = []
        for term in q.split():
            toks = spaced(term).split()
            toks = [x for x in toks if re.match(r"\w", x)]
            if toks:
                phrases.append('"' + " ".join(toks).replace('"', '""') + '"')
        if not phrases:
            return []
        sql = "SELECT rowid FROM faq_fts WHERE faq_fts MATCH ? ORDER BY rank LIMIT 5"
        return db.execute(sql, [" ".join(phrases)]).fetchall()

    res: dict[str, Any] = {"import_s": round(imp, 2), "size_mb": round(_size(path) / 1e6, 1)}
    res.update(_lat(run, qs))
    res["index_only_2char"] = _lat(run, two_char_terms())
    db.close()
    return res


def bench_rapidfuzz(entries: list[FaqEntry], qs: list[str]) -> dict[str, Any]:
    from rapidfuzz import fuzz, process

    t = time.perf_counter()
    choices = [f"{e.question_zh} {e.question_en} {' '.join(e.tags)}" for e in entries]
    imp = time.perf_counter() - t
    res: dict[str, Any] = {"import_s": round(imp, 2), "size_mb": 0.0, "note": "in memory, questions only"}
    res.update(_lat(lambda q: process.extract(q, choices, scorer=fuzz.WRatio, limit=5), qs[:40], reps=1))
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--skip", nargs="*", default=[], help="approaches to skip (e.g. rapidfuzz)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    qs = queries(args.queries)
    all_results: dict[str, Any] = {}
    for n in args.sizes:
        entries = generate(n)
        avg_chars = sum(len(e.question_zh + e.question_en + e.answer_zh + e.answer_en) for e in entries) / n
        tmp = Path(tempfile.mkdtemp(prefix="bench_faq_"))
        try:
            res: dict[str, Any] = {"entries": n, "avg_chars": round(avg_chars), "queries": len(qs)}
            res["agentdesk"] = bench_agentdesk(entries, qs, tmp)
            if "fts5-default" not in args.skip:
                res["fts5-default"] = bench_fts_default(entries, qs, tmp)
            if "fts5-charsplit" not in args.skip:
                res["fts5-charsplit"] = bench_charsplit(entries, qs, tmp)
            if "rapidfuzz" not in args.skip:
                res["rapidfuzz"] = bench_rapidfuzz(entries, qs)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        (RESULTS / f"bench_faq-{n}.json").write_text(json.dumps(res, indent=2))
        all_results[str(n)] = res
        if not args.json:
            print(f"\n{n} entries (avg {res['avg_chars']} chars), {len(qs)} queries")
            print(f"{'approach':<16}{'import s':>10}{'size MB':>9}{'p50 ms':>9}{'p95 ms':>9}")
            for name in ("agentdesk", "fts5-default", "fts5-charsplit", "rapidfuzz"):
                r = res.get(name)
                if r:
                    two = r.get("index_only_2char")
                    extra = (
                        f"   2-char term, index only: p50 {two['p50_ms']} / p95 {two['p95_ms']} ms"
                        if two
                        else ""
                    )
                    print(
                        f"{name:<16}{r['import_s']:>10}{r['size_mb']:>9}{r['p50_ms']:>9}{r['p95_ms']:>9}{extra}"
                    )
    if args.json:
        print(json.dumps(all_results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
