"""Online connections: registry, per-connection outbound queues, RECV fan-out and RECV retry (§g.2).

Every outbound packet is queued as its own bytes object and written by the connection's writer task
as exactly one WebSocket message (SDK 1.0.4 cannot reassemble coalesced packets, NOTES §2.1).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection

from agentdesk.wukongim import codec
from agentdesk.wukongim.crypto import Session
from agentdesk.wukongim.packets import ChannelType, Disconnect, HeaderFlag, ReasonCode, Recv

from .config import DevServerConfig
from .storage import StoredMessage

log = logging.getLogger(__name__)

CMD_SUFFIX = "____cmd"


@dataclass(slots=True)
class PendingRecv:
    data: bytes
    message_seq: int
    attempts: int
    due: float


class ClientConn:
    """One authenticated WebSocket connection."""

    __slots__ = (
        "closing",
        "conn_id",
        "device_flag",
        "device_id",
        "device_level",
        "max_queue",
        "pending",
        "queue",
        "session",
        "uid",
        "version",
        "ws",
    )

    def __init__(
        self,
        conn_id: int,
        ws: ServerConnection,
        *,
        uid: str,
        device_flag: int,
        device_id: str,
        device_level: int,
        version: int,
        session: Session,
        max_queue: int = 20_000,
    ) -> None:
        self.conn_id = conn_id
        self.ws = ws
        self.uid = uid
        self.device_flag = device_flag
        self.device_id = device_id
        self.device_level = device_level
        self.version = version
        self.session = session
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.pending: dict[int, PendingRecv] = {}
        self.closing = False
        #: packets queued beyond this = a client that does not read: it is dropped (see `push`)
        self.max_queue = max_queue

    def push(self, data: bytes) -> bool:
        """Queue one packet (one WebSocket message); False if the connection is closing or was just
        dropped for not reading."""
        if self.closing:
            return False
        if self.queue.qsize() >= self.max_queue:
            # The writer is stuck in ws.send (the peer stopped reading and TCP is full), so it cannot
            # notice the backlog itself; without this the queue (and RECV retries) grow without bound.
            log.warning(
                "conn %d (%s): %d packets queued, dropping a client that does not read",
                self.conn_id,
                self.uid,
                self.queue.qsize(),
            )
            self.abort()
            return False
        self.queue.put_nowait(data)
        return True

    def abort(self) -> None:
        """Forget everything queued and cut the connection without a closing handshake."""
        self.closing = True
        self.pending.clear()
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)
        transport = self.ws.transport
        if transport is not None:
            transport.abort()

    def close_soon(self) -> None:
        """Stop writing after what is queued, then close the socket (from any callback)."""
        if not self.closing:
            self.closing = True
            self.queue.put_nowait(None)

    async def writer(self, max_queue: int) -> None:
        ws = self.ws
        queue = self.queue
        while True:
            if queue.qsize() > max_queue:
                log.warning(
                    "conn %d (%s): %d packets queued, closing a too-slow client",
                    self.conn_id,
                    self.uid,
                    queue.qsize(),
                )
                break
            data = await queue.get()
            if data is None:
                break
            await ws.send(data)
        await ws.close()


class Hub:
    def __init__(self, cfg: DevServerConfig, on_status: Callable[[ClientConn, bool], None]) -> None:
        self.cfg = cfg
        self.by_uid: dict[str, list[ClientConn]] = {}
        self.conns: dict[int, ClientConn] = {}
        self._next_id = 0
        self._on_status = on_status
        self._timers: set[asyncio.TimerHandle] = set()
        self.delivered = 0

    def new_conn_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- registry ----------------------------------------------------------------------------------

    def add(self, conn: ClientConn) -> None:
        self.conns[conn.conn_id] = conn
        self.by_uid.setdefault(conn.uid, []).append(conn)
        self._on_status(conn, True)

    def remove(self, conn: ClientConn) -> None:
        if self.conns.pop(conn.conn_id, None) is None:
            return
        conns = self.by_uid.get(conn.uid, [])
        if conn in conns:
            conns.remove(conn)
        if not conns:
            self.by_uid.pop(conn.uid, None)
        conn.pending.clear()
        self._on_status(conn, False)

    def online(self, uid: str) -> list[ClientConn]:
        return self.by_uid.get(uid, [])

    def counts(self, uid: str, device_flag: int) -> tuple[int, int]:
        conns = self.by_uid.get(uid, [])
        return sum(1 for c in conns if c.device_flag == device_flag), len(conns)

    # -- kicking -----------------------------------------------------------------------------------

    def kick(
        self, conn: ClientConn, *, notify: bool, delay: float, reason: str = "login in other device"
    ) -> None:
        """Optionally send DISCONNECT(12), then close the connection after `delay` seconds."""
        if notify:
            conn.push(codec.encode(Disconnect(ReasonCode.CONNECT_KICK, reason), conn.version))
        loop = asyncio.get_running_loop()
        handle = loop.call_later(delay, conn.close_soon)
        self._timers.add(handle)
        loop.call_later(delay + 0.001, self._timers.discard, handle)

    def kick_device(self, uid: str, device_flag: int, *, delay: float, reason: str) -> int:
        """Kick every connection of uid with that device flag (-1 = all); returns how many."""
        targets = [c for c in self.online(uid) if device_flag == -1 or c.device_flag == device_flag]
        for conn in targets:
            self.kick(conn, notify=True, delay=delay, reason=reason)
        return len(targets)

    def cancel_timers(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    # -- delivery ----------------------------------------------------------------------------------

    def deliver(
        self, msg: StoredMessage, recipients: Iterable[str], target: str, exclude: ClientConn | None
    ) -> None:
        """Send RECV for `msg` to every online connection of `recipients` except `exclude`.

        `target` is the channel id the sender addressed (the peer uid for person channels, the real
        channel id otherwise). Persisted messages are kept per connection for retry until RECVACK.
        """
        system_uid = self.cfg.system_uid
        from_field = "" if msg.from_uid == system_uid else msg.from_uid
        person = msg.channel_type == ChannelType.PERSON
        persist = not msg.header & HeaderFlag.NO_PERSIST
        base_flags = msg.header & (HeaderFlag.RED_DOT | HeaderFlag.SYNC_ONCE | HeaderFlag.NO_PERSIST)
        due = time.monotonic() + self.cfg.recv_retry_interval
        max_pending = self.cfg.max_pending_recv
        payload = msg.payload
        for uid in recipients:
            conns = self.by_uid.get(uid)
            if not conns:
                continue
            own = uid == msg.from_uid
            # person channels: the recipient sees the sender's uid, the sender's devices the target
            channel_id = msg.from_uid if person and not own else target
            flags = base_flags & ~HeaderFlag.RED_DOT if own else base_flags
            for conn in conns:
                if conn is exclude or conn.closing:
                    continue
                session = conn.session
                wire = session.encrypt_payload(payload)
                key = session.recv_msg_key(
                    msg.message_id,
                    msg.message_seq,
                    msg.client_msg_no,
                    msg.timestamp,
                    from_field,
                    channel_id,
                    msg.channel_type,
                    wire,
                )
                packet = Recv(
                    setting=msg.setting,
                    msg_key=key,
                    from_uid=from_field,
                    channel_id=channel_id,
                    channel_type=msg.channel_type,
                    client_msg_no=msg.client_msg_no,
                    message_id=msg.message_id,
                    message_seq=msg.message_seq,
                    timestamp=msg.timestamp,
                    payload=wire,
                    expire=msg.expire,
                    stream_id=msg.message_id,
                    topic=msg.topic,
                    flags=int(flags),
                )
                try:
                    data = codec.encode(packet, conn.version)
                except ValueError:
                    log.warning("cannot encode RECV %d for conn %d", msg.message_id, conn.conn_id)
                    continue
                conn.push(data)
                self.delivered += 1
                if persist:
                    pending = conn.pending
                    if len(pending) >= max_pending:
                        pending.pop(next(iter(pending)))
                    pending[msg.message_id] = PendingRecv(data, msg.message_seq, 0, due)

    def ack(self, conn: ClientConn, message_id: int) -> None:
        conn.pending.pop(message_id, None)

    async def retry_loop(self) -> None:
        """Re-send unacked RECVs every recv_retry_interval, at most recv_retry_max times each."""
        interval = self.cfg.recv_retry_interval
        scan = min(max(interval / 4, 0.02), 30.0)
        max_attempts = self.cfg.recv_retry_max
        while True:
            await asyncio.sleep(scan)
            try:
                self._retry_due(interval, max_attempts)
            except Exception:  # keep retrying whatever happened to one round
                log.exception("RECV retry round failed")

    def _retry_due(self, interval: float, max_attempts: int) -> None:
        now = time.monotonic()
        for conn in list(self.conns.values()):
            if conn.closing or not conn.pending:
                continue
            done: list[int] = []
            # a copy: push() may drop a stuck client, which clears `pending` under our feet
            for message_id, item in list(conn.pending.items()):
                if item.due > now:
                    continue
                if item.attempts >= max_attempts:
                    done.append(message_id)
                    continue
                item.attempts += 1
                item.due = now + interval
                if not conn.push(item.data):
                    break
            for message_id in done:
                conn.pending.pop(message_id, None)
