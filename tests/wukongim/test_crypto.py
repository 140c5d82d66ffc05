"""Crypto behaviour beyond the vectors: both ends of a handshake, error paths, plaintext mode.

The session decrypts with a cached ECB context plus an XOR chain (see crypto.py); the properties
below compare it with a straightforward CBC + PKCS#7 implementation from `cryptography`.
"""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from agentdesk.wukongim.crypto import (
    CryptoError,
    Session,
    derive_session,
    generate_keypair,
    new_client_msg_no,
    new_device_id,
    server_handshake,
)

KEY = b"0123456789abcdef"
IV = b"fedcba9876543210"
#: one session for all examples, so the cached cipher contexts are reused across calls
SESSION = Session(KEY, IV)


def _reference_encrypt(plain: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(KEY), modes.CBC(IV)).encryptor()
    return enc.update(padder.update(plain) + padder.finalize()) + enc.finalize()


def _reference_decrypt(ct: bytes) -> bytes:
    dec = Cipher(algorithms.AES(KEY), modes.CBC(IV)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(dec.update(ct) + dec.finalize()) + unpadder.finalize()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_encrypt_matches_reference_and_round_trips(plain: bytes) -> None:
    wire = SESSION.encrypt_payload(plain)
    assert base64.b64decode(wire, validate=True) == _reference_encrypt(plain)
    assert SESSION.decrypt_payload(wire) == plain


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 2031, 2032, 2047, 2048, 5000, 70_000])
def test_both_decryption_paths_at_their_boundary(size: int) -> None:
    """Ciphertexts up to 2048 bytes use the ECB+XOR path, larger ones a CBC context."""
    plain = bytes(range(256)) * (size // 256) + bytes(size % 256)
    wire = SESSION.encrypt_payload(plain)
    assert base64.b64decode(wire) == _reference_encrypt(plain)
    assert SESSION.decrypt_payload(wire) == plain


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=16).map(lambda b: b * 160))
def test_decrypt_of_any_blocks_matches_reference(blocks: bytes) -> None:
    """Random ciphertext: our result equals the reference, or both refuse the padding."""
    ct = blocks[: len(blocks) - len(blocks) % 16]
    try:
        expected: bytes | None = _reference_decrypt(ct)
    except ValueError:
        expected = None
    try:
        got: bytes | None = SESSION.decrypt_payload(base64.b64encode(ct))
    except CryptoError:
        got = None
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decrypt_of_arbitrary_bytes_only_raises_crypto_error(wire: bytes) -> None:
    """Garbage is refused with CryptoError; whatever is accepted re-encrypts to the same ciphertext."""
    try:
        plain = SESSION.decrypt_payload(wire)
    except CryptoError:
        return
    assert base64.b64decode(SESSION.encrypt_payload(plain)) == base64.b64decode(wire)


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"not base64!", "not valid base64"),
        (b"", "not a positive multiple of 16"),
        (base64.b64encode(b"x" * 15), "not a positive multiple of 16"),
        (Session(b"k" * 16, IV).encrypt_payload(b"hello"), "bad PKCS#7 padding"),
    ],
)
def test_decrypt_errors(wire: bytes, message: str) -> None:
    with pytest.raises(CryptoError, match=message):
        SESSION.decrypt_payload(wire)


def test_handshake_both_ends_agree() -> None:
    client = generate_keypair()
    server, server_key, salt = server_handshake(client.public_b64)
    assert re.fullmatch(r"[0-9a-zA-Z]{16}", salt)
    assert len(base64.b64decode(server_key)) == 32
    mine = derive_session(client.private, server_key, salt)
    assert (mine.aes_key, mine.aes_iv) == (server.aes_key, server.aes_iv) == (mine.aes_key, salt.encode())
    assert re.fullmatch(rb"[0-9a-f]{16}", mine.aes_key)
    wire = mine.encrypt_payload('{"content":"héllo","type":1}'.encode())
    assert server.decrypt_payload(wire) == '{"content":"héllo","type":1}'.encode()
    assert mine.send_msg_key(1, "cmn", "ch", 1, wire) == server.send_msg_key(1, "cmn", "ch", 1, wire)
    args = (1839520219870220289, 8, "cmn", 1700000100, "u", "ch", 10, wire)
    assert mine.recv_msg_key(*args) == server.recv_msg_key(*args)
    assert re.fullmatch(r"[0-9a-f]{32}", mine.recv_msg_key(*args))


def test_each_handshake_is_fresh() -> None:
    client = generate_keypair()
    first = server_handshake(client.public_b64)
    second = server_handshake(client.public_b64)
    assert first[1] != second[1] and first[2] != second[2]
    assert generate_keypair().public_b64 != client.public_b64


def test_msg_key_covers_every_field() -> None:
    base = (1, "cmn", "ch", 1, b"payload")
    keys = {SESSION.send_msg_key(*base)}
    for i, changed in enumerate((2, "cmn2", "ch2", 2, b"payload2")):
        args = list(base)
        args[i] = changed
        keys.add(SESSION.send_msg_key(*args))  # type: ignore[arg-type]
    assert len(keys) == 6


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("%%%", "not valid base64"),
        ("ünïcode", "not valid base64"),
        (base64.b64encode(bytes(31)).decode(), "31 bytes, need 32"),
        ("", "0 bytes, need 32"),
    ],
)
def test_server_handshake_refuses_bad_client_keys(key: str, message: str) -> None:
    with pytest.raises(CryptoError, match=message):
        server_handshake(key)


def test_server_uses_first_32_bytes_of_a_longer_key() -> None:
    client = generate_keypair()
    longer = base64.b64encode(base64.b64decode(client.public_b64) + b"extra").decode()
    server, server_key, salt = server_handshake(longer)
    assert derive_session(client.private, server_key, salt).aes_key == server.aes_key


def test_derive_session_errors() -> None:
    client = generate_keypair()
    peer = generate_keypair().public_b64
    with pytest.raises(CryptoError, match="salt"):
        derive_session(client.private, peer, "short")
    with pytest.raises(CryptoError, match="base64"):
        derive_session(client.private, "***", "Vx3kQ9ZpL2mN7rT5")
    with pytest.raises(CryptoError, match="key exchange failed"):  # a low-order point
        derive_session(client.private, base64.b64encode(bytes(32)).decode(), "Vx3kQ9ZpL2mN7rT5")
    with pytest.raises(ValueError, match="32 bytes"):
        generate_keypair(b"short")


def test_session_needs_16_byte_key_and_iv() -> None:
    with pytest.raises(CryptoError, match="16-byte"):
        Session(b"k" * 8, IV)


def test_plaintext_session() -> None:
    plain = Session.plaintext()
    assert not plain.encrypted
    assert plain.encrypt_payload(b'{"type":1}') == b'{"type":1}'
    assert plain.decrypt_payload(b"anything \xff") == b"anything \xff"
    assert plain.send_msg_key(1, "c", "ch", 1, b"x") == ""
    assert plain.recv_msg_key(1, 1, "c", 1, "u", "ch", 1, b"x") == ""
    assert SESSION.encrypted


def test_ids_are_unique_hex() -> None:
    for make in (new_client_msg_no, new_device_id):
        ids = {make() for _ in range(1000)}
        assert len(ids) == 1000
        assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_keypair_repr_hides_private_key() -> None:
    pair = generate_keypair(bytes(range(32)))
    assert bytes(range(32)).hex() not in repr(pair) and "private" not in repr(pair)
