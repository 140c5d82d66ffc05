"""Field-level readers and writers of the WuKongIM binary protocol (PROTOCOL.md §a.3, §a.4).

Private to `codec.py`: big-endian struct formats, u16-length UTF-8 strings, the MQTT-style remaining
length. Readers work on one packet body (`bytes`), so they can never read into the next packet.
"""

from __future__ import annotations

import struct

from .packets import MAX_STRING_BYTES, ProtocolError

__all__ = [
    "I64",
    "I64_U8",
    "I64_U32",
    "I64_U32_I32",
    "I64_U32_U32_U8",
    "SETTING_STREAM",
    "SETTING_TOPIC",
    "U8",
    "U8_U8",
    "U8_U8_U8",
    "U8_U32",
    "U16",
    "U32",
    "U64",
    "Short",
    "exact",
    "read_str",
    "stream_fields",
    "varint",
    "write_str",
]

SETTING_STREAM = 0x02
SETTING_TOPIC = 0x08

U8 = struct.Struct(">B")
U16 = struct.Struct(">H")
U32 = struct.Struct(">I")
U64 = struct.Struct(">Q")
I64 = struct.Struct(">q")
U8_U8 = struct.Struct(">BB")
U8_U8_U8 = struct.Struct(">BBB")
I64_U8 = struct.Struct(">qB")
I64_U32 = struct.Struct(">qI")
U8_U32 = struct.Struct(">BI")
I64_U32_I32 = struct.Struct(">qIi")
I64_U32_U32_U8 = struct.Struct(">qIIB")


def write_str(value: str) -> bytes:
    """u16 length + UTF-8; the Go decoder reads the length as signed, hence the 32 767 limit."""
    raw = value.encode("utf-8")
    if len(raw) > MAX_STRING_BYTES:
        raise ValueError(f"string field is {len(raw)} bytes UTF-8, the protocol allows {MAX_STRING_BYTES}")
    return U16.pack(len(raw)) + raw


def stream_fields(version: int, setting: int) -> bool:
    return 2 <= version <= 4 and bool(setting & SETTING_STREAM)


def varint(n: int) -> bytes:
    """MQTT-style remaining length. Unlike the Go/SDK encoders, 0 is written as one `00` byte."""
    if n < 0x80:
        return bytes((n,))
    if n < 0x4000:
        return bytes((0x80 | (n & 0x7F), n >> 7))
    out = bytearray()
    while True:
        digit = n & 0x7F
        n >>= 7
        if n:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


class Short(Exception):
    """A field runs past the end of the body (converted to ProtocolError by the caller)."""


def read_str(body: bytes, o: int) -> tuple[str, int]:
    (n,) = U16.unpack_from(body, o)
    o += 2
    end = o + n
    if n > MAX_STRING_BYTES:
        raise ProtocolError(f"string length {n} exceeds {MAX_STRING_BYTES}")
    if end > len(body):
        raise Short
    try:
        return body[o:end].decode("utf-8"), end
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"string field is not valid UTF-8 ({exc.reason})") from None


def exact(body: bytes, o: int, what: str) -> None:
    if o != len(body):
        raise ProtocolError(f"{what} body has {len(body) - o} unexpected trailing bytes")
