"""A real OpenAI-compatible streaming server for tests (stdlib only, 127.0.0.1, port 0, in a thread).

Each test scripts it: a list of `Step`s, one per incoming request (the last one repeats). A step can answer
with an HTTP error, delay the headers, delay every chunk, stall mid-stream, or close the connection
mid-stream. Every request body is kept in `server.requests`, so a test can assert on exactly what the
engine sent (redaction) or that nothing was sent at all (circuit breaker).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Step:
    status: int = 200
    #: content deltas, streamed one SSE event each
    chunks: list[str] = field(default_factory=list)
    headers_delay: float = 0.0
    chunk_delay: float = 0.0
    #: after this many chunks, go silent for `stall_for` seconds
    stall_after: int | None = None
    stall_for: float = 0.0
    #: after this many chunks, close the connection (no finish_reason, no [DONE])
    close_after: int | None = None
    #: send deltas as tool-call arguments instead of content
    as_tool_call: bool = False


def json_answer(
    reply: str,
    *,
    faq_ids: list[str] | None = None,
    confidence: float = 0.9,
    route: str = "ai_ok",
    reason: str = "answered from the FAQ",
    language: str = "en",
    pieces: int = 6,
) -> list[str]:
    """A structured answer as the model would stream it: one JSON object cut into `pieces` deltas."""
    text = json.dumps(
        {
            "reply": reply,
            "faq_ids": faq_ids or [],
            "confidence": confidence,
            "route": route,
            "reason": reason,
            "language": language,
        },
        ensure_ascii=False,
    )
    size = max(1, len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)]


class ScriptedLLM:
    def __init__(self, steps: list[Step] | None = None) -> None:
        self.steps: list[Step] = list(steps or [Step(chunks=json_answer("ok"))])
        self.requests: list[dict[str, Any]] = []
        self._release = threading.Event()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _json(self, code: int, obj: object) -> None:
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                req = json.loads(self.rfile.read(length) or b"{}")
                with owner._lock:
                    index = len(owner.requests)
                    owner.requests.append(req)
                    step = owner.steps[min(index, len(owner.steps) - 1)]
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._json(404, {"error": {"message": "not found"}})
                    return
                if step.headers_delay:
                    owner._release.wait(step.headers_delay)
                if step.status != 200:
                    self._json(
                        step.status, {"error": {"message": "scripted failure", "type": "server_error"}}
                    )
                    return
                self._stream(step, req.get("model", "m"))

            def _stream(self, step: Step, model: str) -> None:
                cid, created = "chatcmpl-" + uuid.uuid4().hex[:12], int(time.time())

                def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
                    obj = {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    return b"data: " + json.dumps(obj).encode() + b"\n\n"

                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    self.wfile.write(event({"role": "assistant", "content": ""}))
                    self.wfile.flush()
                    for i, piece in enumerate(step.chunks):
                        if step.close_after is not None and i == step.close_after:
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        if step.stall_after is not None and i == step.stall_after:
                            owner._release.wait(step.stall_for)
                        if step.chunk_delay:
                            owner._release.wait(step.chunk_delay)
                        if step.as_tool_call:
                            delta: dict[str, Any] = {
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": "call_1",
                                        "type": "function",
                                        "function": {"name": "draft", "arguments": piece},
                                    }
                                ]
                            }
                        else:
                            delta = {"content": piece}
                        self.wfile.write(event(delta))
                        self.wfile.flush()
                    self.wfile.write(event({}, "stop"))
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

        self._srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._srv.daemon_threads = True
        self._thread = threading.Thread(
            target=self._srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._srv.server_address[1]}/v1"

    def script(self, *steps: Step) -> None:
        with self._lock:
            self.steps = list(steps)
            self.requests.clear()

    def close(self) -> None:
        self._release.set()  # wake any stalled handler
        self._srv.shutdown()
        self._srv.server_close()


def refused_url() -> str:
    """A URL on which nothing listens (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1"
