"""The desk bot service: HTTP endpoints (webhook, FAQ, health), the worker, and the outbox.

    bot = DeskBot(BotConfig(api_url=…, roster=Roster.load(…), db_path=…, listen_port=0))
    await bot.start()       # binds the HTTP port (bot.url), opens the DB, starts the worker
    …
    await bot.stop()

`start()` may be split: `await bot.listen()` binds the port first (so a server can be configured with the
webhook URL), then `await bot.start()` does the rest; `config.api_url` may be set in between.

The worker: set up the desk channel (retrying until WuKongIM answers), catch up on the desk channel and
the known visitors channels over REST (messages whose webhooks were dropped while the bot was down), then
forever: carry out the outbox, process the next inbox message. Webhook requests wait (briefly) for the
catch-up, so the desk channel is processed in seq order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from functools import partial

from agentdesk.ai import DraftEngine
from agentdesk.bot.config import BotConfig
from agentdesk.bot.router import GROUP, VISITORS, Processed, Router
from agentdesk.bot.store import BotStore, OutboxRow
from agentdesk.faq.store import FaqStore
from agentdesk.faq.sync import etag_for, export_jsonl
from agentdesk.httpd import HttpServer, Request, Response, json_response
from agentdesk.wukongim.rest import (
    MessageResp,
    RestClient,
    RestError,
    ServerRejected,
    Timeouts,
    Unauthorized,
)

log = logging.getLogger(__name__)

#: how long a webhook request waits for the start-up catch-up before it is answered 500 (then retried)
_READY_WAIT = 8.0
_HEALTH_CACHE = 2.0


class DeskBot:
    def __init__(self, config: BotConfig) -> None:
        self.config = config
        self._http = HttpServer(self._handle, max_body=config.max_body)
        self._listening = False
        self.port = 0
        self.store: BotStore | None = None
        self.faq: FaqStore | None = None
        self.router: Router | None = None
        self.api: RestClient | None = None
        self._worker: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self.last_processed: Processed | None = None
        self._reachable: tuple[float, bool] = (0.0, False)
        self.webhook_batches = 0
        self.webhook_new = 0
        self.webhook_duplicates = 0

    @property
    def url(self) -> str:
        host = self.config.listen_host
        host = "127.0.0.1" if host in ("", "0.0.0.0") else f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhook"

    # --- lifecycle ------------------------------------------------------------------------------------

    async def listen(self) -> None:
        if not self._listening:
            await self._http.start(self.config.listen_host, self.config.listen_port)
            self.port = self._http.port
            self._listening = True

    async def start(self) -> None:
        cfg = self.config
        try:
            self.store = BotStore.open(cfg.db_path)
            if self.store.moved_aside is not None:
                log.warning("the bot database was unreadable; moved to %s", self.store.moved_aside)
            self.faq = _open_faq(cfg.faq_db)
            engine = DraftEngine(cfg.model, amount_threshold=cfg.amount_threshold)
            self.router = Router(cfg, self.store, engine, self.faq)
            self.api = RestClient(
                cfg.api_url, manager_token=cfg.manager_token, timeout=Timeouts(connect=3, read=15, write=10)
            )
            await self.listen()
        except BaseException:
            await self.stop()
            raise
        self._worker = asyncio.create_task(self._work(), name="deskbot-worker")

    async def stop(self) -> None:
        """Idempotent: stops the worker (between two steps), the HTTP server, and closes everything."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker
            self._worker = None
        if self._listening:
            await self._http.stop()
            self._listening = False
        if self.api is not None:
            await self.api.aclose()
            self.api = None
        if self.store is not None:
            self.store.close()
            self.store = None
        if self.faq is not None:
            self.faq.close()
            self.faq = None

    async def wait_idle(self, within: float) -> None:
        """Wait until the inbox and the outbox are empty (tests and replays; a safety timeout, not a
        timing assertion)."""
        async with asyncio.timeout(within):
            while not self._idle():
                if self._worker is not None and self._worker.done():
                    self._worker.result()
                await asyncio.sleep(0.02)

    def _idle(self) -> bool:
        return (
            self._ready.is_set()
            and self.store is not None
            and self.store.pending_count() == 0
            and self.store.outbox_count() == 0
        )

    # --- the worker -----------------------------------------------------------------------------------

    @property
    def worker(self) -> asyncio.Task[None] | None:
        """The worker task: it only ends on a fatal error (a wrong manager token, an unwritable database)
        or when the bot stops."""
        return self._worker

    @property
    def running(self) -> bool:
        """True from `start()` until the worker ends: on a fatal error (see `failure`) or `stop()`.
        Callers waiting for the bot's replies can stop waiting when this is False."""
        return self._worker is not None and not self._worker.done()

    @property
    def failure(self) -> BaseException | None:
        """The fatal error the worker ended with (None while it runs, before `start()`, after `stop()`,
        or when it was cancelled)."""
        worker = self._worker
        if worker is None or not worker.done() or worker.cancelled():
            return None
        return worker.exception()

    async def _work(self) -> None:
        await self._retrying("set up the desk channel", self._setup)
        try:
            await self._catch_up()
        except RestError as exc:
            log.warning("catch-up failed (%s); continuing with the webhooks", exc)
        self._ready.set()
        store, router = self._parts()
        while True:
            await self._flush_outbox()
            row = store.next_pending()
            if row is None:
                self._wake.clear()
                if store.pending_count() == 0 and store.outbox_count() == 0:
                    await self._wake.wait()
                continue
            try:
                self.last_processed = await router.handle(row)
            except sqlite3.Error:
                raise  # the state cannot be written: stop rather than lose track
            except Exception:
                # A message that breaks the router must not block every later one: logged, skipped.
                log.exception(
                    "message %s on %r could not be processed; skipped",
                    row.message.message_id,
                    row.message.channel_id,
                )
                with store.transaction():
                    store.mark_processed(row.id)

    def _parts(self) -> tuple[BotStore, Router]:
        if self.store is None or self.router is None:
            raise RuntimeError("the desk bot is not running")
        return self.store, self.router

    def _client(self) -> RestClient:
        if self.api is None:
            raise RuntimeError("the desk bot is not running")
        return self.api

    async def _setup(self) -> None:
        """Create or update the desk channel: the bot and every roster user subscribe to it."""
        cfg = self.config
        members = [cfg.bot_uid, *sorted(cfg.roster.users)]
        await self._client().channel_create(cfg.desk_channel, GROUP, members)
        log.info("desk channel %r ready with %d subscribers", cfg.desk_channel, len(members))

    async def _catch_up(self) -> None:
        """Pull what was stored while the bot was away (webhooks are dropped after a few failures)."""
        store, _ = self._parts()
        cfg = self.config
        api = self._client()
        if store.get_meta("initialized") is None:
            # A fresh database: start at the desk log's end (an old log's requests were answered by the
            # bot that wrote it).
            top = await api.channel_max_message_seq(cfg.desk_channel, GROUP, login_uid=cfg.bot_uid)
            store.set_meta("desk_start_seq", top)
            store.set_meta("initialized", True)
        start_desk = int(json.loads(store.get_meta("desk_start_seq") or "0"))
        channels = [(cfg.desk_channel, GROUP)] + [(c, VISITORS) for c in store.visitor_channels()]
        added = 0
        for channel_id, channel_type in channels:
            last = store.contiguous_seq(channel_id, channel_type, start_desk if channel_type == GROUP else 0)
            while True:
                page = await api.channel_messagesync(
                    cfg.bot_uid, channel_id, channel_type, start_message_seq=last + 1, limit=200, pull_mode=1
                )
                msgs = [m for m in page.messages if m.message_seq > last]
                if msgs:
                    added += store.add_messages(msgs)
                    last = msgs[-1].message_seq
                if not page.more or not msgs:
                    break
        if added:
            log.info("catch-up: %d message(s) the webhooks had not delivered", added)

    async def _retrying(self, what: str, call: Callable[[], Awaitable[None]]) -> None:
        delay = self.config.retry_base
        while True:
            try:
                await call()
                return
            except Unauthorized:
                log.error("WuKongIM refused the manager token (401): check $AGENTDESK_MANAGER_TOKEN")
                raise  # retrying cannot fix the configuration
            except RestError as exc:
                log.warning("cannot %s: %s (retrying in %.1f s)", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(self.config.retry_max, delay * 2)

    async def _flush_outbox(self) -> None:
        store, _ = self._parts()
        while (row := store.next_outgoing()) is not None:
            await self._retrying(
                f"carry out {row.action} on {row.channel_id!r}", partial(self._carry_out, row)
            )
            store.finish(row.id)

    async def _carry_out(self, row: OutboxRow) -> None:
        store, _ = self._parts()
        api = self._client()
        try:
            if row.action == "send":
                if row.attempts > 0 and await self._already_sent(row):
                    return
                store.attempt(row.id)
                await api.message_send(
                    row.channel_id,
                    row.channel_type,
                    row.body,
                    from_uid=self.config.bot_uid,
                    client_msg_no=row.client_msg_no,
                )
            elif row.action in ("sub_add", "sub_remove"):
                uids = [u for u in json.loads(row.body) if isinstance(u, str)]
                if row.action == "sub_add":
                    await api.channel_subscriber_add(row.channel_id, row.channel_type, uids)
                else:
                    await api.channel_subscriber_remove(row.channel_id, row.channel_type, uids)
            else:
                log.error("unknown outbox action %r: skipped", row.action)
        except ServerRejected as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                # Retrying cannot fix a request the server refuses; never block the queue on it.
                log.error("WuKongIM refused %s on %r: %s (skipped)", row.action, row.channel_id, exc)
                return
            raise

    async def _already_sent(self, row: OutboxRow) -> bool:
        """After a crash: was this send stored already? (the server does not de-duplicate)"""
        page = await self._client().channel_messagesync(
            self.config.bot_uid, row.channel_id, row.channel_type, limit=self.config.history_check
        )
        return any(m.client_msg_no == row.client_msg_no for m in page.messages)

    # --- HTTP ------------------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        if request.path == "/webhook":
            if request.method != "POST":
                return json_response({"msg": "use POST"}, 405)
            return await self._webhook(request)
        if request.path == "/faq.jsonl" and request.method == "GET":
            return self._faq(request)
        if request.path == "/health" and request.method == "GET":
            return json_response(await self.health())
        return json_response({"msg": "not found"}, 404)

    async def _webhook(self, request: Request) -> Response:
        event = request.query.get("event", "")
        if event != "msg.notify":
            return json_response({"status": 200, "ignored": event})  # user.onlinestatus & co.
        try:
            items = request.json()
        except ValueError as exc:
            return json_response({"msg": str(exc)}, 400)
        if not isinstance(items, list):
            return json_response({"msg": "msg.notify carries a JSON array"}, 400)
        messages: list[MessageResp] = []
        for item in items:
            try:
                messages.append(MessageResp.from_json(item))
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("webhook: skipped a malformed message (%s): %r", exc, str(item)[:200])
        try:
            async with asyncio.timeout(_READY_WAIT):
                await self._ready.wait()
        except TimeoutError:
            return json_response({"msg": "starting up, retry later"}, 500)
        store, _ = self._parts()
        try:
            added = store.add_messages(messages)
        except Exception:
            log.exception("webhook: cannot store the batch")
            return json_response({"msg": "cannot store the batch"}, 500)
        self.webhook_batches += 1
        self.webhook_new += added
        self.webhook_duplicates += len(messages) - added
        if added:
            self._wake.set()
        return json_response({"status": 200, "new": added})

    def _faq(self, request: Request) -> Response:
        if self.faq is None:
            return json_response({"msg": "not running"}, 500)
        etag = etag_for(self.faq)
        if request.headers.get("if-none-match", "") == etag:
            return Response(304, b"", headers={"ETag": etag})
        since_text = request.query.get("since")
        since: int | None = None
        if since_text is not None:
            if not since_text.isdigit():
                return json_response({"msg": "since must be a non-negative integer"}, 400)
            since = int(since_text)
        body, headers = export_jsonl(self.faq, since=since)
        content_type = headers.pop("Content-Type", "application/jsonl")
        return Response(200, body.encode("utf-8"), content_type=content_type, headers=headers)

    async def health(self) -> dict[str, object]:
        db_ok = self.store is not None and self.store.ok()
        last = self.last_processed
        out: dict[str, object] = {
            "db_ok": db_ok,
            "ready": self._ready.is_set(),
            "inbox_pending": self.store.pending_count() if db_ok and self.store else None,
            "outbox_pending": self.store.outbox_count() if db_ok and self.store else None,
            "last_processed": None
            if last is None
            else {"message_id": str(last.message_id), "channel_id": last.channel_id, "at": last.at},
            "wukongim_reachable": await self._wukongim_reachable(),
            "conversations": len(self.router.state.conversations) if self.router else 0,
            "autopilot_answers": self.router.autopilot_answers if self.router else 0,
        }
        pending = [v for v in (out["inbox_pending"], out["outbox_pending"]) if isinstance(v, int)]
        out["queue_depth"] = sum(pending) if db_ok else None
        out["worker_alive"] = self.running
        out["status"] = "ok" if db_ok and out["wukongim_reachable"] and out["worker_alive"] else "degraded"
        return out

    async def _wukongim_reachable(self) -> bool:
        at, ok = self._reachable
        if time.monotonic() - at < _HEALTH_CACHE or self.api is None:
            return ok
        try:
            ok = await self.api.health()
        except RestError:
            ok = False
        self._reachable = (time.monotonic(), ok)
        return ok


def _open_faq(path: object) -> FaqStore:
    """The FAQ to answer from: the given cache, else the bundled FAQ in memory."""
    if path is not None:
        store = FaqStore.open(str(path))
        if store.count() == 0:
            log.warning("the FAQ cache %s is empty: the autopilot will hand every question over", path)
        return store
    from agentdesk import paths
    from agentdesk.faq.importers import load_jsonl

    store = FaqStore.open(":memory:")
    store.upsert(load_jsonl(paths.bundled_data_dir() / "faq.jsonl"))
    return store
