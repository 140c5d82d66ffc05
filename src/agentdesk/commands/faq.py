"""`agentdesk faq import|sync|search|stats`: the offline FAQ cache from the command line.

Exit codes: 0 ok; 1 done but some rows were rejected, or no match for `search`; 2 usage or unusable
input (file, URL, database). Errors are one clear line on stderr, never a traceback.
Without `--db` the cache is `agentdesk.paths.default_faq_db()` (`AGENTDESK_DATA_DIR` overrides it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agentdesk.faq.importers import FaqFileError, import_file
from agentdesk.faq.store import DatabaseError, FaqStore, ImportSummary
from agentdesk.faq.sync import SyncError, sync
from agentdesk.paths import default_faq_db


class _Progress:
    """`\\r` updates on a TTY; otherwise nothing until the final count line."""

    def __init__(self, label: str, unit: str = "rows") -> None:
        self.label, self.unit = label, unit
        self.tty = sys.stderr.isatty()
        self.last = 0

    def __call__(self, done: int, total: int | None) -> None:
        self.last = done
        if self.tty:
            of = f"/{total}" if total else ""
            print(f"\r{self.label}: {done}{of} {self.unit}", end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.tty:
            print("\r", end="", file=sys.stderr)
        print(f"{self.label}: {self.last} {self.unit}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agentdesk faq", description="The offline FAQ cache.")
    sub = p.add_subparsers(dest="cmd", required=True)

    def db(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--db", type=Path, default=None, help="cache file (default: user data dir)")

    sp = sub.add_parser("import", help="import a JSONL, CSV or Markdown file (idempotent by id)")
    sp.add_argument("file", type=Path)
    db(sp)
    sp = sub.add_parser("sync", help="sync from an HTTP URL (ETag / If-None-Match, ?since=)")
    sp.add_argument("url")
    db(sp)
    sp = sub.add_parser("search", help="search the cache")
    sp.add_argument("query")
    db(sp)
    sp.add_argument("--limit", type=int, default=5)
    sp.add_argument("--lang", choices=["zh", "en"], default=None)
    sp.add_argument("--json", action="store_true", help="print a JSON array of hits (best first)")
    sp = sub.add_parser("stats", help="show what the cache holds")
    db(sp)
    return p


def _open(path: Path | None) -> FaqStore:
    store = FaqStore.open(path or default_faq_db())
    if store.moved_aside is not None:
        print(
            f"warning: the FAQ cache was unreadable and was moved to {store.moved_aside}; "
            "a new empty cache was created (run `agentdesk faq import` or `sync` to refill it)",
            file=sys.stderr,
        )
    return store


def _print_summary(s: ImportSummary) -> None:
    line = f"added {s.added}, updated {s.updated}, unchanged {s.unchanged}, rejected {len(s.rejected)}"
    if s.deleted:
        line += f", deleted {s.deleted}"
    print(line)
    for r in s.rejected:
        print(f"  line {r.line}: {r.reason}" + (f" (id {r.id})" if r.id else ""))


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        store = _open(args.db)
    except DatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.cmd == "import":
            bar = _Progress("importing")
            try:
                summary = import_file(store, args.file, progress=bar)
            except FaqFileError as exc:
                print(f"error: {exc}; the cache was not changed", file=sys.stderr)
                return 2
            bar.finish()
            _print_summary(summary)
            return 1 if summary.rejected else 0
        if args.cmd == "sync":
            bar = _Progress("downloading", "bytes")
            try:
                result = sync(store, args.url, progress=bar)
            except SyncError as exc:
                print(f"error: sync failed: {exc}; the cache was not changed", file=sys.stderr)
                return 2
            if result.not_modified:
                print("not modified (304): the cache is up to date")
                return 0
            bar.finish()
            _print_summary(result.summary)
            return 1 if result.summary.rejected else 0
        if args.cmd == "search":
            res = store.search(args.query, limit=max(1, args.limit), lang=args.lang)
            if args.json:
                out = [
                    {
                        "id": h.id,
                        "score": h.score,
                        "question": h.entry.question(h.lang)
                        or h.entry.question("en" if h.lang == "zh" else "zh"),
                        "answer": h.entry.answer(h.lang) or h.entry.answer("en" if h.lang == "zh" else "zh"),
                        "lang": h.lang,
                        "snippet": {"text": h.snippet.text, "matches": [list(m) for m in h.snippet.matches]},
                    }
                    for h in res.hits
                ]
                print(json.dumps(out, ensure_ascii=False))
            else:
                if res.suggestion:
                    print(f"did you mean: {res.suggestion}")
                if not res.hits:
                    print(f"no match (best score {res.best_score:.2f})")
                for h in res.hits:
                    print(f"{h.score:.2f}  {h.id}  {h.entry.question(h.lang)}")
                    print(f"      {h.snippet.text}")
            return 0 if res.hits else 1
        st = store.stats()
        print(f"cache: {st.path}")
        print(f"entries: {st.entries} (schema v{st.schema_version}, change counter {st.last_seq})")
        print(f"size: {st.size_bytes / 1024:.0f} KiB; newest entry: {st.last_updated or '-'}")
        for cat, n in st.by_category.items():
            print(f"  {cat or '(none)'}: {n}")
        for src, n in st.by_source.items():
            print(f"  source {src or '(none)'}: {n}")
        return 0
    finally:
        store.close()
