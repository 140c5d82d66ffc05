"""Every packet vector in tests/data/vectors.json, through `encode` and `decode_one`.

c2s vectors are SDK output: `encode` must reproduce them byte for byte from the fields. s2c vectors
must decode to their fields; they were spec-built, so `encode` must reproduce them too (that is what
the devserver will send). `sdk_quirks` is documented SDK misbehaviour, not a target, and is skipped —
except that the correct ("intended") int64 bytes listed there are what we must write.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from agentdesk.wukongim import packets as P
from agentdesk.wukongim.codec import Decoder, decode_one, encode
from agentdesk.wukongim.crypto import Session

VECTORS: dict[str, Any] = json.loads((Path(__file__).parents[1] / "data" / "vectors.json").read_text("utf-8"))
DEFAULT_VERSION: int = VECTORS["protocol_version"]

_CLASSES: dict[str, type] = {t.name: cls for cls, t in P.PACKET_TYPES.items()}
_FLAG_BITS = {"dup": 0x08, "sync_once": 0x04, "red_dot": 0x02, "no_persist": 0x01}
_INT64_FIELDS = {"message_id", "client_timestamp", "stream_id", "time_diff", "node_id", "timestamp"}


def packet_from_vector(entry: dict[str, Any], fields: dict[str, Any] | None = None) -> P.Packet:
    """Build the packet a vector describes (fields + header flags).

    A few spec-built vectors carry no `header` object; their flags are then the low nibble of the
    first byte (the vector's own statement of the header).
    """
    fields = dict(entry["fields"] if fields is None else fields)
    if "header" in entry:
        flags = sum(bit for name, bit in _FLAG_BITS.items() if entry["header"].get(name))
    else:
        flags = int(entry.get("hex", entry.get("hex_prefix", "00"))[:2], 16) & 0x0F
    if fields.pop("has_server_version", False):
        flags |= 0x01
    fields.pop("msg_key_override", None)
    kwargs: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "payload_utf8":
            kwargs["payload"] = value.encode("utf-8")
        elif key == "data_utf8":
            kwargs["data"] = value.encode("utf-8")
        elif key in _INT64_FIELDS:
            kwargs[key] = int(value)
        else:
            kwargs[key] = value
    packet: P.Packet = _CLASSES[entry["type"]](**kwargs, flags=flags)
    return packet


def _hex_vectors() -> list[Any]:
    params = []
    for entry in VECTORS["session_flow"]:
        params.append(pytest.param(entry, id=f"session_flow-{entry['step']:02d}-{entry['type']}"))
    for section in ("packets", "other_versions"):
        for entry in VECTORS[section]:
            if "hex" in entry:
                params.append(pytest.param(entry, id=f"{section}-{entry['name']}"))
    return params


HEX_VECTORS = _hex_vectors()


def test_every_vector_is_covered() -> None:
    """Guards the parametrisation: a vector added to the file must not be silently ignored."""
    total = len(VECTORS["session_flow"]) + len(VECTORS["packets"]) + len(VECTORS["other_versions"])
    big = [e for e in VECTORS["packets"] if "hex_prefix" in e]
    assert len(big) == 1
    assert len(HEX_VECTORS) + len(big) == total == 36


@pytest.mark.parametrize("entry", HEX_VECTORS)
def test_vector_decodes_to_fields(entry: dict[str, Any]) -> None:
    version = entry.get("version", DEFAULT_VERSION)
    assert decode_one(bytes.fromhex(entry["hex"]), version) == packet_from_vector(entry)


@pytest.mark.parametrize("entry", HEX_VECTORS)
def test_vector_encodes_byte_exactly(entry: dict[str, Any]) -> None:
    version = entry.get("version", DEFAULT_VERSION)
    assert encode(packet_from_vector(entry), version).hex() == entry["hex"]
    if "remaining_length" in entry:
        length = entry["remaining_length"]
        length_bytes = 1 if length < 0x80 else 2 if length < 0x4000 else 3
        assert len(entry["hex"]) // 2 == 1 + length_bytes + length


@pytest.mark.parametrize("entry", HEX_VECTORS)
def test_vector_byte_by_byte(entry: dict[str, Any]) -> None:
    """The same bytes fed one at a time produce the packet exactly once, at the last byte."""
    version = entry.get("version", DEFAULT_VERSION)
    raw = bytes.fromhex(entry["hex"])
    dec = Decoder(version)
    got = [dec.feed(raw[i : i + 1]) for i in range(len(raw))]
    assert got[:-1] == [[]] * (len(raw) - 1)
    assert got[-1] == [packet_from_vector(entry)]
    assert dec.buffered == 0


def test_session_flow_as_one_stream() -> None:
    """All server→client packets of the flow concatenated decode in order from one buffer."""
    s2c = [e for e in VECTORS["session_flow"] if e["dir"] == "s2c"]
    stream = b"".join(bytes.fromhex(e["hex"]) for e in s2c)
    assert Decoder(DEFAULT_VERSION).feed(stream) == [packet_from_vector(e) for e in s2c]


def _big_recv() -> dict[str, Any]:
    entries: list[dict[str, Any]] = [e for e in VECTORS["packets"] if "hex_prefix" in e]
    (entry,) = entries
    return entry


def _big_recv_packet() -> tuple[dict[str, Any], P.Recv]:
    entry = _big_recv()
    crypto = VECTORS["crypto"]
    session = Session(crypto["aes_key"].encode(), crypto["aes_iv"].encode())
    plaintext = '{"content":"' + "x" * entry["sdk_result"]["message_text_length"] + '","type":1}'
    payload = session.encrypt_payload(plaintext.encode())
    assert hashlib.sha256(payload).hexdigest() == entry["payload_b64_sha256_hex"]
    packet = packet_from_vector(entry, entry["fields_except_payload"] | {"payload_utf8": payload.decode()})
    assert isinstance(packet, P.Recv)
    return entry, packet


def test_big_recv_three_byte_length_encodes() -> None:
    entry, packet = _big_recv_packet()
    raw = encode(packet, DEFAULT_VERSION)
    assert raw.hex().startswith(entry["hex_prefix"])
    assert raw[1:4].hex() == entry["remaining_length_bytes_hex"]
    assert len(raw) == entry["total_length"] == 4 + entry["remaining_length"]
    assert hashlib.sha256(raw).hexdigest() == entry["sha256_of_packet_hex"]


def test_big_recv_three_byte_length_decodes_in_chunks() -> None:
    entry, packet = _big_recv_packet()
    raw = encode(packet, DEFAULT_VERSION)
    dec = Decoder(DEFAULT_VERSION)
    got: list[P.Packet | P.UnknownPacket] = []
    for i in range(0, len(raw), 1000):
        got += dec.feed(raw[i : i + 1000])
    assert got == [packet]
    ack = P.Recvack(packet.message_id, packet.message_seq, flags=packet.flags)
    assert encode(ack, DEFAULT_VERSION).hex() == entry["sdk_result"]["recvack_hex"]


def test_connack_with_server_version_switches_decoder_version() -> None:
    """CONNACK v4 followed in the same chunk by a v4 stream RECV: the RECV is read with v4 rules."""
    connack = next(e for e in VECTORS["other_versions"] if e["name"] == "CONNACK v4")
    recv = next(e for e in VECTORS["other_versions"] if e["name"] == "RECV v4 with stream bit")
    dec = Decoder(5)
    got = dec.feed(bytes.fromhex(connack["hex"] + recv["hex"]))
    assert got == [packet_from_vector(connack), packet_from_vector(recv)]
    assert dec.version == 4


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c["intended_message_id"]) for c in VECTORS["sdk_quirks"][0]["cases"]],
)
def test_int64_written_exactly_not_like_sdk(case: dict[str, Any]) -> None:
    """The SDK's int64 rounding bug is not copied: we write the intended bytes."""
    raw = bytes.fromhex(case["intended_hex"])
    packet = decode_one(raw, DEFAULT_VERSION)
    assert packet == P.Recvack(int(case["intended_message_id"]), packet.message_seq, flags=packet.flags)  # type: ignore[union-attr]
    assert encode(packet, DEFAULT_VERSION) == raw
