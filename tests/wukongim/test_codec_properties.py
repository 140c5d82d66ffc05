"""Round trips at every version and property tests (hypothesis) for the codec.

The decoder faces the network, so the central property is: whatever bytes arrive, in whatever
chunks, `feed` returns packets or raises ProtocolError — nothing else, never a hang, never a buffer
beyond one packet of at most `max_remaining` bytes. A longer run of the same properties lives in
benchmarks/fuzz_codec.py.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentdesk.wukongim import packets as P
from agentdesk.wukongim.codec import Decoder, decode_one, encode

VECTORS: dict[str, Any] = json.loads((Path(__file__).parents[1] / "data" / "vectors.json").read_text("utf-8"))
VERSIONS = (2, 3, 4, 5)
EXAMPLES = 300
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

U8 = st.integers(0, 0xFF)
U32 = st.integers(0, 0xFFFF_FFFF)
I32 = st.integers(-(2**31), 2**31 - 1)
I64 = st.integers(-(2**63), 2**63 - 1)
U64 = st.integers(0, 2**64 - 1)
FLAGS = st.integers(0, 0x0F)
TEXT = st.text(max_size=24)
BLOB = st.binary(max_size=300)


def on_wire(packet: P.Packet, version: int) -> P.Packet:
    """What survives encode→decode at `version`: fields the layout omits fall back to defaults."""
    if isinstance(packet, P.Send):
        stream = 2 <= version <= 4 and packet.setting & P.Setting.STREAM
        return dataclasses.replace(
            packet,
            expire=packet.expire if version >= 3 else 0,
            stream_no=packet.stream_no if stream else "",
            topic=packet.topic if packet.setting & P.Setting.TOPIC else "",
        )
    if isinstance(packet, P.Recv):
        stream = 2 <= version <= 4 and packet.setting & P.Setting.STREAM
        return dataclasses.replace(
            packet,
            expire=packet.expire if version >= 3 else 0,
            stream_flag=packet.stream_flag if stream else 0,
            stream_no=packet.stream_no if stream else "",
            stream_id=packet.stream_id if stream else 0,
            topic=packet.topic if packet.setting & P.Setting.TOPIC else "",
        )
    if isinstance(packet, P.Connack):
        effective = version if packet.server_version is None else packet.server_version
        return dataclasses.replace(
            packet,
            node_id=packet.node_id if effective >= 4 else 0,
            flags=packet.flags | (0x01 if packet.server_version is not None else 0),
        )
    return packet


# -- every type at every version --------------------------------------------------------------------

SAMPLES: list[P.Packet] = [
    P.Connect(
        5, 1, "dev-1", "agent_ü", "tok", -1_700_000_000_123, "6h1Sa73L7Ah1O0mw2r7fR/McfPa7eslMAolHl+XXvHU="
    ),
    P.Connack(-5, 1, "srvkey", "Vx3kQ9ZpL2mN7rT5", None, 2**64 - 1),
    P.Connack(1234, 1, "srvkey", "salt", 3, 77),
    P.Connack(1234, 1, "srvkey", "salt", 5, 1001, flags=0x01),
    P.Send(0xFF, 2**32 - 1, "cmn", "group_1", 2, "k" * 32, b"\x00payload\xff", "sn", 3600, "topic-α", 0x0F),
    P.Send(0, 1, "", "", 0, "", b""),
    P.Sendack(2**63 - 1, 2**32 - 1, 2**32 - 1, 22, 0x0A),
    P.Recv(
        0x0A,
        "mk",
        "u",
        "c",
        10,
        "cmn",
        -(2**63),
        2**32 - 1,
        -(2**31),
        b"pl",
        60,
        2,
        "sn",
        2**64 - 1,
        "t",
        0x07,
    ),
    P.Recv(0, "", "", "", 1, "", 1, 1, 1_700_000_000, b""),
    P.Recvack(1839520219870220289, 8, 0x04),
    P.Ping(),
    P.Ping(0x0B),
    P.Pong(),
    P.Disconnect(12, "login in other device"),
    P.Disconnect(0),
    P.Sub(0, "", "room_1", 7, 1, '{"k":"v"}', 0x01),
    P.Suback("sub", "room_1", 7, 0, 1),
    P.Event("evt-1", "stream.delta", 1_700_000_600_123, b'{"a":1}'),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("packet", SAMPLES, ids=lambda p: type(p).__name__)
def test_every_type_round_trips_at_every_version(packet: P.Packet, version: int) -> None:
    raw = encode(packet, version)
    assert decode_one(raw, version) == on_wire(packet, version)
    assert encode(on_wire(packet, version), version) == raw


def test_every_packet_type_is_sampled() -> None:
    assert {type(p) for p in SAMPLES} == set(P.PACKET_TYPES)


def test_version_changes_layout_where_the_spec_says() -> None:
    send = SAMPLES[4]
    lengths = {v: len(encode(send, v)) for v in VERSIONS}
    # v3 adds expire (4); v2-4 carry stream_no "sn" (4) because setting has the stream bit
    assert lengths[3] - lengths[2] == 4
    assert lengths[4] == lengths[3]
    assert lengths[4] - lengths[5] == 4


# -- strategies ---------------------------------------------------------------------------------------


@st.composite
def connacks(draw: st.DrawFn) -> P.Connack:
    server_version = draw(st.none() | st.integers(0, 0xFF))
    flags = draw(FLAGS) & ~0x01
    return P.Connack(draw(I64), draw(U8), draw(TEXT), draw(TEXT), server_version, draw(U64), flags)


PACKETS: st.SearchStrategy[P.Packet] = st.one_of(
    st.builds(P.Connect, U8, U8, TEXT, TEXT, TEXT, I64, TEXT, FLAGS),
    connacks(),
    st.builds(P.Send, U8, U32, TEXT, TEXT, U8, TEXT, BLOB, TEXT, U32, TEXT, FLAGS),
    st.builds(P.Sendack, I64, U32, U32, U8, FLAGS),
    st.builds(P.Recv, U8, TEXT, TEXT, TEXT, U8, TEXT, I64, U32, I32, BLOB, U32, U8, TEXT, U64, TEXT, FLAGS),
    st.builds(P.Recvack, I64, U32, FLAGS),
    st.builds(P.Ping, FLAGS),
    st.builds(P.Pong, FLAGS),
    st.builds(P.Disconnect, U8, TEXT, FLAGS),
    st.builds(P.Sub, U8, TEXT, TEXT, U8, U8, TEXT, FLAGS),
    st.builds(P.Suback, TEXT, TEXT, U8, U8, U8, FLAGS),
    st.builds(P.Event, TEXT, TEXT, I64, BLOB, FLAGS),
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _feed_all(dec: Decoder, chunks: list[bytes]) -> tuple[list[P.Packet | P.UnknownPacket], bool]:
    """Feed chunks until the end or the first ProtocolError (the only exception allowed through)."""
    out: list[P.Packet | P.UnknownPacket] = []
    for chunk in chunks:
        try:
            out += dec.feed(chunk)
        except P.ProtocolError:
            return out, True
        assert dec.buffered <= dec.max_remaining + 5
    return out, False


# -- (a) random packets round-trip through a randomly chunked stream -------------------------------------


@FAST
@given(
    version=st.sampled_from(VERSIONS),
    packets=st.lists(PACKETS, min_size=1, max_size=8),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_random_packets_round_trip_in_random_chunks(
    version: int, packets: list[P.Packet], cuts: list[int]
) -> None:
    expected: list[P.Packet] = []
    wire = bytearray()
    current = version
    for packet in packets:
        wire += encode(packet, current)
        expected.append(on_wire(packet, current))
        # a CONNACK with server_version switches the stream to that version (both ends)
        if isinstance(packet, P.Connack) and packet.server_version is not None and packet.server_version <= 5:
            current = packet.server_version
    dec = Decoder(version)
    got, failed = _feed_all(dec, _split(bytes(wire), cuts))
    assert not failed
    assert got == expected
    assert dec.buffered == 0


# -- (b) arbitrary bytes ---------------------------------------------------------------------------------


@FAST
@given(
    version=st.integers(0, 5),
    data=st.binary(max_size=600),
    cuts=st.lists(st.integers(0, 10_000), max_size=10),
)
def test_arbitrary_bytes_give_packets_or_protocol_error(version: int, data: bytes, cuts: list[int]) -> None:
    whole, whole_failed = _feed_all(Decoder(version), [data])
    chunked, chunked_failed = _feed_all(Decoder(version), _split(data, cuts))
    for packet in chunked:
        assert isinstance(packet, (*P.PACKET_TYPES, P.UnknownPacket))
    # framing does not depend on how the bytes were cut
    assert chunked_failed == whole_failed
    if not whole_failed:
        assert chunked == whole


# -- (c) mutated vectors ------------------------------------------------------------------------------------

_VECTOR_BYTES = [
    (e.get("version", VECTORS["protocol_version"]), bytes.fromhex(e["hex"]))
    for section in ("session_flow", "packets", "other_versions")
    for e in VECTORS[section]
    if "hex" in e
]


@st.composite
def mutated_streams(draw: st.DrawFn) -> tuple[int, bytes]:
    picks = draw(st.lists(st.sampled_from(_VECTOR_BYTES), min_size=1, max_size=4))
    data = bytearray(b"".join(raw for _, raw in picks))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("flip", "truncate", "insert", "delete", "byte")))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif data:
            data[pos] = draw(U8)
    return picks[0][0], bytes(data)


@FAST
@given(stream=mutated_streams(), cuts=st.lists(st.integers(0, 10_000), max_size=10))
def test_mutated_vectors_give_packets_or_protocol_error(stream: tuple[int, bytes], cuts: list[int]) -> None:
    version, data = stream
    whole, whole_failed = _feed_all(Decoder(version), [data])
    chunked, chunked_failed = _feed_all(Decoder(version), _split(data, cuts))
    assert chunked_failed == whole_failed
    if not whole_failed:
        assert chunked == whole


# -- (d) oversized lengths are refused before the body arrives ---------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


@FAST
@given(
    ptype=st.integers(0, 15).filter(lambda t: t not in (7, 8)),
    length=st.integers(P.MAX_REMAINING_LENGTH + 1, 2**28 - 1),
    split=st.booleans(),
)
def test_length_over_limit_rejected_before_body(ptype: int, length: int, split: bool) -> None:
    header = bytes((ptype << 4,)) + _varint(length)
    dec = Decoder()
    with pytest.raises(P.ProtocolError, match="remaining length"):
        if split:  # even one length byte at a time
            for i in range(len(header)):
                dec.feed(header[i : i + 1])
        else:
            dec.feed(header)
    assert dec.buffered == 0


@FAST
@given(limit=st.integers(0, 5000), length=st.integers(0, 10_000), ptype=st.sampled_from((0, 13, 14, 15)))
def test_custom_limit(limit: int, length: int, ptype: int) -> None:
    """Unknown types are skipped by length, so the limit alone decides: refuse, wait or deliver."""
    dec = Decoder(max_remaining=limit)
    header = bytes((ptype << 4,)) + _varint(length)
    if length > limit:
        with pytest.raises(P.ProtocolError, match="remaining length"):
            dec.feed(header)
    elif length == 0:
        assert dec.feed(header) == [P.UnknownPacket(ptype, 0, b"")]
    else:
        assert dec.feed(header) == []
        assert dec.buffered == len(header)
        assert dec.feed(bytes(length)) == [P.UnknownPacket(ptype, 0, bytes(length))]
