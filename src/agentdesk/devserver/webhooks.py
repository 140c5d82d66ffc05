"""Webhooks (PROTOCOL.md §f): `msg.notify` and `user.onlinestatus`, batched, retried, persisted.

Every stored message and every online/offline change is queued in SQLite (so a restart does not lose
undelivered items) and pushed as `POST <url>?event=<name>` with a JSON array body, at most
`webhook_batch` items per request, every `webhook_push_interval` seconds. Success is HTTP 200 exactly.
A failed batch is retried after 1 s, 2 s, 4 s… (capped at 30 s); an item that failed
`webhook_max_failures` times is dropped and logged. Batches of one event go out in queue order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx

from .config import DevServerConfig
from .storage import Storage

log = logging.getLogger(__name__)

MSG_NOTIFY = "msg.notify"
ONLINE_STATUS = "user.onlinestatus"
EVENTS = (MSG_NOTIFY, ONLINE_STATUS)


class WebhookPusher:
    def __init__(self, cfg: DevServerConfig, storage: Storage) -> None:
        self.cfg = cfg
        self.storage = storage
        self.url = cfg.webhook_url
        self._client: httpx.AsyncClient | None = None
        self._not_before: dict[str, float] = dict.fromkeys(EVENTS, 0.0)
        self.pushed = 0
        self.dropped = 0

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def enqueue(self, event: str, item: object) -> None:
        if not self.enabled:
            return
        self.storage.enqueue_webhook(event, json.dumps(item, ensure_ascii=False, separators=(",", ":")))

    async def run(self) -> None:
        """Push until cancelled."""
        if not self.enabled:
            return
        timeout = httpx.Timeout(self.cfg.webhook_timeout, connect=min(5.0, self.cfg.webhook_timeout))
        async with httpx.AsyncClient(timeout=timeout) as client:
            self._client = client
            try:
                while True:
                    await asyncio.sleep(self.cfg.webhook_push_interval)
                    try:
                        await self.push_due()
                    except Exception:  # a broken round must not end the pusher
                        log.exception("webhook push round failed")
            finally:
                self._client = None

    async def push_due(self) -> bool:
        """One round: push at most one batch per event whose retry time has come; True if all sent."""
        ok = True
        for event in EVENTS:
            if time.monotonic() < self._not_before[event]:
                ok = False
                continue
            if not await self._push_one(event):
                ok = False
        return ok

    async def flush(self, deadline: float) -> None:
        """On stop: keep pushing until the queue is empty, a push fails, or `deadline` (monotonic)."""
        if not self.enabled:
            return
        timeout = httpx.Timeout(min(2.0, self.cfg.webhook_timeout))
        async with httpx.AsyncClient(timeout=timeout) as client:
            self._client = client
            try:
                while time.monotonic() < deadline and self.storage.webhook_backlog():
                    self._not_before = dict.fromkeys(EVENTS, 0.0)
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not await asyncio.wait_for(self.push_due(), remaining):
                        break
            except TimeoutError:
                pass
            finally:
                self._client = None

    async def _push_one(self, event: str) -> bool:
        items = self.storage.due_webhooks(event, self.cfg.webhook_batch)
        if not items:
            return True
        client = self._client
        assert client is not None and self.url is not None
        body = ("[" + ",".join(item.body for item in items) + "]").encode()
        ids = [item.id for item in items]
        try:
            resp = await client.post(
                self.url, params={"event": event}, content=body, headers={"Content-Type": "application/json"}
            )
            status = resp.status_code
        except httpx.HTTPError as exc:
            status = 0
            log.info("webhook %s: %s", event, exc)
        if status == 200:
            self.storage.delete_webhooks(ids)
            self.pushed += len(ids)
            self._not_before[event] = 0.0
            return True
        self.storage.fail_webhooks(ids)
        limit = self.cfg.webhook_max_failures
        expired = [item.id for item in items if item.failures + 1 >= limit]
        if expired:
            self.storage.delete_webhooks(expired)
            self.dropped += len(expired)
            log.warning(
                "webhook %s: dropped %d item(s) after %d failed pushes (last status %s)",
                event,
                len(expired),
                limit,
                status,
            )
        if len(expired) == len(items):
            self._not_before[event] = 0.0
        else:
            failures = max(item.failures for item in items) + 1
            delay = min(30.0, self.cfg.webhook_retry_base * 2 ** (failures - 1))
            self._not_before[event] = time.monotonic() + delay
            log.info("webhook %s: push failed (status %s), retry in %.1f s", event, status, delay)
        return False
