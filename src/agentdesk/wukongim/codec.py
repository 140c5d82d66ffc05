"""Binary codec for the WuKongIM client protocol (PROTOCOL.md §a), versions 2-5.

`encode` turns a packet dataclass into the exact wire bytes; `Decoder` cuts a byte stream (WebSocket
messages or TCP reads, arbitrarily split) into packets. The decoder faces untrusted input from the
network, so it is written to fail in exactly one way: `ProtocolError`. It never buffers more than
one packet of at most `max_remaining` body bytes, rejects an oversized length as soon as the length
bytes say so (before the body arrives), and validates that every field fits its packet body.

Payloads are opaque bytes here; encryption belongs to `crypto.py`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from .codec_fields import (
    I64,
    I64_U8,
    I64_U32,
    I64_U32_I32,
    I64_U32_U32_U8,
    SETTING_TOPIC,
    U8,
    U8_U8,
    U8_U8_U8,
    U8_U32,
    U32,
    U64,
    Short,
    exact,
    read_str,
    stream_fields,
    varint,
    write_str,
)
from .packets import (
    LATEST_VERSION,
    MAX_REMAINING_LENGTH,
    Connack,
    Connect,
    Disconnect,
    Event,
    Packet,
    PacketType,
    Ping,
    Pong,
    ProtocolError,
    Recv,
    Recvack,
    Send,
    Sendack,
    Sub,
    Suback,
    UnknownPacket,
)

__all__ = ["Decoder", "decode_one", "encode"]

_PING_BYTE = PacketType.PING << 4
_PONG_BYTE = PacketType.PONG << 4


# --------------------------------------------------------------------------------------------------
# encoding


def _enc_connect(p: Connect, version: int) -> bytes:
    head = U8_U8.pack(p.version, p.device_flag) + write_str(p.device_id) + write_str(p.uid)
    return head + write_str(p.token) + I64.pack(p.client_timestamp) + write_str(p.client_key)


def _enc_connack(p: Connack, version: int) -> bytes:
    out = b""
    if p.server_version is not None:
        out = U8.pack(p.server_version)
        version = p.server_version
    out += I64_U8.pack(p.time_diff, p.reason_code) + write_str(p.server_key) + write_str(p.salt)
    return out + U64.pack(p.node_id) if version >= 4 else out


def _enc_send(p: Send, version: int) -> bytes:
    setting = p.setting
    parts = [U8_U32.pack(setting, p.client_seq), write_str(p.client_msg_no)]
    if stream_fields(version, setting):
        parts.append(write_str(p.stream_no))
    parts.append(write_str(p.channel_id))
    parts.append(U8.pack(p.channel_type))
    if version >= 3:
        parts.append(U32.pack(p.expire))
    parts.append(write_str(p.msg_key))
    if setting & SETTING_TOPIC:
        parts.append(write_str(p.topic))
    parts.append(p.payload)
    return b"".join(parts)


def _enc_sendack(p: Sendack, version: int) -> bytes:
    return I64_U32_U32_U8.pack(p.message_id, p.client_seq, p.message_seq, p.reason_code)


def _enc_recv(p: Recv, version: int) -> bytes:
    setting = p.setting
    parts = [
        U8.pack(setting),
        write_str(p.msg_key),
        write_str(p.from_uid),
        write_str(p.channel_id),
        U8.pack(p.channel_type),
    ]
    if version >= 3:
        parts.append(U32.pack(p.expire))
    parts.append(write_str(p.client_msg_no))
    if stream_fields(version, setting):
        parts.append(U8.pack(p.stream_flag))
        parts.append(write_str(p.stream_no))
        parts.append(U64.pack(p.stream_id))
    parts.append(I64_U32_I32.pack(p.message_id, p.message_seq, p.timestamp))
    if setting & SETTING_TOPIC:
        parts.append(write_str(p.topic))
    parts.append(p.payload)
    return b"".join(parts)


def _enc_recvack(p: Recvack, version: int) -> bytes:
    return I64_U32.pack(p.message_id, p.message_seq)


def _enc_disconnect(p: Disconnect, version: int) -> bytes:
    return U8.pack(p.reason_code) + write_str(p.reason)


def _enc_sub(p: Sub, version: int) -> bytes:
    head = U8.pack(p.setting) + write_str(p.sub_no) + write_str(p.channel_id)
    return head + U8_U8.pack(p.channel_type, p.action) + write_str(p.param)


def _enc_suback(p: Suback, version: int) -> bytes:
    return (
        write_str(p.sub_no) + write_str(p.channel_id) + U8_U8_U8.pack(p.channel_type, p.action, p.reason_code)
    )


def _enc_event(p: Event, version: int) -> bytes:
    return write_str(p.id) + write_str(p.type) + I64.pack(p.timestamp) + p.data


_ENCODERS: dict[type, tuple[int, Callable[[Any, int], bytes]]] = {
    Connect: (PacketType.CONNECT, _enc_connect),
    Connack: (PacketType.CONNACK, _enc_connack),
    Send: (PacketType.SEND, _enc_send),
    Sendack: (PacketType.SENDACK, _enc_sendack),
    Recv: (PacketType.RECV, _enc_recv),
    Recvack: (PacketType.RECVACK, _enc_recvack),
    Disconnect: (PacketType.DISCONNECT, _enc_disconnect),
    Sub: (PacketType.SUB, _enc_sub),
    Suback: (PacketType.SUBACK, _enc_suback),
    Event: (PacketType.EVENT, _enc_event),
}


def encode(packet: Packet, version: int) -> bytes:
    """Encode one packet for a connection speaking protocol `version` (0-5; 2-5 in practice).

    Header flags come from `packet.flags`; for CONNACK bit 0 (has_server_version) is set whenever
    `server_version` is not None, and the node_id is written iff the effective version (server_version
    if present, else `version`) is at least 4. Raises ValueError for anything that cannot be put on
    the wire (out-of-range integers, over-long strings, a body above the 1 MiB limit).
    """
    if not 0 <= version <= LATEST_VERSION:
        raise ValueError(f"protocol version {version} is not supported (0..{LATEST_VERSION})")
    flags = packet.flags
    if not 0 <= flags <= 0x0F:
        raise ValueError(f"header flags must fit 4 bits, got {flags!r}")
    if isinstance(packet, Ping):
        return bytes((_PING_BYTE | flags,))
    if isinstance(packet, Pong):
        return bytes((_PONG_BYTE | flags,))
    try:
        ptype, enc = _ENCODERS[type(packet)]
    except KeyError:
        raise ValueError(f"not a WuKongIM packet: {type(packet).__name__}") from None
    if isinstance(packet, Connack):
        if packet.server_version is not None:
            flags |= 0x01
        elif flags & 0x01:
            raise ValueError("CONNACK flag has_server_version (bit 0) is set but server_version is None")
    try:
        body = enc(packet, version)
    except struct.error as exc:
        raise ValueError(f"{type(packet).__name__}: integer field out of range ({exc})") from None
    n = len(body)
    if n > MAX_REMAINING_LENGTH:
        raise ValueError(
            f"{type(packet).__name__} body is {n} bytes, the protocol allows {MAX_REMAINING_LENGTH}"
        )
    if n < 0x80:
        return bytes(((ptype << 4) | flags, n)) + body
    return bytes(((ptype << 4) | flags,)) + varint(n) + body


# --------------------------------------------------------------------------------------------------
# decoding
#
# Each body decoder gets the body as its own `bytes` object, so struct.unpack_from can never read
# into the next packet: an overrun shows up as struct.error (caught by the caller) and strings are
# bounds-checked explicitly.


def _dec_connect(body: bytes, flags: int, version: int) -> Connect:
    pver, device_flag = U8_U8.unpack_from(body, 0)
    device_id, o = read_str(body, 2)
    uid, o = read_str(body, o)
    token, o = read_str(body, o)
    (ts,) = I64.unpack_from(body, o)
    client_key, o = read_str(body, o + 8)
    exact(body, o, "CONNECT")
    return Connect(pver, device_flag, device_id, uid, token, ts, client_key, flags)


def _dec_connack(body: bytes, flags: int, version: int) -> Connack:
    server_version: int | None = None
    o = 0
    if flags & 0x01:
        server_version = body[0]
        version = server_version
        o = 1
    time_diff, reason = I64_U8.unpack_from(body, o)
    server_key, o = read_str(body, o + 9)
    salt, o = read_str(body, o)
    node_id = 0
    if version >= 4:
        (node_id,) = U64.unpack_from(body, o)
        o += 8
    exact(body, o, "CONNACK")
    return Connack(time_diff, reason, server_key, salt, server_version, node_id, flags)


def _dec_send(body: bytes, flags: int, version: int) -> Send:
    setting, client_seq = U8_U32.unpack_from(body, 0)
    client_msg_no, o = read_str(body, 5)
    stream_no = ""
    if stream_fields(version, setting):
        stream_no, o = read_str(body, o)
    channel_id, o = read_str(body, o)
    channel_type = body[o]
    o += 1
    expire = 0
    if version >= 3:
        (expire,) = U32.unpack_from(body, o)
        o += 4
    msg_key, o = read_str(body, o)
    topic = ""
    if setting & SETTING_TOPIC:
        topic, o = read_str(body, o)
    return Send(
        setting,
        client_seq,
        client_msg_no,
        channel_id,
        channel_type,
        msg_key,
        body[o:],
        stream_no,
        expire,
        topic,
        flags,
    )


def _dec_sendack(body: bytes, flags: int, version: int) -> Sendack:
    if len(body) != 17:
        raise ProtocolError(f"SENDACK body must be 17 bytes, got {len(body)}")
    message_id, client_seq, message_seq, reason = I64_U32_U32_U8.unpack(body)
    return Sendack(message_id, client_seq, message_seq, reason, flags)


def _dec_recv(body: bytes, flags: int, version: int) -> Recv:
    setting = body[0]
    msg_key, o = read_str(body, 1)
    from_uid, o = read_str(body, o)
    channel_id, o = read_str(body, o)
    channel_type = body[o]
    o += 1
    expire = 0
    if version >= 3:
        (expire,) = U32.unpack_from(body, o)
        o += 4
    client_msg_no, o = read_str(body, o)
    stream_flag = 0
    stream_no = ""
    stream_id = 0
    if stream_fields(version, setting):
        stream_flag = body[o]
        stream_no, o = read_str(body, o + 1)
        (stream_id,) = U64.unpack_from(body, o)
        o += 8
    message_id, message_seq, timestamp = I64_U32_I32.unpack_from(body, o)
    o += 16
    topic = ""
    if setting & SETTING_TOPIC:
        topic, o = read_str(body, o)
    return Recv(
        setting,
        msg_key,
        from_uid,
        channel_id,
        channel_type,
        client_msg_no,
        message_id,
        message_seq,
        timestamp,
        body[o:],
        expire,
        stream_flag,
        stream_no,
        stream_id,
        topic,
        flags,
    )


def _dec_recvack(body: bytes, flags: int, version: int) -> Recvack:
    if len(body) != 12:
        raise ProtocolError(f"RECVACK body must be 12 bytes, got {len(body)}")
    message_id, message_seq = I64_U32.unpack(body)
    return Recvack(message_id, message_seq, flags)


def _dec_disconnect(body: bytes, flags: int, version: int) -> Disconnect:
    reason_code = body[0]
    reason, o = read_str(body, 1)
    exact(body, o, "DISCONNECT")
    return Disconnect(reason_code, reason, flags)


def _dec_sub(body: bytes, flags: int, version: int) -> Sub:
    setting = body[0]
    sub_no, o = read_str(body, 1)
    channel_id, o = read_str(body, o)
    channel_type, action = U8_U8.unpack_from(body, o)
    param, o = read_str(body, o + 2)
    exact(body, o, "SUB")
    return Sub(setting, sub_no, channel_id, channel_type, action, param, flags)


def _dec_suback(body: bytes, flags: int, version: int) -> Suback:
    sub_no, o = read_str(body, 0)
    channel_id, o = read_str(body, o)
    if len(body) - o != 3:
        raise ProtocolError(f"SUBACK body must end with 3 bytes after the strings, got {len(body) - o}")
    channel_type, action, reason = U8_U8_U8.unpack_from(body, o)
    return Suback(sub_no, channel_id, channel_type, action, reason, flags)


def _dec_event(body: bytes, flags: int, version: int) -> Event:
    event_id, o = read_str(body, 0)
    event_type, o = read_str(body, o)
    (ts,) = I64.unpack_from(body, o)
    return Event(event_id, event_type, ts, body[o + 8 :], flags)


_BodyDecoder = Callable[[bytes, int, int], Packet]

_BY_TYPE: dict[int, _BodyDecoder] = {
    PacketType.CONNECT: _dec_connect,
    PacketType.CONNACK: _dec_connack,
    PacketType.SEND: _dec_send,
    PacketType.SENDACK: _dec_sendack,
    PacketType.RECV: _dec_recv,
    PacketType.RECVACK: _dec_recvack,
    PacketType.DISCONNECT: _dec_disconnect,
    PacketType.SUB: _dec_sub,
    PacketType.SUBACK: _dec_suback,
    PacketType.EVENT: _dec_event,
}
#: Indexed by packet type 0..15; None = unknown type (skipped by length). PING/PONG never get here.
_DECODERS: tuple[_BodyDecoder | None, ...] = tuple(_BY_TYPE.get(t) for t in range(16))
_NAMES = {t.value: t.name for t in PacketType}


class Decoder:
    """Incremental decoder for one direction of one connection.

    `version` is the protocol version in force: the client sets it to the effective version after
    CONNACK, the server to min(CONNECT.version, 5). A CONNACK that carries `server_version` also
    switches `version` itself, so packets that follow it in the same chunk are read correctly.

    After a ProtocolError the stream can no longer be framed; every later `feed` raises again and the
    connection should be closed.
    """

    __slots__ = ("_buf", "_error", "_need", "max_remaining", "version")

    def __init__(self, version: int = LATEST_VERSION, *, max_remaining: int = MAX_REMAINING_LENGTH) -> None:
        self.version = version
        self.max_remaining = max_remaining
        self._buf = bytearray()
        #: bytes the buffered partial packet needs before it is worth parsing again
        self._need = 0
        self._error: str | None = None

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete packet held back (always ≤ max_remaining + 5)."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Packet | UnknownPacket]:
        """Add bytes from the stream; return every packet completed by them, in order.

        Only the bytes a partial packet still lacks are copied into the buffer; the rest of `data`
        is parsed in place, so a large chunk is never duplicated.
        """
        if self._error is not None:
            raise ProtocolError(f"decoder already failed: {self._error}")
        if not isinstance(data, bytes):
            data = bytes(data)
        out: list[Packet | UnknownPacket] = []
        try:
            pos = 0
            n = len(data)
            while self._buf:  # finish the packet that earlier calls started
                missing = self._need - len(self._buf)
                if n - pos < missing:
                    self._buf += memoryview(data)[pos:]
                    return out
                self._buf += memoryview(data)[pos : pos + missing]
                pos += missing
                head = bytes(self._buf)
                self._buf.clear()
                self._parse(head, 0, out)  # one packet, or the header is still incomplete
            if pos < n:
                self._parse(data, pos, out)
        except ProtocolError as exc:
            self._error = str(exc)
            self._buf.clear()
            raise
        return out

    def _parse(self, buf: bytes, pos: int, out: list[Packet | UnknownPacket]) -> None:
        """Append the complete packets of buf[pos:] to `out`; keep a trailing partial packet."""
        n = len(buf)
        limit = self.max_remaining
        while pos < n:
            first = buf[pos]
            ptype = first >> 4
            flags = first & 0x0F
            if ptype == 7:
                out.append(Ping(flags))
                pos += 1
                continue
            if ptype == 8:
                out.append(Pong(flags))
                pos += 1
                continue
            # remaining length: at most 4 bytes, each adds 7 bits
            p = pos + 1
            if p < n and buf[p] < 0x80:  # one length byte: the common case
                length = buf[p]
                p += 1
            else:
                length = 0
                shift = 0
                while True:
                    if p >= n:
                        # incomplete length (the bytes so far are already checked against the limit)
                        self._keep(buf, pos, n - pos + 1)
                        return
                    b = buf[p]
                    p += 1
                    length |= (b & 0x7F) << shift
                    if not b & 0x80:
                        break
                    shift += 7
                    if shift == 28:
                        raise ProtocolError("remaining length uses more than 4 bytes")
                    if length > limit:
                        # later length bytes can only add to it: reject before the body arrives
                        raise ProtocolError(f"remaining length exceeds the {limit}-byte limit")
            if length > limit:
                raise ProtocolError(f"remaining length {length} exceeds the {limit}-byte limit")
            end = p + length
            if end > n:
                self._keep(buf, pos, end - pos)
                return
            body = buf[p:end]
            pos = end
            dec = _DECODERS[ptype]
            if dec is None:
                out.append(UnknownPacket(ptype, flags, body))
                continue
            try:
                pkt = dec(body, flags, self.version)
            except (struct.error, IndexError, Short):
                raise ProtocolError(
                    f"{_NAMES[ptype]} body of {length} bytes is too short for its fields (version {self.version})"
                ) from None
            if ptype == 2 and isinstance(pkt, Connack):
                self._adopt(pkt)
            out.append(pkt)

    def _adopt(self, connack: Connack) -> None:
        """A CONNACK with server_version fixes the version of everything after it."""
        if connack.server_version is not None and connack.server_version <= LATEST_VERSION:
            self.version = connack.server_version

    def _keep(self, buf: bytes, pos: int, need: int) -> None:
        self._buf += memoryview(buf)[pos:]
        self._need = need


def decode_one(data: bytes | bytearray | memoryview, version: int) -> Packet | UnknownPacket:
    """Decode exactly one complete packet; ProtocolError if incomplete or followed by more bytes."""
    dec = Decoder(version)
    packets = dec.feed(data)
    if len(packets) > 1 or (packets and dec.buffered):
        raise ProtocolError("trailing bytes after the packet")
    if not packets:
        raise ProtocolError("incomplete packet")
    return packets[0]
