"""Evaluate FAQ search on a query set (default: tests/data/queries_dev.jsonl against tests/data/faq.jsonl).

    .venv/bin/python benchmarks/eval_faq.py [--faq FILE] [--queries FILE] [--json] [--misses] [--split]
                                            [--pad N]

Prints hit@1/3/5 on answerable queries, no-answer accuracy, per-style and per-language breakdowns, the score
margins around the no-answer threshold, and the naive baseline (character-bigram BM25 over question + answer
+ tags, top hit always returned) side by side. hit@k = a gold id is among the first k hits.

`--split` adds a 2-fold check of the one tuned setting, the no-answer threshold: the queries are split by the
parity of their number; on each half the threshold is chosen from a grid by the rule of docs/faq.md
(maximise useful rejections - 2 * correct answers hidden), and measured on the other half.

`--pad N` adds N synthetic entries (benchmarks/bench_faq.py's generator: the FAQ's own words, shuffled) to the
cache: the same questions must still find their entry among N look-alikes (search quality at scale). The
naive baseline then runs on the padded cache too.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from agentdesk.faq import search as search_mod  # noqa: E402
from agentdesk.faq.importers import load_jsonl  # noqa: E402
from agentdesk.faq.model import FaqEntry  # noqa: E402
from agentdesk.faq.store import FaqStore  # noqa: E402

Searcher = Callable[[str], list[str]]


class NaiveBigramBM25:
    """The reference baseline: character bigrams (CJK) + lower-cased words, BM25, no threshold."""

    def __init__(self, entries: Sequence[FaqEntry], k1: float = 1.2, b: float = 0.75) -> None:
        self.ids = [e.id for e in entries]
        docs = [
            self._toks(" ".join([e.question_zh, e.question_en, e.answer_zh, e.answer_en, *e.tags]))
            for e in entries
        ]
        self.tf = [Counter(d) for d in docs]
        self.len = [len(d) for d in docs]
        self.avg = sum(self.len) / max(1, len(docs))
        df: Counter[str] = Counter()
        for d in docs:
            df.update(set(d))
        n = len(docs)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.k1, self.b = k1, b

    @staticmethod
    def _toks(text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).lower()
        out: list[str] = []
        for m in re.finditer(r"([\u4e00-\u9fff]+)|([a-z0-9]+)", text):
            if m.group(1):
                run = m.group(1)
                out.extend(run[i : i + 2] for i in range(len(run) - 1)) if len(run) > 1 else out.append(run)
            else:
                out.append(m.group(2))
        return out

    def __call__(self, query: str) -> list[str]:
        q = self._toks(query)
        scores = []
        for i, tf in enumerate(self.tf):
            s = 0.0
            for t in q:
                f = tf.get(t, 0)
                if f:
                    s += (
                        self.idf[t]
                        * f
                        * (self.k1 + 1)
                        / (f + self.k1 * (1 - self.b + self.b * self.len[i] / self.avg))
                    )
            if s > 0:
                scores.append((s, self.ids[i]))
        scores.sort(reverse=True)
        return [i for _, i in scores[:5]]


def evaluate(queries: list[dict[str, Any]], searcher: Searcher) -> dict[str, Any]:
    per: list[dict[str, Any]] = []
    for q in queries:
        ids = searcher(q["text"])
        gold = q["gold"]
        rank = next((i + 1 for i, h in enumerate(ids) if h in gold), None)
        per.append(
            {
                "id": q["id"],
                "style": q["style"],
                "lang": q["lang"],
                "gold": gold,
                "got": ids[:5],
                "rank": rank,
            }
        )
    return summarise(per)


def summarise(per: list[dict[str, Any]]) -> dict[str, Any]:
    def block(rows: list[dict[str, Any]]) -> dict[str, Any]:
        ans = [r for r in rows if r["gold"]]
        neg = [r for r in rows if not r["gold"]]
        out: dict[str, Any] = {"n": len(ans)}
        for k in (1, 3, 5):
            out[f"hit@{k}"] = (
                round(sum(1 for r in ans if r["rank"] and r["rank"] <= k) / len(ans), 3) if ans else None
            )
        out["no_answer"] = f"{sum(1 for r in neg if not r['got'])}/{len(neg)}"
        out["answered_wrongly_empty"] = sum(1 for r in ans if not r["got"])
        return out

    by_style: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_lang: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in per:
        by_style[r["style"]].append(r)
        by_lang[r["lang"]].append(r)
    return {
        "overall": block(per),
        "by_style": {k: block(v) for k, v in sorted(by_style.items())},
        "by_lang": {k: block(v) for k, v in sorted(by_lang.items())},
        "misses": [r for r in per if (r["gold"] and r["rank"] != 1) or (not r["gold"] and r["got"])],
    }


THRESHOLD_GRID = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30)


def choose_threshold(rows: list[tuple[dict[str, Any], list[str], float]]) -> float:
    """The grid threshold maximising useful - 2 * lost (ties: the larger), as in docs/faq.md."""
    best_t, best_v = 0.0, 0.0
    for t in THRESHOLD_GRID:
        lost = sum(1 for q, ids, c in rows if q["gold"] and c < t and ids and ids[0] in q["gold"])
        useful = sum(1 for q, ids, c in rows if c < t and ids and (not q["gold"] or ids[0] not in q["gold"]))
        if useful - 2 * lost >= best_v:
            best_t, best_v = t, useful - 2 * lost
    return best_t


def fold_figures(rows: list[tuple[dict[str, Any], list[str], float]], t: float) -> dict[str, Any]:
    ans = [(q, ids) for q, ids, c in rows if q["gold"] for ids in [ids if c >= t else []]]
    neg = [(q, ids, c) for q, ids, c in rows if not q["gold"]]
    return {
        "n": len(ans),
        "hit@1": round(sum(1 for q, ids in ans if ids[:1] and ids[0] in q["gold"]) / len(ans), 3),
        "hit@3": round(sum(1 for q, ids in ans if any(i in q["gold"] for i in ids[:3])) / len(ans), 3),
        "no_answer": f"{sum(1 for _, ids, c in neg if c < t or not ids)}/{len(neg)}",
    }


def two_fold(store: FaqStore, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    saved = search_mod.NO_ANSWER_THRESHOLD
    search_mod.NO_ANSWER_THRESHOLD = 0.0
    rows = []
    for q in queries:
        res = store.search(q["text"], limit=5)
        rows.append((q, [h.id for h in res.hits], res.best_score if res.hits else 0.0))
    search_mod.NO_ANSWER_THRESHOLD = saved
    halves = [[r for r in rows if int(re.sub(r"\D", "", r[0]["id"]) or 0) % 2 == k] for k in (0, 1)]
    out = []
    for k in (0, 1):
        tune, test = halves[k], halves[1 - k]
        t = choose_threshold(tune)
        out.append({"tuned_on": f"half {k}", "threshold": t, "tune": fold_figures(tune, t),
                    "test": fold_figures(test, t), "test_at_shipped": fold_figures(test, saved)})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faq", type=Path, default=ROOT / "tests/data/faq.jsonl")
    ap.add_argument("--queries", type=Path, default=ROOT / "tests/data/queries_dev.jsonl")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--misses", action="store_true", help="list the queries whose top hit is wrong")
    ap.add_argument("--split", action="store_true", help="2-fold check of the no-answer threshold")
    ap.add_argument(
        "--threshold", type=float, default=None, help="override the no-answer threshold (0 = off)"
    )
    ap.add_argument("--pad", type=int, default=0, help="add N synthetic look-alike entries to the cache")
    args = ap.parse_args(argv)
    if args.threshold is not None:
        search_mod.NO_ANSWER_THRESHOLD = args.threshold

    entries = load_jsonl(args.faq)
    if args.pad:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench_faq import generate

        entries = [*entries, *generate(args.pad)]
    queries = [
        json.loads(line) for line in args.queries.read_text(encoding="utf-8").split("\n") if line.strip()
    ]
    store = FaqStore.open(":memory:")
    store.upsert(entries)
    scores: dict[str, float] = {}

    def ours(text: str) -> list[str]:
        res = store.search(text, limit=5)
        scores[text] = res.best_score
        return [h.id for h in res.hits]

    result = {
        "agentdesk": evaluate(queries, ours),
        "naive_baseline": evaluate(queries, NaiveBigramBM25(entries)),
    }
    ans_scores = sorted(scores[q["text"]] for q in queries if q["gold"])
    neg_scores = sorted(scores[q["text"]] for q in queries if not q["gold"])
    result["threshold"] = {
        "no_answer_threshold": search_mod.NO_ANSWER_THRESHOLD,
        "answerable_best_scores_lowest5": ans_scores[:5],
        "no_answer_best_scores": neg_scores,
    }
    if args.split:
        result["two_fold"] = two_fold(store, queries)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    ours_r, base_r = result["agentdesk"], result["naive_baseline"]
    print(
        f"{'slice':<22}{'n':>4}  {'hit@1':>6} {'hit@3':>6} {'hit@5':>6} {'no-ans':>7} | {'naive@1':>7} {'naive@3':>7} {'naive@5':>7}"
    )
    rows = [("overall", ours_r["overall"], base_r["overall"])]
    rows += [(f"style={k}", v, base_r["by_style"][k]) for k, v in ours_r["by_style"].items()]
    rows += [(f"lang={k}", v, base_r["by_lang"][k]) for k, v in ours_r["by_lang"].items()]
    for name, o, b in rows:
        print(
            f"{name:<22}{o['n']:>4}  {o['hit@1']!s:>6} {o['hit@3']!s:>6} {o['hit@5']!s:>6} {o['no_answer']:>7} | "
            f"{b['hit@1']!s:>7} {b['hit@3']!s:>7} {b['hit@5']!s:>7}"
        )
    th = result["threshold"]
    print(
        f"\nno-answer threshold {th['no_answer_threshold']}: lowest answerable best scores {th['answerable_best_scores_lowest5']}"
    )
    print(f"no-answer queries' best scores {th['no_answer_best_scores']}")
    if args.split:
        print("\n2-fold (threshold chosen on one half, measured on the other):")
        for f in result["two_fold"]:
            print(
                f"  tuned on {f['tuned_on']}: threshold {f['threshold']}; tune {f['tune']}; "
                f"held-out {f['test']}; held-out at the shipped threshold {f['test_at_shipped']}"
            )
    if args.misses:
        print("\nmisses (ours):")
        for r in ours_r["misses"]:
            q = next(q for q in queries if q["id"] == r["id"])
            print(
                f"  {r['id']} [{r['style']}/{r['lang']}] gold={r['gold']} got={r['got'][:3]} score={scores[q['text']]:.3f} {q['text'][:60]}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
