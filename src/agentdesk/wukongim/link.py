"""One WebSocket connection of a `WuKongIMClient`: open + login, RECV verification, SEND encoding.

Internal to the client (see client.py for the API); kept apart so each module stays small.
`open_link()` resolves the address (``/route`` when no ws_url is configured), connects, sends
CONNECT with a fresh X25519 key pair and waits for CONNACK: a socket closed before CONNACK, or no
CONNACK in time, is `AuthFailed` (WuKongIM v2.x answers a bad token with silence), a refused TCP/
WebSocket connection is `ServerUnreachable`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection

from agentdesk.wukongim import codec, crypto
from agentdesk.wukongim.events import AuthFailed, Kicked, ServerUnreachable
from agentdesk.wukongim.packets import LATEST_VERSION, Connack, Connect, HeaderFlag, ProtocolError, Recv, Send
from agentdesk.wukongim.rest import RestClient, RestError
from agentdesk.wukongim.store import OutboxEntry, StoredMessage

__all__ = [
    "AUTH_HINT",
    "ClientConfig",
    "ConnectionLost",
    "Link",
    "Rejected",
    "drop_on_error",
    "encode_send",
    "open_link",
    "verify_recv",
]

log = logging.getLogger(__name__)

#: verified RECVs waiting for the storer; when full, the reader stops reading the socket
RECV_QUEUE = 4096

AUTH_HINT = "the server closed the connection without CONNACK: bad uid/token?"


@dataclass(slots=True)
class ClientConfig:
    uid: str
    token: str
    #: REST base URL (route lookup when ws_url is None, catch-up, outbox history checks)
    api_url: str | None = None
    ws_url: str | None = None
    manager_token: str | None = None
    device_flag: int = 1
    device_id: str = ""
    version: int = LATEST_VERSION
    ping_interval: float = 30.0
    max_missed_pongs: int = 2
    open_timeout: float = 5.0
    connack_timeout: float = 6.0
    ack_timeout: float = 10.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    #: history pulled for a channel the store has never seen
    backfill: int = 100
    page_size: int = 200
    recv_batch: int = 512
    #: a gap seen while online that live RECVs have not closed after this long is pulled over REST
    gap_fill_delay: float = 1.0


class Link:
    """State of one WebSocket connection (dropped as a whole on any failure)."""

    def __init__(
        self, ws: ClientConnection, session: crypto.Session, version: int, decoder: codec.Decoder
    ) -> None:
        self.ws = ws
        self.session = session
        self.version = version
        self.decoder = decoder
        self.client_seq = 0
        self.inflight: dict[int, str] = {}
        self.missed_pongs = 0
        self.ready = False
        self.history_checked = False
        self.gap_wake = asyncio.Event()
        self.lost: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
        self.recvq: asyncio.Queue[tuple[StoredMessage, int]] = asyncio.Queue(maxsize=RECV_QUEUE)
        self.time_diff_ms = 0

    def drop(self, exc: BaseException) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


class ConnectionLost(Exception):
    pass


def drop_on_error(conn: Link, task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        if not isinstance(exc, Kicked | ConnectionLost):
            log.debug("connection task failed", exc_info=exc)
        conn.drop(
            exc
            if isinstance(exc, Kicked | ConnectionLost)
            else ConnectionLost(f"{type(exc).__name__}: {exc}")
        )


async def resolve_ws_url(cfg: ClientConfig, rest: RestClient | None) -> str:
    if cfg.ws_url:
        return cfg.ws_url
    if rest is None:
        raise ServerUnreachable("no WebSocket address and no REST API to ask /route")
    try:
        route = await rest.route()
    except RestError as exc:
        raise ServerUnreachable(f"route lookup failed: {exc}") from None
    url = route.ws_addr
    parts = urlsplit(url)
    if parts.hostname in (None, "", "0.0.0.0", "::"):
        api_host = urlsplit(rest.base_url).hostname or "127.0.0.1"
        url = f"{parts.scheme or 'ws'}://{api_host}:{parts.port or 5200}{parts.path}"
    return url


async def open_link(cfg: ClientConfig, rest: RestClient | None) -> Link:
    """Connect and log in; AuthFailed / ServerUnreachable on failure."""
    url = await resolve_ws_url(cfg, rest)
    try:
        ws = await websockets.connect(
            url,
            open_timeout=cfg.open_timeout,
            ping_interval=None,
            max_size=2 * 1024 * 1024,
            compression=None,
        )
    except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
        raise ServerUnreachable(f"cannot connect to {url}: {exc or type(exc).__name__}") from None
    try:
        return await _login(cfg, ws)
    except BaseException:
        await ws.close()
        raise


async def _login(cfg: ClientConfig, ws: ClientConnection) -> Link:
    keys = crypto.generate_keypair()
    started_ms = int(time.time() * 1000)
    connect = Connect(
        cfg.version, cfg.device_flag, cfg.device_id, cfg.uid, cfg.token, started_ms, keys.public_b64
    )
    decoder = codec.Decoder(cfg.version)
    try:
        await ws.send(codec.encode(connect, cfg.version))
        async with asyncio.timeout(cfg.connack_timeout):
            while True:
                data = await ws.recv()
                packets = decoder.feed(data if isinstance(data, bytes) else data.encode())
                ack = next((p for p in packets if isinstance(p, Connack)), None)
                if ack is not None:
                    break
    except websockets.exceptions.ConnectionClosed:
        raise AuthFailed(AUTH_HINT) from None
    except TimeoutError:
        raise AuthFailed(f"no CONNACK within {cfg.connack_timeout} s: bad uid/token?") from None
    except ProtocolError as exc:
        raise ServerUnreachable(f"not a WuKongIM server (bad CONNACK: {exc})") from None
    if ack.reason_code != 1:
        raise AuthFailed(f"login refused (CONNACK reason {ack.reason_code})", ack.reason_code)
    # a CONNACK with server_version sets the effective version (the decoder already switched)
    version = ack.server_version if ack.server_version is not None else cfg.version
    decoder.version = version
    try:
        if ack.server_key:
            session = crypto.derive_session(keys.private, ack.server_key, ack.salt)
        else:
            session = crypto.Session.plaintext()
    except crypto.CryptoError as exc:
        raise ServerUnreachable(f"bad CONNACK keys: {exc}") from None
    link = Link(ws, session, version, decoder)
    link.time_diff_ms = ack.time_diff
    return link


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str


def verify_recv(session: crypto.Session, p: Recv) -> StoredMessage | Rejected:
    """Check a RECV's msg_key and decrypt it; `Rejected` when either fails (drop it, do not ack)."""
    if session.encrypted:
        want = session.recv_msg_key(
            p.message_id, p.message_seq, p.client_msg_no, p.timestamp, p.from_uid, p.channel_id, p.channel_type,
            p.payload,
        )  # fmt: skip
        if want != p.msg_key:
            return Rejected("bad msg_key")
    try:
        plain = session.decrypt_payload(p.payload)
    except crypto.CryptoError as exc:
        return Rejected(str(exc))
    return StoredMessage(
        p.message_id, p.message_seq, p.client_msg_no, p.from_uid, p.channel_id, p.channel_type,
        p.timestamp, plain, p.setting, p.flags,
    )  # fmt: skip


def encode_send(link: Link, e: OutboxEntry) -> tuple[int, bytes]:
    """Next client_seq and the encoded, encrypted SEND for an outbox entry."""
    link.client_seq += 1
    seq = link.client_seq
    wire = link.session.encrypt_payload(e.payload)
    key = link.session.send_msg_key(seq, e.client_msg_no, e.channel_id, e.channel_type, wire)
    pkt = Send(0, seq, e.client_msg_no, e.channel_id, e.channel_type, key, wire, flags=HeaderFlag.RED_DOT)
    return seq, codec.encode(pkt, link.version)
