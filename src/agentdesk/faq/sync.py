"""HTTP sync of the FAQ cache, and the JSONL export a server (the desk bot) serves for it.

Protocol (`GET URL`, JSONL body in the shared format, one entry per line):

* The server answers with `ETag: "faq-<last_seq>-<count>"` (the state of its whole FAQ) and
  `X-Faq-Seq: <last_seq>`. `seq` is the server's change counter: every added or changed entry gets the next
  value (`FaqStore.last_seq()`), so it never goes backwards and does not depend on clocks.
* `?since=N` asks only for the entries whose seq is greater than N; a server that honours it echoes
  `X-Faq-Since: N`. Without that header the body is a full export, and entries of that source missing from
  it are deleted locally (only if no row was rejected).
* `If-None-Match: <etag>` -> `304 Not Modified` when nothing changed.

The client downloads the whole body first (a truncated body or a network error changes nothing), parses it
(malformed rows are rejected with their line numbers), then applies everything in ONE transaction together
with the new sync state (`sync:<url>` in `meta`), so an interrupted sync leaves the previous cache intact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx

from agentdesk.faq.importers import parse_jsonl
from agentdesk.faq.store import FaqStore, ImportSummary, Progress


class SyncError(Exception):
    """The sync failed; the cache is unchanged."""


@dataclass(slots=True)
class SyncResult:
    status: int
    not_modified: bool = False
    incremental: bool = False
    etag: str | None = None
    seq: int | None = None
    summary: ImportSummary = field(default_factory=ImportSummary)


def export_jsonl(store: FaqStore, since: int | None = None) -> tuple[str, dict[str, str]]:
    """The JSONL body and the headers (`ETag`, `X-Faq-Seq`, and `X-Faq-Since` when `since` is given)."""
    lines = []
    for _, e in store.all_entries(since=since):
        obj = {
            "id": e.id,
            "category": e.category,
            "question_zh": e.question_zh,
            "question_en": e.question_en,
            "answer_zh": e.answer_zh,
            "answer_en": e.answer_en,
            "tags": list(e.tags),
            "updated_at": e.updated_at,
        }
        lines.append(json.dumps(obj, ensure_ascii=False) + "\n")
    headers = {
        "ETag": etag_for(store),
        "X-Faq-Seq": str(store.last_seq()),
        "Content-Type": "application/jsonl",
    }
    if since is not None:
        headers["X-Faq-Since"] = str(since)
    return "".join(lines), headers


def etag_for(store: FaqStore) -> str:
    return f'"faq-{store.last_seq()}-{store.count()}"'


def sync(
    store: FaqStore,
    url: str,
    *,
    client: httpx.Client | None = None,
    progress: Progress | None = None,
    timeout: float = 30.0,
) -> SyncResult:
    """Bring the cache up to date from `url`. Raises SyncError (cache unchanged) on any failure."""
    state_key = f"sync:{url}"
    state = json.loads(store.get_meta(state_key) or "{}")
    headers = {"Accept": "application/jsonl"}
    params: dict[str, str] = {}
    if state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state.get("seq") is not None:
        params["since"] = str(state["seq"])
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=True)
    try:
        body = bytearray()
        with http.stream("GET", url, headers=headers, params=params) as resp:
            if resp.status_code == 304:
                return SyncResult(304, not_modified=True, etag=state.get("etag"), seq=state.get("seq"))
            if resp.status_code != 200:
                raise SyncError(f"{url}: HTTP {resp.status_code} {resp.reason_phrase}")
            total = (
                int(resp.headers["Content-Length"])
                if resp.headers.get("Content-Length", "").isdigit()
                else None
            )
            for chunk in resp.iter_bytes():
                body.extend(chunk)
                if progress is not None:
                    progress(len(body), total)
            if total is not None and len(body) != total:
                raise SyncError(f"{url}: body truncated ({len(body)} of {total} bytes)")
            resp_headers = resp.headers
    except httpx.HTTPError as exc:
        raise SyncError(f"{url}: {type(exc).__name__}: {exc}") from exc
    finally:
        if own:
            http.close()
    try:
        text = bytes(body).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SyncError(f"{url}: body is not UTF-8") from exc
    if text and not text.endswith("\n"):
        raise SyncError(f"{url}: body does not end with a newline (truncated?)")
    parsed = parse_jsonl(text, source=url)
    incremental = "since" in params and resp_headers.get("X-Faq-Since") == params["since"]
    etag = resp_headers.get("ETag")
    seq_header = resp_headers.get("X-Faq-Seq", "")
    seq = int(seq_header) if seq_header.isdigit() else None
    with store.transaction():
        summary = store.upsert((e for _, e in parsed.entries), _in_transaction=True)
        summary.rejected = list(parsed.rejected)
        if not incremental and not parsed.rejected:
            summary.deleted = store.delete_except({e.id for _, e in parsed.entries}, source=url)
        store.set_meta(state_key, json.dumps({"etag": etag, "seq": seq}))
    return SyncResult(200, incremental=incremental, etag=etag, seq=seq, summary=summary)
