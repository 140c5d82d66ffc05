"""The WebSocket side: CONNECT/CONNACK, SEND→SENDACK, RECVACK, PING→PONG (PROTOCOL.md §a, §b, §g).

Input is a byte stream cut into packets by length (several or partial packets per WebSocket message);
output is one packet per WebSocket message. Anything that is not the protocol (text frames, JSON-RPC,
garbage, oversized packets, unknown packet types) closes that connection and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from agentdesk.wukongim import codec
from agentdesk.wukongim.crypto import CryptoError, Session, server_handshake
from agentdesk.wukongim.packets import (
    LATEST_VERSION,
    MAX_REMAINING_LENGTH,
    Connack,
    Connect,
    Disconnect,
    HeaderFlag,
    Packet,
    Ping,
    Pong,
    ProtocolError,
    ReasonCode,
    Recvack,
    Send,
    Sendack,
    Sub,
    UnknownPacket,
)

from .config import DevServerConfig
from .hub import ClientConn, Hub
from .ids import valid_id
from .messaging import Messaging, Outgoing
from .storage import Storage

log = logging.getLogger(__name__)

#: a CONNECT is small; do not buffer more than this from an unauthenticated peer
_MAX_CONNECT_BYTES = 64 * 1024
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def split_first(buf: bytes, limit: int) -> tuple[bytes, bytes] | None:
    """Cut the first complete packet off `buf`: (packet, rest), or None if more bytes are needed."""
    if not buf:
        return None
    if buf[0] >> 4 in (7, 8):  # PING / PONG: one byte, no length
        return buf[:1], buf[1:]
    length = shift = 0
    pos = 1
    while True:
        if pos >= len(buf):
            return None
        b = buf[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift == 28:
            raise ProtocolError("remaining length uses more than 4 bytes")
    if length > limit:
        raise ProtocolError(f"first packet of {length} bytes is too large")
    end = pos + length
    if end > len(buf):
        return None
    return buf[:end], buf[end:]


class WsHandler:
    def __init__(self, cfg: DevServerConfig, storage: Storage, hub: Hub, messaging: Messaging) -> None:
        self.cfg = cfg
        self.storage = storage
        self.hub = hub
        self.messaging = messaging

    async def __call__(self, ws: ServerConnection) -> None:
        try:
            await self._run(ws)
        except (ConnectionClosed, ProtocolError, TimeoutError):
            pass
        except Exception:
            log.exception("WebSocket connection failed")
        finally:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _read_connect(self, ws: ServerConnection) -> tuple[bytes, bytes] | None:
        buf = b""
        async with asyncio.timeout(self.cfg.connect_timeout):
            while True:
                data = await ws.recv()
                if isinstance(data, str):
                    return None  # JSON-RPC / text frames are not supported
                buf += data
                found = split_first(buf, _MAX_CONNECT_BYTES)
                if found is not None:
                    return found
                if len(buf) > _MAX_CONNECT_BYTES:
                    return None

    async def _run(self, ws: ServerConnection) -> None:
        found = await self._read_connect(ws)
        if found is None:
            return
        first, rest = found
        packet = codec.decode_one(first, LATEST_VERSION)
        if not isinstance(packet, Connect):
            return
        conn = await self._authenticate(ws, packet)
        if conn is None:
            return
        cfg = self.cfg
        self._kick_older(conn)
        self.hub.add(conn)
        writer = asyncio.create_task(conn.writer(cfg.max_outbound_queue), name=f"ws-writer-{conn.conn_id}")
        decoder = codec.Decoder(conn.version, max_remaining=MAX_REMAINING_LENGTH)
        try:
            if rest and not self._handle(conn, decoder.feed(rest)):
                return
            while not conn.closing:
                async with asyncio.timeout(cfg.idle_timeout):
                    data = await ws.recv()
                if isinstance(data, str) or not self._handle(conn, decoder.feed(data)):
                    return
        except (ConnectionClosed, ProtocolError, TimeoutError):
            return
        finally:
            self.hub.remove(conn)
            conn.close_soon()
            try:
                async with asyncio.timeout(5.0):
                    await writer
            except (TimeoutError, ConnectionClosed):
                writer.cancel()
            except Exception:
                log.debug("writer of conn %d ended with an error", conn.conn_id, exc_info=True)

    async def _authenticate(self, ws: ServerConnection, p: Connect) -> ClientConn | None:
        cfg = self.cfg
        uid = p.uid
        if not valid_id(uid):
            return None
        version = min(p.version, LATEST_VERSION)
        level = 0  # token auth off: every device is a slave (§g.5)
        if cfg.token_auth and not self.messaging.is_visitor(uid):
            if uid == cfg.manager_uid:
                ok = bool(cfg.manager_token) and hmac.compare_digest(str(cfg.manager_token), p.token)
            else:
                stored = self.storage.tokens.get((uid, p.device_flag))
                ok = stored is not None and bool(stored.token) and hmac.compare_digest(stored.token, p.token)
                level = stored.device_level if stored is not None else 0
            if not ok:
                if cfg.auth_fail_connack:
                    fail = Connack(
                        0, ReasonCode.AUTH_FAIL, "", "", server_version=version if p.version > 3 else None
                    )
                    await ws.send(codec.encode(fail, version))
                log.info("CONNECT refused for uid %r device_flag %d: bad token", uid, p.device_flag)
                return None
        if cfg.encryption:
            try:
                session, server_key, salt = server_handshake(p.client_key)
            except CryptoError:
                log.info("CONNECT refused for uid %r: unusable client_key", uid)
                return None
        else:
            session, server_key, salt = Session.plaintext(), "", ""
        time_diff = max(_I64_MIN, min(_I64_MAX, int(time.time() * 1000) - p.client_timestamp))
        connack = Connack(
            time_diff=time_diff,
            reason_code=ReasonCode.SUCCESS,
            server_key=server_key,
            salt=salt,
            server_version=version if p.version > 3 else None,
            node_id=cfg.node_id,
        )
        await ws.send(codec.encode(connack, version))
        return ClientConn(
            self.hub.new_conn_id(),
            ws,
            uid=uid,
            device_flag=p.device_flag,
            device_id=p.device_id,
            device_level=level,
            version=version,
            session=session,
            max_queue=cfg.max_outbound_queue,
        )

    def _kick_older(self, conn: ClientConn) -> None:
        """§g.5: a master kicks other device ids of its device flag; anyone replaces its own device id."""
        for other in list(self.hub.online(conn.uid)):
            if other.device_flag != conn.device_flag or other.closing:
                continue
            if other.device_id == conn.device_id:
                self.hub.kick(other, notify=False, delay=self.cfg.kick_close_delay)
            elif conn.device_level == 1:
                self.hub.kick(other, notify=True, delay=self.cfg.kick_close_delay)

    def _handle(self, conn: ClientConn, packets: list[Packet | UnknownPacket]) -> bool:
        """Process decoded packets; False = close the connection."""
        for packet in packets:
            if isinstance(packet, Send):
                self._on_send(conn, packet)
            elif isinstance(packet, Recvack):
                conn.pending.pop(packet.message_id, None)
            elif isinstance(packet, Ping):
                conn.push(codec.encode(Pong(), conn.version))
            elif isinstance(packet, Sub):
                continue  # v2.x servers decode SUB and do nothing with it
            elif isinstance(packet, Disconnect):
                return False
            else:  # CONNECT again, server-only packets, unknown types
                log.info(
                    "conn %d (%s): unexpected %s, closing", conn.conn_id, conn.uid, type(packet).__name__
                )
                return False
        return True

    def _sendack(self, conn: ClientConn, p: Send, message_id: int, seq: int, reason: int) -> None:
        if not message_id:  # WuKongIM assigns the id before any check, failures carry it too
            message_id = self.storage.ids.next()
        ack = Sendack(message_id, p.client_seq, seq, reason, flags=p.flags)
        conn.push(codec.encode(ack, conn.version))

    def _on_send(self, conn: ClientConn, p: Send) -> None:
        session = conn.session
        if session.encrypted:
            expected = session.send_msg_key(
                p.client_seq, p.client_msg_no, p.channel_id, p.channel_type, p.payload
            )
            if not hmac.compare_digest(expected, p.msg_key):
                self._sendack(conn, p, 0, 0, ReasonCode.PAYLOAD_DECODE_ERROR)
                return
            try:
                plain = session.decrypt_payload(p.payload)
            except CryptoError:
                self._sendack(conn, p, 0, 0, ReasonCode.PAYLOAD_DECODE_ERROR)
                return
        else:
            plain = p.payload
        if not valid_id(p.channel_id):
            self._sendack(conn, p, 0, 0, ReasonCode.CHANNEL_ID_ERROR)
            return
        reason = self.messaging.check_send(conn.uid, p.channel_id, p.channel_type)
        if reason != ReasonCode.SUCCESS:
            self._sendack(conn, p, 0, 0, reason)
            return
        out = Outgoing(
            from_uid=conn.uid,
            channel_id=p.channel_id,
            channel_type=p.channel_type,
            client_msg_no=p.client_msg_no,
            payload=plain,
            header=p.flags & (HeaderFlag.RED_DOT | HeaderFlag.SYNC_ONCE | HeaderFlag.NO_PERSIST),
            setting=p.setting,
            expire=p.expire,
            topic=p.topic,
        )
        try:
            msg = self.messaging.publish(out, exclude=conn)
        except Exception:
            log.exception("storing a message from %s failed", conn.uid)
            self._sendack(conn, p, 0, 0, ReasonCode.SYSTEM_ERROR)
            return
        self._sendack(conn, p, msg.message_id, msg.message_seq, ReasonCode.SUCCESS)
