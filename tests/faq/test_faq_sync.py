"""`sync` against a real HTTP server on 127.0.0.1 (stdlib http.server in a thread), serving the export
of a real server-side FAQ store."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from agentdesk.faq.importers import import_file
from agentdesk.faq.model import FaqEntry
from agentdesk.faq.store import FaqStore
from agentdesk.faq.sync import SyncError, export_jsonl, sync


@dataclass
class Behaviour:
    mode: str = "ok"  # ok | 500 | truncate | malformed | ignore_since
    requests: list[dict[str, str | None]] = field(default_factory=list)


class FaqServer:
    def __init__(self, store: FaqStore) -> None:
        self.store = store
        self.behaviour = Behaviour()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                url = urlparse(self.path)
                since_raw = parse_qs(url.query).get("since", [None])[0]
                outer.behaviour.requests.append(
                    {"since": since_raw, "inm": self.headers.get("If-None-Match")}
                )
                mode = outer.behaviour.mode
                if mode == "500":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with outer.lock:
                    since = None if (since_raw is None or mode == "ignore_since") else int(since_raw)
                    body, headers = export_jsonl(outer.store, since=since)
                if self.headers.get("If-None-Match") == headers["ETag"]:
                    self.send_response(304)
                    self.send_header("ETag", headers["ETag"])
                    self.end_headers()
                    return
                data = body.encode()
                if mode == "malformed":
                    data += b'{"id": "broken", "question_zh": \n'
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                if mode == "truncate":
                    self.send_header("Content-Length", str(len(data) + 5000))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/faq.jsonl"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path: Path, faq_file: Path) -> Iterator[FaqServer]:
    store = FaqStore.open(tmp_path / "server.sqlite", check_same_thread=False)
    import_file(store, faq_file)
    srv = FaqServer(store)
    yield srv
    srv.close()
    store.close()


def _edit(srv: FaqServer, id_: str, **changes: str) -> None:
    with srv.lock:
        e = srv.store.get(id_)
        assert e is not None
        fields = {f: getattr(e, f) for f in FaqEntry.__dataclass_fields__}
        srv.store.upsert([FaqEntry(**{**fields, **changes})])


def test_full_then_304_then_incremental(tmp_path: Path, server: FaqServer) -> None:
    client = FaqStore.open(tmp_path / "client.sqlite")
    first = sync(client, server.url)
    assert first.status == 200 and not first.incremental
    assert first.summary.added == 160 and client.count() == 160
    assert first.etag and first.seq == 160
    assert client.get("faq-016") is not None and client.get("faq-016").source == server.url  # type: ignore[union-attr]

    second = sync(client, server.url)
    assert second.not_modified and second.status == 304
    assert server.behaviour.requests[-1] == {"since": "160", "inm": first.etag}

    _edit(server, "faq-016", answer_en="Shipping is free from ¥99.")
    third = sync(client, server.url)
    assert third.status == 200 and third.incremental
    assert (third.summary.added, third.summary.updated, third.summary.unchanged) == (0, 1, 0)
    assert client.get("faq-016").answer_en == "Shipping is free from ¥99."  # type: ignore[union-attr]
    assert client.count() == 160
    client.close()


def test_full_export_deletes_entries_the_server_dropped(tmp_path: Path, server: FaqServer) -> None:
    client = FaqStore.open(tmp_path / "client.sqlite")
    sync(client, server.url)
    with server.lock:
        server.store.conn.execute("DELETE FROM faq WHERE id = 'faq-160'")
        server.store.conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'last_seq'")
    server.behaviour.mode = "ignore_since"  # the server sends a full export
    result = sync(client, server.url)
    assert not result.incremental and result.summary.deleted == 1
    assert client.get("faq-160") is None and client.count() == 159
    client.close()


@pytest.mark.parametrize("mode", ["500", "truncate"])
def test_failed_sync_leaves_the_previous_cache_usable(tmp_path: Path, server: FaqServer, mode: str) -> None:
    client = FaqStore.open(tmp_path / "client.sqlite")
    sync(client, server.url)
    state = client.get_meta(f"sync:{server.url}")
    _edit(server, "faq-016", answer_en="CHANGED")
    server.behaviour.mode = mode
    with pytest.raises(SyncError) as err:
        sync(client, server.url)
    assert (
        ("503" in str(err.value))
        if mode == "500"
        else ("truncated" in str(err.value) or "Protocol" in str(err.value))
    )
    assert client.count() == 160
    assert client.get("faq-016").answer_en != "CHANGED"  # type: ignore[union-attr]
    assert client.get_meta(f"sync:{server.url}") == state
    assert client.search("运费").hits[0].id == "faq-016"
    server.behaviour.mode = "ok"
    assert sync(client, server.url).summary.updated == 1  # and it recovers
    client.close()


def test_malformed_row_is_rejected_and_the_rest_applied(tmp_path: Path, server: FaqServer) -> None:
    client = FaqStore.open(tmp_path / "client.sqlite")
    server.behaviour.mode = "malformed"
    result = sync(client, server.url)
    assert result.summary.added == 160
    assert [r.line for r in result.summary.rejected] == [161]
    assert "invalid JSON" in result.summary.rejected[0].reason
    assert result.summary.deleted == 0
    client.close()


def test_interrupted_sync_leaves_the_previous_cache_usable(tmp_path: Path, server: FaqServer) -> None:
    """Ctrl-C in the middle of a download (raised from the progress callback, as the CLI would see it)."""
    client = FaqStore.open(tmp_path / "client.sqlite")
    sync(client, server.url)
    _edit(server, "faq-001", answer_en="NEW ONE")
    server.behaviour.mode = "ignore_since"  # a big full body, so the download takes several chunks

    def interrupt(done: int, total: int | None) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync(client, server.url, progress=interrupt)
    assert client.get("faq-001").answer_en != "NEW ONE"  # type: ignore[union-attr]
    assert client.count() == 160 and client.search("运费").hits
    client.close()
    reopened = FaqStore.open(tmp_path / "client.sqlite")
    assert reopened.moved_aside is None and reopened.count() == 160
    reopened.close()


def test_export_format_and_headers(tmp_path: Path, faq_file: Path) -> None:
    store = FaqStore.open(tmp_path / "s.sqlite")
    import_file(store, faq_file)
    body, headers = export_jsonl(store)
    lines = body.splitlines()
    assert len(lines) == 160 and json.loads(lines[0])["id"] == "faq-001"
    assert headers["ETag"] == '"faq-160-160"' and headers["X-Faq-Seq"] == "160"
    body2, headers2 = export_jsonl(store, since=150)
    assert len(body2.splitlines()) == 10 and headers2["X-Faq-Since"] == "150"
    store.close()
