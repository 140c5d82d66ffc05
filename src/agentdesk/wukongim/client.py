"""The WuKongIM connection: one long-lived task per client that logs in, keeps the socket alive,
stores what it receives, and delivers the durable outbox exactly once.

API::

    store = MessageStore.open(path)
    client = WuKongIMClient(ClientConfig(uid="alice", token="t", api_url="http://127.0.0.1:5001"), store)
    with client.subscribe() as events:             # EventStream of ClientEvent (events.py)
        await client.connect(within=15)           # start + wait online; AuthFailed / Kicked / ServerUnreachable
        result = await client.send("g1", 2, {"type": 1, "content": "hi"})   # SendResult (.ok)
        ev = await events.wait_for(lambda e: isinstance(e, MessageReceived), within=10)
    await client.close()

Lifecycle (`ConnState`): CONNECTING → ONLINE → (connection lost) RECONNECTING in N s → CONNECTING …,
with capped exponential backoff and full jitter (`Backoff`; ``sleep``/``rand`` are injectable). A
login refused by the server (v2.x: socket closed without CONNACK, or no CONNACK in time, or a
CONNACK reason ≠ 1) ends in AUTH_FAILED and a DISCONNECT packet ends in KICKED: neither reconnects.
`close()` ends in OFFLINE.

Per connection:

* CONNECT with a fresh X25519 key pair; the CONNACK's ``server_version`` (if any) becomes the
  effective version; an empty ``server_key`` means a plaintext server.
* PING every ``ping_interval`` s; after ``max_missed_pongs`` unanswered PINGs the socket is dropped.
* RECV: msg_key verified (a bad one is dropped, logged, not acked — the server retries), decrypted,
  stored in SQLite (batched), *then* RECVACK (echoing the RECV's flags), then `MessageReceived` if
  it was new (de-duplicated by message_id and by (channel, client_msg_no)).
* After CONNACK: REST catch-up (catchup.catch_up) then outbox reconciliation (catchup.reconcile_outbox)
  then every pending outbox entry is sent, then `CaughtUp`. New sends go out as soon as that is done.
* SEND: the entry is in the outbox before the SEND is written; SENDACK is matched by client_seq; a
  success removes the entry (the message is recorded in the store) and resolves `send()`; a failure
  marks it failed. No SENDACK within ``ack_timeout`` drops the connection (the entry is re-checked
  against history after the reconnect, never blindly re-sent).

Person channels: history calls use ``login_uid`` = our uid and the peer uid (PROTOCOL §e).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import websockets

from agentdesk.wukongim import codec, crypto
from agentdesk.wukongim.catchup import AsyncStore, catch_up, fill_gaps, ingest_live, reconcile_outbox
from agentdesk.wukongim.events import (
    AuthFailed,
    Backoff,
    CaughtUp,
    ClientEvent,
    ConnState,
    EventStream,
    Kicked,
    MessageDropped,
    MessageReceived,
    SendAcked,
    SendFailed,
    SendResult,
    SendTimeout,
    ServerUnreachable,
    StateChanged,
)
from agentdesk.wukongim.link import (
    ClientConfig,
    ConnectionLost,
    Link,
    Rejected,
    drop_on_error,
    encode_send,
    open_link,
    verify_recv,
)
from agentdesk.wukongim.packets import Disconnect, Ping, Pong, ProtocolError, Recv, Recvack, Sendack
from agentdesk.wukongim.rest import RestClient, RestError, Unreachable, encode_payload
from agentdesk.wukongim.store import MessageStore, OutboxEntry, StoredMessage

__all__ = ["ClientConfig", "WuKongIMClient"]

log = logging.getLogger(__name__)


class WuKongIMClient:
    def __init__(
        self,
        config: ClientConfig,
        store: MessageStore,
        *,
        rest: RestClient | None = None,
        on_event: Callable[[ClientEvent], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        if not config.device_id:
            config.device_id = crypto.new_device_id()
        self.db = AsyncStore(store)
        self._own_rest = rest is None and config.api_url is not None
        self.rest = (
            rest
            if rest is not None
            else (RestClient(config.api_url, manager_token=config.manager_token) if config.api_url else None)
        )
        self.state = ConnState.OFFLINE
        self.last_error: BaseException | None = None
        self._on_event = on_event
        self._sleep = sleep
        self.backoff = Backoff(config.backoff_base, config.backoff_cap, rand=rand)
        self._streams: list[EventStream] = []
        self._task: asyncio.Task[None] | None = None
        self._conn: Link | None = None
        self._closing = False
        self._closed = False
        self._waiters: dict[str, list[asyncio.Future[SendResult]]] = {}
        self._state_changed = asyncio.Event()
        self._flush_wake = asyncio.Event()
        self._time_diff_ms = 0

    # -- public API -----------------------------------------------------------------------------

    def subscribe(self) -> EventStream:
        stream = EventStream(self._streams.remove)
        self._streams.append(stream)
        return stream

    async def start(self) -> None:
        if self._task is None:
            await self.db.call(self.db.store.outbox_requeue)
            self._closing = False
            self._task = asyncio.create_task(self._run(), name=f"wukongim-{self.config.uid}")

    async def wait_online(self, within: float | None = None, *, fail_fast: bool = False) -> None:
        """Return once online; raise AuthFailed/Kicked (terminal) or, after ``within`` s, the last error.

        ``fail_fast``: raise ServerUnreachable at the first failed attempt instead of waiting for
        the reconnect loop (what a command-line tool wants; the loop keeps running until close()).
        """
        try:
            async with asyncio.timeout(within):
                while self.state is not ConnState.ONLINE:
                    if self.state in (ConnState.AUTH_FAILED, ConnState.KICKED) or (
                        self.state is ConnState.OFFLINE and self._task is not None and self._task.done()
                    ):
                        raise self.last_error or ServerUnreachable("the connection task stopped")
                    if (
                        fail_fast
                        and self.state is ConnState.RECONNECTING
                        and isinstance(self.last_error, ServerUnreachable)
                    ):
                        raise self.last_error
                    self._state_changed.clear()
                    await self._state_changed.wait()
        except TimeoutError:
            if isinstance(self.last_error, ServerUnreachable | AuthFailed):
                raise self.last_error from None
            raise ServerUnreachable(
                f"not online after {within} s: {self.last_error or 'no answer'}"
            ) from None

    async def connect(self, within: float | None = 15.0, *, fail_fast: bool = True) -> None:
        """start() and wait until online (see wait_online)."""
        await self.start()
        await self.wait_online(within, fail_fast=fail_fast)

    @property
    def time_diff_ms(self) -> int:
        """server clock − our clock (ms) from the last CONNACK."""
        return self._time_diff_ms

    async def wait_caught_up(self, within: float | None = None) -> None:
        """Wait until online and the catch-up + outbox flush of this connection are done."""
        async with asyncio.timeout(within):
            while not (self._conn is not None and self._conn.ready and self.state is ConnState.ONLINE):
                if self.state in (ConnState.AUTH_FAILED, ConnState.KICKED):
                    raise self.last_error or ServerUnreachable("stopped")
                self._state_changed.clear()
                await self._state_changed.wait()

    async def enqueue(
        self,
        channel_id: str,
        channel_type: int,
        payload: Mapping[str, Any] | bytes,
        *,
        client_msg_no: str = "",
    ) -> OutboxEntry:
        """Put a message in the durable outbox; it is sent now if online, else after the next connect."""
        cmn = client_msg_no or crypto.new_client_msg_no()
        entry = await self.db.call(
            self.db.store.outbox_add, channel_id, channel_type, encode_payload(payload), cmn
        )
        self._flush_wake.set()
        return entry

    async def send(
        self,
        channel_id: str,
        channel_type: int,
        payload: Mapping[str, Any] | bytes,
        *,
        client_msg_no: str = "",
        within: float | None = None,
    ) -> SendResult:
        """enqueue() and wait until the server stored it (SENDACK or history) or refused it.

        SendTimeout after ``within`` s (default: config.ack_timeout): the entry stays in the outbox.
        """
        cmn = client_msg_no or crypto.new_client_msg_no()
        fut = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(cmn, []).append(fut)
        try:
            await self.enqueue(channel_id, channel_type, payload, client_msg_no=cmn)
            wait = self.config.ack_timeout if within is None else within
            try:
                return await asyncio.wait_for(asyncio.shield(fut), wait)
            except TimeoutError:
                raise SendTimeout(f"no SENDACK for {cmn} within {wait} s; it stays in the outbox") from None
        finally:
            lst = self._waiters.get(cmn, [])
            if fut in lst:
                lst.remove(fut)
            if not lst:
                self._waiters.pop(cmn, None)

    async def wait_acked(self, client_msg_no: str, within: float | None = None) -> SendResult:
        """Wait for an enqueued entry. An entry no longer in the outbox was delivered already
        (SendResult with reason 1 and no ids: the message is in the store)."""
        fut: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(client_msg_no, []).append(fut)
        entry = await self.db.call(self.db.store.outbox_get, client_msg_no)
        if entry is None or entry.state == "failed":
            self._waiters[client_msg_no].remove(fut)
            code = entry.reason_code if entry else 1
            return SendResult(client_msg_no, code)
        try:
            return await asyncio.wait_for(fut, within)
        except TimeoutError:
            raise SendTimeout(f"{client_msg_no} not acknowledged within {within} s") from None
        finally:
            waiting = self._waiters.get(client_msg_no, [])
            if fut in waiting:
                waiting.remove(fut)
            if not waiting:
                self._waiters.pop(client_msg_no, None)

    def drop_connection(self, reason: str = "dropped by the application") -> None:
        """Close the current socket; the client reconnects (as after a network failure)."""
        if self._conn is not None:
            self._conn.drop(ConnectionLost(reason))

    async def close(self) -> None:
        """Stop the connection task and close the socket (idempotent). The store stays open."""
        if self._closed:
            return
        self._closed = True
        self._closing = True
        if self._conn is not None:
            self._conn.drop(ConnectionLost("closed"))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.state not in (ConnState.AUTH_FAILED, ConnState.KICKED):
            self._set_state(ConnState.OFFLINE)
        for waiting in self._waiters.values():
            for fut in waiting:
                if not fut.done():
                    fut.set_exception(SendTimeout("the client was closed; the message stays in the outbox"))
        if self._own_rest and self.rest is not None:
            await self.rest.aclose()
        self.db.shutdown()

    def _stopping(self) -> bool:
        return self._closing

    # -- events ---------------------------------------------------------------------------------

    def _emit(self, event: ClientEvent) -> None:
        for s in list(self._streams):
            s.put(event)
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("on_event callback failed")

    def _set_state(self, state: ConnState, *, retry_in: float | None = None, error: str = "") -> None:
        self.state = state
        self._state_changed.set()
        self._emit(StateChanged(state, retry_in, error))

    def _resolve(self, result: SendResult) -> None:
        for fut in self._waiters.get(result.client_msg_no, []):
            if not fut.done():
                fut.set_result(result)
        self._emit(SendAcked(result) if result.ok else SendFailed(result))

    # -- the connection loop --------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closing:
            self._set_state(ConnState.CONNECTING)
            error: BaseException
            try:
                conn = await open_link(self.config, self.rest)
                self._time_diff_ms = conn.time_diff_ms
            except AuthFailed as exc:
                self.last_error = exc
                self._set_state(ConnState.AUTH_FAILED, error=str(exc))
                return
            except ServerUnreachable as exc:
                error = exc
            except Exception as exc:  # a bug or an unforeseen library error: log it, keep retrying
                log.exception("connecting failed unexpectedly")
                error = ServerUnreachable(f"{type(exc).__name__}: {exc}")
            else:
                self._conn = conn
                try:
                    error = await self._serve(conn)
                finally:
                    self._conn = None
                    await self._teardown(conn)
                if isinstance(error, Kicked):
                    self.last_error = error
                    self._set_state(ConnState.KICKED, error=str(error))
                    return
            self.last_error = error
            if self._stopping():
                break
            delay = self.backoff.next_delay()
            self._set_state(ConnState.RECONNECTING, retry_in=delay, error=str(error))
            await self._sleep(delay)

    async def _serve(self, conn: Link) -> BaseException:
        """Run one online connection until it is lost; return why (Kicked or ConnectionLost…)."""
        self._set_state(ConnState.ONLINE)
        tasks = [
            asyncio.create_task(self._reader(conn)),
            asyncio.create_task(self._heartbeat(conn)),
            asyncio.create_task(self._storer(conn)),
            asyncio.create_task(self._sync_and_flush(conn)),
            asyncio.create_task(self._gap_filler(conn)),
        ]
        for t in tasks:
            t.add_done_callback(lambda t: drop_on_error(conn, t))
        try:
            return await conn.lost
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _teardown(self, conn: Link) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ws.close(), 2)
        with contextlib.suppress(Exception):
            await self.db.call(self.db.store.outbox_requeue)

    # -- per-connection tasks -------------------------------------------------------------------

    async def _reader(self, conn: Link) -> None:
        try:
            async for data in conn.ws:
                for p in conn.decoder.feed(data if isinstance(data, bytes) else data.encode()):
                    if isinstance(p, Recv):
                        got = self._on_recv(conn, p)
                        if got is not None:
                            # bounded: a slow disk pauses reading, and TCP pushes back on the server
                            await conn.recvq.put((got, p.flags))
                    elif isinstance(p, Sendack):
                        await self._on_sendack(conn, p)
                    elif isinstance(p, Pong):
                        conn.missed_pongs = 0
                    elif isinstance(p, Disconnect):
                        conn.drop(Kicked(p.reason_code, p.reason))
                        return
                    else:
                        log.debug("ignoring %s", type(p).__name__)
        except websockets.exceptions.ConnectionClosed as exc:
            conn.drop(
                ConnectionLost(f"connection closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})")
            )
            return
        except ProtocolError as exc:
            conn.drop(ConnectionLost(f"protocol error: {exc}"))
            return
        conn.drop(ConnectionLost("connection closed by the server"))

    def _on_recv(self, conn: Link, p: Recv) -> StoredMessage | None:
        got = verify_recv(conn.session, p)
        if isinstance(got, Rejected):
            log.warning("dropping RECV %s in %s: %s", p.message_id, p.channel_id, got.reason)
            self._emit(MessageDropped(p.message_id, p.channel_id, p.channel_type, got.reason))
            return None
        return got

    async def _storer(self, conn: Link) -> None:
        """Store RECVs in batches, then ack them, then deliver the new ones."""
        q = conn.recvq
        while True:
            batch = [await q.get()]
            while not q.empty() and len(batch) < self.config.recv_batch:
                batch.append(q.get_nowait())
            new, gap = await self.db.call(
                ingest_live, self.db.store, [m for m, _ in batch], self.config.backfill
            )
            acks = b"".join(
                codec.encode(Recvack(m.message_id, m.message_seq, flags), conn.version) for m, flags in batch
            )
            await conn.ws.send(acks)
            for m in new:
                self._emit(MessageReceived(m, live=True))
            if gap:
                conn.gap_wake.set()

    async def _gap_filler(self, conn: Link) -> None:
        """While online, a seq gap that live RECVs do not close within gap_fill_delay is pulled over REST."""
        if self.rest is None:
            return
        while True:
            await conn.gap_wake.wait()
            await asyncio.sleep(self.config.gap_fill_delay)
            conn.gap_wake.clear()
            if not conn.ready:
                continue  # the connection's catch-up is still running and covers it
            try:
                new = await fill_gaps(self.rest, self.db, self.config.uid, page_size=self.config.page_size)
            except RestError as exc:
                log.warning("gap fill failed (retried after the next reconnect): %s", exc)
                continue
            for m in new:
                self._emit(MessageReceived(m, live=False))

    async def _heartbeat(self, conn: Link) -> None:
        ping = codec.encode(Ping(), conn.version)
        while True:
            await asyncio.sleep(self.config.ping_interval)
            if conn.missed_pongs >= self.config.max_missed_pongs:
                conn.drop(ConnectionLost(f"no PONG for {conn.missed_pongs} PINGs"))
                return
            conn.missed_pongs += 1
            await conn.ws.send(ping)

    async def _sync_and_flush(self, conn: Link) -> None:
        """Catch up, reconcile the outbox, send what is pending, then keep sending new entries."""
        found, new, channels, error = 0, 0, 0, ""
        if self.rest is None:
            # nothing to check history with: entries that were written before are re-sent blind
            # (same client_msg_no; receivers de-duplicate by it)
            conn.history_checked = True
        else:
            try:
                found, new, channels = await self._catch_up()
                conn.history_checked = True
            except Unreachable as exc:
                conn.drop(ConnectionLost(f"catch-up failed: {exc}"))
                return
            except RestError as exc:
                # reconnecting will not fix a refused REST call: stay online, send only entries
                # that certainly never reached the server, and say so
                error = f"catch-up failed: {exc}"
                log.warning("%s", error)
        resent = await self._flush(conn)
        conn.ready = True
        # only a connection that got this far counts as good: one that dies right after CONNACK
        # (e.g. a server that accepts and drops us) keeps backing off
        self.backoff.reset()
        self._state_changed.set()
        self._emit(CaughtUp(new, channels, found, resent, error))
        while True:
            self._flush_wake.clear()
            await self._flush(conn)
            await self._flush_wake.wait()

    async def _catch_up(self) -> tuple[int, int, int]:
        assert self.rest is not None
        cfg = self.config
        res = await catch_up(self.rest, self.db, cfg.uid, backfill=cfg.backfill, page_size=cfg.page_size)
        hits, more = await reconcile_outbox(self.rest, self.db, cfg.uid, page_size=cfg.page_size)
        own = {e.client_msg_no for e, _ in hits}
        fresh = [m for m in res.new + more if m.client_msg_no not in own or m.from_uid != cfg.uid]
        for m in fresh:
            self._emit(MessageReceived(m, live=False))
        for entry, msg in hits:
            await self.db.call(
                self.db.store.outbox_acked,
                entry.client_msg_no,
                message_id=msg.message_id,
                message_seq=msg.message_seq,
                from_uid=msg.from_uid,
                timestamp=msg.timestamp,
            )
            self._resolve(SendResult(entry.client_msg_no, 1, msg.message_id, msg.message_seq, via="history"))
        return len(hits), len(fresh), res.channels

    async def _flush(self, conn: Link) -> int:
        """Send pending outbox entries on this connection (in queue order); returns how many were re-sends.

        Without a successful history check only never-written entries (attempts = 0) go out.
        """
        entries = [
            e
            for e in await self.db.call(self.db.store.outbox_unacked)
            if e.state == "pending" and (conn.history_checked or e.attempts == 0)
        ]
        for e in entries:
            await self._write_send(conn, e)
        return sum(1 for e in entries if e.attempts > 0)

    async def _write_send(self, conn: Link, e: OutboxEntry) -> None:
        seq, data = encode_send(conn, e)
        await self.db.call(self.db.store.outbox_attempt, e.client_msg_no)
        conn.inflight[seq] = e.client_msg_no
        await conn.ws.send(data)
        asyncio.get_running_loop().call_later(self.config.ack_timeout, self._ack_overdue, conn, seq)

    def _ack_overdue(self, conn: Link, seq: int) -> None:
        if seq in conn.inflight:
            conn.drop(ConnectionLost(f"no SENDACK within {self.config.ack_timeout} s"))

    async def _on_sendack(self, conn: Link, p: Sendack) -> None:
        cmn = conn.inflight.pop(p.client_seq, None)
        if cmn is None:
            log.warning("SENDACK for unknown client_seq %s", p.client_seq)
            return
        if p.reason_code == 1:
            ts = int(time.time() + conn.time_diff_ms / 1000)
            await self.db.call(
                self.db.store.outbox_acked,
                cmn,
                message_id=p.message_id,
                message_seq=p.message_seq,
                from_uid=self.config.uid,
                timestamp=ts,
            )
        else:
            await self.db.call(self.db.store.outbox_failed, cmn, p.reason_code)
        self._resolve(SendResult(cmn, p.reason_code, p.message_id, p.message_seq))
