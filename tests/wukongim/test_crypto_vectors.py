"""The crypto section of vectors.json and every msg_key / encrypted payload in the packet vectors."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from agentdesk.wukongim import packets as P
from agentdesk.wukongim.codec import decode_one, encode
from agentdesk.wukongim.crypto import Session, derive_session, generate_keypair

VECTORS: dict[str, Any] = json.loads((Path(__file__).parents[1] / "data" / "vectors.json").read_text("utf-8"))
CRYPTO: dict[str, Any] = VECTORS["crypto"]
EXAMPLES: list[dict[str, Any]] = CRYPTO["examples"]


def _session() -> Session:
    """The session of the vectors' connection, derived the way the client does it."""
    client = generate_keypair(CRYPTO["client_key_seed_ascii"].encode("ascii"))
    return derive_session(client.private, CRYPTO["server_public_key_b64"], CRYPTO["salt"])


def test_client_keypair_from_sdk_seed() -> None:
    seed = bytes.fromhex(CRYPTO["client_key_seed_hex"])
    assert seed == CRYPTO["client_key_seed_ascii"].encode("ascii")
    pair = generate_keypair(seed)
    assert pair.public_b64 == CRYPTO["client_public_key_b64"]
    # the clamped form of the private key is the same X25519 key
    assert (
        generate_keypair(bytes.fromhex(CRYPTO["client_private_key_clamped_hex"])).public_b64
        == pair.public_b64
    )


def test_server_keypair() -> None:
    pair = generate_keypair(bytes.fromhex(CRYPTO["server_private_key_hex"]))
    assert pair.public_b64 == CRYPTO["server_public_key_b64"]


def test_key_and_iv_both_sides() -> None:
    client = _session()
    server = derive_session(
        bytes.fromhex(CRYPTO["server_private_key_hex"]), CRYPTO["client_public_key_b64"], CRYPTO["salt"]
    )
    for session in (client, server):
        assert session.aes_key == CRYPTO["aes_key"].encode() == bytes.fromhex(CRYPTO["aes_key_hex"])
        assert session.aes_iv == CRYPTO["aes_iv"].encode() == bytes.fromhex(CRYPTO["aes_iv_hex"])
    assert CRYPTO["aes_key"] == CRYPTO["md5_hex_of_shared_secret_b64"][:16]
    assert (
        hashlib.md5(CRYPTO["shared_secret_b64"].encode()).hexdigest()
        == CRYPTO["md5_hex_of_shared_secret_b64"]
    )


def test_sdk_uses_first_16_chars_of_a_longer_salt() -> None:
    client = generate_keypair(CRYPTO["client_key_seed_ascii"].encode("ascii"))
    longer = derive_session(client.private, CRYPTO["server_public_key_b64"], CRYPTO["salt"] + "EXTRA")
    assert longer.aes_iv == CRYPTO["aes_iv"].encode()


@pytest.mark.parametrize(
    "example", [pytest.param(e, id=e["what"]) for e in EXAMPLES if "ciphertext_b64" in e]
)
def test_payload_encryption_examples(example: dict[str, Any]) -> None:
    session = _session()
    plain = example["plaintext_utf8"].encode("utf-8")
    if "plaintext_hex" in example:
        assert plain.hex() == example["plaintext_hex"]
    wire = session.encrypt_payload(plain)
    assert wire.decode("ascii") == example["ciphertext_b64"]
    if "ciphertext_hex" in example:
        assert session.aes_key == example["aes_key"].encode() and session.aes_iv == example["aes_iv"].encode()
        assert base64.b64decode(wire).hex() == example["ciphertext_hex"]
    assert session.decrypt_payload(wire) == plain


def _flow(step: int) -> dict[str, Any]:
    return next(e for e in VECTORS["session_flow"] if e["step"] == step)


@pytest.mark.parametrize(
    ("example", "step"),
    [
        pytest.param(
            next(e for e in EXAMPLES if e["what"] == "msg_key of SEND flow step 3"), 3, id="send-step3"
        ),
        pytest.param(
            next(e for e in EXAMPLES if e["what"] == "msg_key of RECV flow step 6"), 6, id="recv-step6"
        ),
    ],
)
def test_msg_key_examples(example: dict[str, Any], step: int) -> None:
    session = _session()
    # the intermediate value: AES of the verify string, as base64 text
    assert (
        session.encrypt_payload(example["verify_string"].encode()).decode()
        == example["aes_b64_of_verify_string"]
    )
    f = _flow(step)["fields"]
    payload = f["payload_utf8"].encode()
    if step == 3:
        key = session.send_msg_key(
            f["client_seq"], f["client_msg_no"], f["channel_id"], f["channel_type"], payload
        )
    else:
        key = session.recv_msg_key(
            int(f["message_id"]),
            f["message_seq"],
            f["client_msg_no"],
            f["timestamp"],
            f["from_uid"],
            f["channel_id"],
            f["channel_type"],
            payload,
        )
    assert key == example["msg_key"] == f["msg_key"]


def _encrypted_packet_vectors() -> list[Any]:
    params = []
    for section in ("session_flow", "packets", "other_versions"):
        for e in VECTORS[section]:
            if e["type"] in ("SEND", "RECV") and "fields" in e:
                name = e.get("name", f"step {e.get('step')}")
                params.append(pytest.param(e, id=f"{section}-{name}"))
    return params


@pytest.mark.parametrize("entry", _encrypted_packet_vectors())
def test_packet_vector_msg_key_and_payload(entry: dict[str, Any]) -> None:
    """Every SEND/RECV vector: msg_key recomputed from the decoded packet, payload decrypts."""
    session = _session()
    packet = decode_one(bytes.fromhex(entry["hex"]), entry.get("version", VECTORS["protocol_version"]))
    if isinstance(packet, P.Send):
        key = session.send_msg_key(
            packet.client_seq, packet.client_msg_no, packet.channel_id, packet.channel_type, packet.payload
        )
    else:
        assert isinstance(packet, P.Recv)
        key = session.recv_msg_key(
            packet.message_id,
            packet.message_seq,
            packet.client_msg_no,
            packet.timestamp,
            packet.from_uid,
            packet.channel_id,
            packet.channel_type,
            packet.payload,
        )
    if "msg_key_override" in entry["fields"]:
        # the negative vector: the SDK logged the key it expected instead
        (logged,) = re.findall(r"实际msgKey:([0-9a-f]{32})", entry["sdk_result"]["sdk_log"][0])
        assert key == logged != packet.msg_key
    else:
        assert key == packet.msg_key
    plain = session.decrypt_payload(packet.payload)
    for name in ("decrypted_payload_utf8", "plaintext_payload_utf8"):
        if name in entry:
            assert plain == entry[name].encode("utf-8")
    if "sdk_result" in entry and "decrypted" in entry["sdk_result"]:
        assert plain == entry["sdk_result"]["decrypted"].encode("utf-8")
    if "verify_string" in entry:
        mac_input = session.encrypt_payload(entry["verify_string"].encode())
        if "aes_ciphertext_b64_of_verify_string" in entry:
            assert mac_input.decode() == entry["aes_ciphertext_b64_of_verify_string"]
        assert hashlib.md5(mac_input).hexdigest() == key


def test_fixed_key_send_recv_pair() -> None:
    """The no-DH example: encrypt, msg_key, and whole packets, in both directions."""
    ex = next(e for e in EXAMPLES if e["what"].startswith("fixed-key"))
    session = Session(ex["aes_key"].encode(), ex["aes_iv"].encode())
    wire = session.encrypt_payload(ex["plaintext_payload_utf8"].encode())
    assert wire.decode() == ex["payload_b64"]

    sf = ex["send"]["fields"]
    key = session.send_msg_key(
        sf["client_seq"], sf["client_msg_no"], sf["channel_id"], sf["channel_type"], wire
    )
    assert key == ex["send"]["msg_key"]
    send = P.Send(0, sf["client_seq"], sf["client_msg_no"], sf["channel_id"], sf["channel_type"], key, wire)
    assert encode(send, 2).hex() == ex["send"]["packet_hex_v2"]

    rf = ex["recv"]["fields"]
    recv = decode_one(bytes.fromhex(ex["recv"]["packet_hex_v2"]), 2)
    assert isinstance(recv, P.Recv)
    assert (recv.message_id, recv.message_seq, recv.client_msg_no, recv.timestamp) == (
        int(rf["message_id"]),
        rf["message_seq"],
        rf["client_msg_no"],
        rf["timestamp"],
    )
    assert (recv.from_uid, recv.channel_id, recv.channel_type) == (
        rf["from_uid"],
        rf["channel_id"],
        rf["channel_type"],
    )
    expected_key = session.recv_msg_key(
        recv.message_id,
        recv.message_seq,
        recv.client_msg_no,
        recv.timestamp,
        recv.from_uid,
        recv.channel_id,
        recv.channel_type,
        recv.payload,
    )
    assert recv.msg_key == expected_key == ex["recv"]["msg_key"]
    assert session.decrypt_payload(recv.payload) == ex["recv"]["sdk_decrypted"].encode()
