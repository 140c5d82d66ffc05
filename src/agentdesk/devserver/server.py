"""DevServer: the embedded WuKongIM-compatible server, startable in-process (tests) or by the CLI.

    server = DevServer(DevServerConfig(api_port=0, ws_port=0, manager_token="m"))
    await server.start()          # binds both ports (0 = a free one)
    server.api_url, server.ws_url # "http://127.0.0.1:PORT", "ws://127.0.0.1:PORT"
    await server.stop()           # closes connections, flushes webhooks (≤ 2 s), commits, frees ports

or `async with DevServer(cfg) as server: …`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from pathlib import Path
from types import TracebackType

from websockets.asyncio.server import Server, serve

from agentdesk.httpd import HttpServer
from agentdesk.wukongim.packets import MAX_REMAINING_LENGTH

from .config import DevServerConfig
from .hub import ClientConn, Hub
from .messaging import Messaging
from .rest import RestApi
from .storage import Storage, StoredMessage
from .webhooks import MSG_NOTIFY, ONLINE_STATUS, WebhookPusher
from .ws import WsHandler

log = logging.getLogger(__name__)

DB_NAME = "devserver.sqlite3"


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class DevServer:
    def __init__(self, config: DevServerConfig | None = None) -> None:
        self.config = config or DevServerConfig()
        self.api_url = ""
        self.ws_url = ""
        self.data_dir: Path | None = None
        self._tmp_dir: Path | None = None
        self._storage: Storage | None = None
        self._ws_server: Server | None = None
        self._http: HttpServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.hub: Hub | None = None
        self.webhooks: WebhookPusher | None = None

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            raise RuntimeError("DevServer is not running")
        return self._storage

    async def __aenter__(self) -> DevServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        cfg = self.config
        if cfg.data_dir is None:
            self._tmp_dir = Path(tempfile.mkdtemp(prefix="agentdesk-devserver-"))
            self.data_dir = self._tmp_dir
        else:
            self.data_dir = Path(cfg.data_dir)
            self.data_dir.mkdir(parents=True, exist_ok=True)
        storage = self._storage = Storage(self.data_dir / DB_NAME)
        webhooks = self.webhooks = WebhookPusher(cfg, storage)
        hub = self.hub = Hub(cfg, self._on_status)
        messaging = Messaging(cfg, storage, hub, self._on_stored)
        self._messaging = messaging
        try:
            self._ws_server = await serve(
                WsHandler(cfg, storage, hub, messaging),
                cfg.host,
                cfg.ws_port,
                compression=None,
                ping_interval=None,
                max_size=MAX_REMAINING_LENGTH + 16,
                open_timeout=10,
                close_timeout=2,
            )
            ws_port = self._ws_server.sockets[0].getsockname()[1] if self._ws_server.sockets else cfg.ws_port
            self.ws_url = f"ws://{_url_host(cfg.host)}:{ws_port}"
            rest = RestApi(cfg, storage, hub, messaging, webhooks, lambda: self.ws_url)
            self._http = HttpServer(rest.handle, max_body=cfg.max_http_body)
            await self._http.start(cfg.host, cfg.api_port)
            self.api_url = f"http://{_url_host(cfg.host)}:{self._http.port}"
        except BaseException:
            await self.stop()
            raise
        self._tasks = [
            asyncio.create_task(hub.retry_loop(), name="devserver-recv-retry"),
            asyncio.create_task(webhooks.run(), name="devserver-webhooks"),
        ]

    def _on_stored(self, msg: StoredMessage) -> None:
        if self.webhooks is not None and self.webhooks.enabled:
            self.webhooks.enqueue(MSG_NOTIFY, self._messaging.message_resp(msg))

    def _on_status(self, conn: ClientConn, online: bool) -> None:
        if self.webhooks is None or not self.webhooks.enabled or self.hub is None:
            return
        device_count, total = self.hub.counts(conn.uid, conn.device_flag)
        item = f"{conn.uid}-{conn.device_flag}-{1 if online else 0}-{conn.conn_id}-{device_count}-{total}"
        self.webhooks.enqueue(ONLINE_STATUS, item)

    async def stop(self) -> None:
        """Idempotent. Closes every connection, pushes what the webhook queue holds (≤ 2 s; the rest
        stays persisted for the next start), commits and closes the database."""
        if self._http is not None:
            await self._http.stop()
            self._http = None
        if self.hub is not None:
            self.hub.cancel_timers()
        if self._ws_server is not None:
            self._ws_server.close(close_connections=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws_server.wait_closed(), 5.0)
            self._ws_server = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self.webhooks is not None and self._storage is not None:
            try:
                await self.webhooks.flush(time.monotonic() + 2.0)
            except Exception:
                log.exception("final webhook flush failed; the queue stays in the database")
        if self._storage is not None:
            self._storage.close()
            self._storage = None
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None
