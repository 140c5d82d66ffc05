"""Codec edge cases and error paths: each refusal names what is wrong."""

from __future__ import annotations

import struct

import pytest

from agentdesk.wukongim import packets as P
from agentdesk.wukongim.codec import Decoder, decode_one, encode

RECVACK = P.Recvack(1839520219870220289, 8, flags=0x02)
RECVACK_HEX = "620c198749e4ce83500100000008"


def _string(raw: bytes) -> bytes:
    return struct.pack(">H", len(raw)) + raw


# -- framing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "varint_hex"),
    [
        (99, "63"),
        (127, "7f"),
        (128, "8001"),
        (147, "9301"),
        (167, "a701"),
        (16383, "ff7f"),
        (16384, "808001"),
    ],
)
def test_remaining_length_bytes(length: int, varint_hex: str) -> None:
    """PROTOCOL.md a.3 examples and the 1/2/3-byte boundaries, via EVENT payload size."""
    # EVENT body = 2 + 2 + 8 + data
    packet = P.Event("", "", 0, b"d" * (length - 12))
    raw = encode(packet, 5)
    assert raw[1 : 1 + len(varint_hex) // 2].hex() == varint_hex
    assert decode_one(raw, 5) == packet


def test_zero_length_body_is_written_as_one_zero_byte_and_read() -> None:
    """No known packet has an empty body; an unknown type with length `00` is skipped as such."""
    assert Decoder().feed(b"\x00\x00\xd5\x00") == [P.UnknownPacket(0, 0, b""), P.UnknownPacket(13, 5, b"")]


def test_non_minimal_length_is_accepted_like_go() -> None:
    raw = bytes.fromhex(RECVACK_HEX)
    assert decode_one(raw[:1] + b"\x8c\x00" + raw[2:], 2) == RECVACK


def test_ping_pong_are_single_bytes_with_flags_kept() -> None:
    assert encode(P.Ping(), 2) == b"\x70"
    assert encode(P.Pong(), 5) == b"\x80"
    assert Decoder().feed(b"\x70\x80\x7b") == [P.Ping(), P.Pong(), P.Ping(0x0B)]


@pytest.mark.parametrize("ptype", [0, 13, 14, 15])
def test_unknown_types_skipped_by_length(ptype: int) -> None:
    stream = bytes((ptype << 4 | 0x03, 3)) + b"abc" + bytes.fromhex(RECVACK_HEX)
    assert Decoder(2).feed(stream) == [P.UnknownPacket(ptype, 3, b"abc"), RECVACK]


def test_five_byte_length_rejected() -> None:
    with pytest.raises(P.ProtocolError, match="more than 4 bytes"):
        Decoder(max_remaining=2**30).feed(b"\x30\x80\x80\x80\x80")


def test_limit_edge() -> None:
    exactly = b"\x00" + bytes.fromhex("80804000")  # 1 048 576
    dec = Decoder()
    assert dec.feed(exactly) == []
    assert dec.buffered == 5
    with pytest.raises(P.ProtocolError, match="1048576-byte limit"):
        Decoder().feed(b"\x00" + bytes.fromhex("81804000"))
    # three continuation bytes already say "at least 2^21 - 1": refused without the 4th byte
    with pytest.raises(P.ProtocolError, match="limit"):
        Decoder().feed(b"\x30\xff\xff\xff")


def test_partial_input_is_kept_between_calls() -> None:
    raw = bytes.fromhex(RECVACK_HEX) * 2
    dec = Decoder(2)
    assert dec.feed(raw[:5]) == []
    assert dec.feed(raw[5:17]) == [RECVACK]
    assert dec.buffered == 3
    assert dec.feed(raw[17:]) == [RECVACK]
    assert dec.feed(b"") == []


def test_error_is_sticky() -> None:
    dec = Decoder()
    with pytest.raises(P.ProtocolError):
        dec.feed(b"\x30\x80\x80\x80\x80")
    with pytest.raises(P.ProtocolError, match="already failed"):
        dec.feed(bytes.fromhex(RECVACK_HEX))


# -- body validation ----------------------------------------------------------------------------------


def test_trailing_bytes_in_fixed_body() -> None:
    with pytest.raises(P.ProtocolError, match="RECVACK body must be 12 bytes"):
        decode_one(b"\x60\x0d" + bytes.fromhex(RECVACK_HEX)[2:] + b"\x00", 2)
    body = b"\x0c" + _string(b"bye") + b"!"
    with pytest.raises(P.ProtocolError, match="DISCONNECT body has 1 unexpected trailing bytes"):
        decode_one(bytes((0x90, len(body))) + body, 2)


def test_connack_node_id_depends_on_version() -> None:
    v3 = encode(P.Connack(1, 1, "k", "s"), 3)
    assert decode_one(v3, 3) == P.Connack(1, 1, "k", "s")
    with pytest.raises(P.ProtocolError):  # a v4 reader wants 8 more bytes
        decode_one(v3, 4)
    with pytest.raises(P.ProtocolError, match="trailing"):  # and a v3 reader refuses them
        decode_one(encode(P.Connack(1, 1, "k", "s", node_id=7), 4), 3)


def test_short_body() -> None:
    with pytest.raises(P.ProtocolError, match="SEND body of 3 bytes is too short"):
        decode_one(b"\x32\x03\x00\x00\x00", 2)


def test_string_running_past_body() -> None:
    body = b"\x0c" + b"\x00\x09bye"
    with pytest.raises(P.ProtocolError, match="too short"):
        decode_one(bytes((0x90, len(body))) + body, 2)


def test_invalid_utf8() -> None:
    body = b"\x0c" + _string(b"\xff\xfe")
    with pytest.raises(P.ProtocolError, match="not valid UTF-8"):
        decode_one(bytes((0x90, len(body))) + body, 2)


def test_string_length_over_32767_refused() -> None:
    body = b"\x0c" + struct.pack(">H", 0x8000) + b"x" * 0x8000
    with pytest.raises(P.ProtocolError, match="string length 32768"):
        Decoder().feed(
            b"\x90"
            + bytes((0x80 | (len(body) & 0x7F), 0x80 | ((len(body) >> 7) & 0x7F), len(body) >> 14))
            + body
        )


def test_decode_one_needs_exactly_one_packet() -> None:
    raw = bytes.fromhex(RECVACK_HEX)
    with pytest.raises(P.ProtocolError, match="incomplete"):
        decode_one(raw[:-1], 2)
    with pytest.raises(P.ProtocolError, match="trailing"):
        decode_one(raw + b"\x70", 2)
    with pytest.raises(P.ProtocolError, match="incomplete"):
        decode_one(b"", 2)


def test_signed_fields() -> None:
    recv = P.Recv(0, "", "", "", 1, "", -1, 0, -1, b"")
    assert decode_one(encode(recv, 5), 5) == recv
    connack = P.Connack(-5, 2, "", "")
    assert encode(connack, 2).hex() == "200dfffffffffffffffb0200000000"


# -- encode refusals --------------------------------------------------------------------------------------


def test_encode_string_limit() -> None:
    ok = P.Disconnect(1, "é" * (P.MAX_STRING_BYTES // 2))  # 32766 bytes of UTF-8
    assert decode_one(encode(ok, 5), 5) == ok
    with pytest.raises(ValueError, match="32768 bytes UTF-8"):
        encode(P.Disconnect(1, "é" * (P.MAX_STRING_BYTES // 2 + 1)), 5)


@pytest.mark.parametrize(
    "packet",
    [
        P.Recvack(2**63, 1),
        P.Recvack(1, -1),
        P.Sendack(1, 2**32, 1, 1),
        P.Connack(0, 256, "", ""),
        P.Recv(0, "", "", "", 1, "", 1, 1, 2**31, b""),
    ],
)
def test_encode_out_of_range_integers(packet: P.Packet) -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode(packet, 5)


def test_encode_other_refusals() -> None:
    with pytest.raises(ValueError, match="flags"):
        encode(P.Recvack(1, 1, flags=16), 5)
    with pytest.raises(ValueError, match="version 6"):
        encode(RECVACK, 6)
    with pytest.raises(ValueError, match="has_server_version"):
        encode(P.Connack(0, 1, "", "", flags=0x01), 5)
    with pytest.raises(ValueError, match="1048576"):
        encode(P.Event("", "", 0, bytes(P.MAX_REMAINING_LENGTH)), 5)
    with pytest.raises(ValueError, match="not a WuKongIM packet"):
        encode(P.UnknownPacket(0, 0, b""), 5)  # type: ignore[arg-type]


def test_connack_flag_follows_server_version() -> None:
    raw = encode(P.Connack(0, 1, "", "", server_version=4, node_id=9), 2)
    assert raw[0] == 0x21
    assert decode_one(raw, 2) == P.Connack(0, 1, "", "", server_version=4, node_id=9, flags=0x01)
