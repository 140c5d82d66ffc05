"""The long-lived CBC encryptor of `crypto.Session` gives exactly what a fresh CBC context per message
gives, for any sequence of payloads and msg_key MACs interleaved on one session (crypto.py docstring)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from agentdesk.wukongim.crypto import Session

KEY = b"394c148eb324c3a8"
IV = b"Vx3kQ9ZpL2mN7rT5"


def reference_encrypt(plain: bytes, key: bytes = KEY, iv: bytes = IV) -> bytes:
    pad = 16 - len(plain) % 16
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(enc.update(plain + bytes((pad,)) * pad) + enc.finalize())


def reference_recv_key(
    message_id: int, seq: int, cmn: str, ts: int, frm: str, ch: str, ct: int, wire: bytes
) -> str:
    verify = f"{message_id}{seq}{cmn}{ts}{frm}{ch}{ct}".encode() + wire
    return hashlib.md5(reference_encrypt(verify)).hexdigest()


_plains = st.one_of(
    st.binary(max_size=70),
    st.sampled_from(
        [b"", b"a" * 15, b"b" * 16, b"c" * 17, b"d" * 32, b"\x10" * 16, b"e" * 3000, b"f" * 5000]
    ),
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["payload", "recv_key", "send_key", "decrypt"]), _plains), max_size=12
    )
)
def test_interleaved_operations_match_fresh_contexts(steps: list[tuple[str, bytes]]) -> None:
    session = Session(KEY, IV)
    for op, plain in steps:
        if op == "payload":
            assert session.encrypt_payload(plain) == reference_encrypt(plain)
        elif op == "recv_key":
            wire = reference_encrypt(plain)
            got = session.recv_msg_key(1839520219870220289, 8, "cmn", 1700000100, "u_b", "u_a", 1, wire)
            assert got == reference_recv_key(1839520219870220289, 8, "cmn", 1700000100, "u_b", "u_a", 1, wire)
        elif op == "send_key":
            wire = reference_encrypt(plain)
            want = hashlib.md5(reference_encrypt(b"7cmn-7group_12" + wire)).hexdigest()
            assert session.send_msg_key(7, "cmn-7", "group_1", 2, wire) == want
        else:
            assert session.decrypt_payload(reference_encrypt(plain)) == plain


def test_sessions_do_not_share_chain_state() -> None:
    a = Session(KEY, IV)
    b = Session(b"0123456789abcdef", b"fedcba9876543210")
    for i in range(5):
        plain = b"x" * (i * 7)
        assert a.encrypt_payload(plain) == reference_encrypt(plain)
        assert b.encrypt_payload(plain) == reference_encrypt(plain, b"0123456789abcdef", b"fedcba9876543210")


def test_same_message_twice_gives_the_same_bytes() -> None:
    """A static IV means deterministic ciphertexts (the SDK and server rely on it for msg_key)."""
    session = Session(KEY, IV)
    first = session.encrypt_payload(b'{"content":"hello wukong","type":1}')
    assert session.encrypt_payload(b'{"content":"hello wukong","type":1}') == first
    assert first == b"svqnJZvYacXlZy8Mkq1N9MrMUYAsqisHbWgk3mEWnSL9mOnXcjkHCmRea/qY6X66"
