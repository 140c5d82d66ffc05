"""A small asyncio HTTP/1.1 server (no new dependency), shared by the devserver REST API and the desk bot.

Supports what WuKongIM clients send: GET/POST with a Content-Length body (no chunked uploads), keep-alive
(HTTP/1.1 default, `Connection: close` honoured), JSON responses. Limits protect it from untrusted input:
request line and header lines ≤ 8 KiB, ≤ 100 headers, body ≤ `max_body`, 30 s to send a request; anything
malformed gets a 400 and the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

_REASONS = {
    200: "OK",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
_MAX_LINE = 8192
_MAX_HEADERS = 100
_REQUEST_TIMEOUT = 30.0
_KEEPALIVE_IDLE = 75.0


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        """The body as JSON; ValueError (with a short reason) if it is not."""
        if not self.body.strip():
            raise ValueError("empty request body")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"request body is not JSON: {exc}") from None
        except RecursionError:
            raise ValueError("request body is nested too deeply") from None


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: object, status: int = 200) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


Handler = Callable[[Request], Awaitable[Response]]


class _BadRequest(Exception):
    def __init__(self, status: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status


class HttpServer:
    def __init__(self, handler: Handler, *, max_body: int) -> None:
        self._handler = handler
        self._max_body = max_body
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port, limit=_MAX_LINE * 2)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        if self._clients:
            await asyncio.gather(*self._clients, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            await self._loop(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:  # never let one client take the server down
            log.exception("HTTP connection failed")
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = True
        while True:
            try:
                async with asyncio.timeout(_REQUEST_TIMEOUT if first else _KEEPALIVE_IDLE):
                    line = await reader.readline()
                if not line:
                    return
                async with asyncio.timeout(_REQUEST_TIMEOUT):
                    request, keep_alive = await self._read_request(line, reader)
            except _BadRequest as exc:
                await self._write(
                    writer, json_response({"msg": str(exc), "status": exc.status}, exc.status), False
                )
                return
            except ValueError:  # StreamReader: line longer than its limit
                await self._write(writer, json_response({"msg": "line too long", "status": 431}, 431), False)
                return
            first = False
            try:
                response = await self._handler(request)
            except Exception:
                log.exception("REST handler failed for %s %s", request.method, request.path)
                response = json_response({"msg": "internal error", "status": 500}, 500)
            await self._write(writer, response, keep_alive)
            if not keep_alive:
                return

    async def _read_request(self, line: bytes, reader: asyncio.StreamReader) -> tuple[Request, bool]:
        try:
            method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ")
        except ValueError:
            raise _BadRequest(400, "malformed request line") from None
        if not version.startswith("HTTP/1."):
            raise _BadRequest(400, "unsupported HTTP version")
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS + 1):
            raw = await reader.readline()
            if not raw:
                raise asyncio.IncompleteReadError(b"", None)
            if raw in (b"\r\n", b"\n"):
                break
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep or not name.strip():
                raise _BadRequest(400, "malformed header line")
            headers[name.strip().lower()] = value.strip()
        else:
            raise _BadRequest(431, "too many headers")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise _BadRequest(411, "chunked request bodies are not supported; send Content-Length")
        length_text = headers.get("content-length", "0") or "0"
        if not (length_text.isascii() and length_text.isdigit()):
            raise _BadRequest(400, "bad Content-Length")
        # a length with more digits than any body we accept is too large (and int() of thousands of
        # digits would raise ValueError, which the caller reads as "line too long")
        length = int(length_text) if len(length_text) <= 18 else self._max_body + 1
        if length > self._max_body:
            raise _BadRequest(413, f"request body larger than {self._max_body} bytes")
        body = await reader.readexactly(length) if length else b""
        split = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        conn_header = headers.get("connection", "").lower()
        keep_alive = "close" not in conn_header and (version != "HTTP/1.0" or "keep-alive" in conn_header)
        return Request(method.upper(), split.path or "/", query, headers, body), keep_alive

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, response: Response, keep_alive: bool) -> None:
        reason = _REASONS.get(response.status, "Unknown")
        head = [f"HTTP/1.1 {response.status} {reason}", f"Content-Length: {len(response.body)}"]
        if response.body:
            head.append(f"Content-Type: {response.content_type}; charset=utf-8")
        head.append("Connection: keep-alive" if keep_alive else "Connection: close")
        head.extend(f"{k}: {v}" for k, v in response.headers.items())
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
        await writer.drain()
