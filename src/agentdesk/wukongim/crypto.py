"""WuKongIM connection crypto (PROTOCOL.md §b): X25519 handshake, AES-128-CBC payloads, msg_key.

The scheme is weak by design (static IV per connection, a 64-bit key written as 16 hex characters,
MD5-based msg_key) but it is what the server and the official SDKs speak, so it is copied exactly.

Speed (measured with benchmarks/bench_codec.py on the 2-core dev box): building a `Cipher` per
message costs about as much as the AES work itself, and even opening a context from a cached `Cipher`
costs ~40% of a 200-byte encryption, so a session keeps its contexts for its whole life:

* Encryption (payloads and both msg_key MACs) goes through one CBC encryptor that is never finalized.
  After a message it holds the last ciphertext block C_prev as its chain value, so the next message
  is started as if from the fixed IV by XOR-ing (IV xor C_prev) into its first plaintext block:
  E(P_1 xor IV xor C_prev xor C_prev) = E(P_1 xor IV). PKCS#7 padding is applied here, so every
  `update` is block-aligned and returns all its ciphertext at once. ~45% faster at 200 bytes.
* Decryption of the usual small chat payloads uses one AES-ECB decryptor (ECB carries no state between
  `update` calls) and forms CBC as ECB-decrypt(C_i) XOR C_{i-1}, with one big-int XOR for the chain.
  That is ~28% faster at 200 bytes but slower from ~4 KB on (the XOR grows), so larger ciphertexts
  take a CBC decryptor opened from the cached `Cipher`.

Because of the shared contexts a Session is not thread-safe: use it from the connection's task only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import string
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

__all__ = [
    "CryptoError",
    "KeyPair",
    "Session",
    "derive_session",
    "generate_keypair",
    "new_client_msg_no",
    "new_device_id",
    "server_handshake",
]

_SALT_ALPHABET = string.digits + string.ascii_letters
_BLOCK = 16
#: below this ciphertext size the ECB+XOR decryption path is faster than a fresh CBC context
_ECB_PATH_MAX = 2048


class CryptoError(Exception):
    """A key, salt or payload that cannot be used (bad base64, bad padding, wrong length…)."""


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An X25519 key pair: `private` is the 32 raw private bytes, `public_b64` goes into CONNECT/CONNACK."""

    private: bytes = field(repr=False)
    public_b64: str


def generate_keypair(seed: bytes | None = None) -> KeyPair:
    """New X25519 key pair; `seed` (32 raw private bytes) makes it reproducible for tests."""
    raw = os.urandom(32) if seed is None else seed
    if len(raw) != 32:
        raise ValueError(f"an X25519 private key is 32 bytes, got {len(raw)}")
    public = X25519PrivateKey.from_private_bytes(raw).public_key().public_bytes_raw()
    return KeyPair(raw, base64.b64encode(public).decode("ascii"))


def _decode_public_key(key_b64: str, who: str) -> bytes:
    """Standard padded base64; like the server, use the first 32 bytes of what it decodes to."""
    try:
        raw = base64.b64decode(key_b64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise CryptoError(f"{who} public key is not valid base64: {key_b64[:60]!r}") from None
    if len(raw) < 32:
        raise CryptoError(f"{who} public key is {len(raw)} bytes, need 32")
    return raw[:32]


def _aes_key_from_shared(shared: bytes) -> bytes:
    """aes_key = ASCII of the first 16 lowercase hex digits of MD5(base64(shared)) (b.2)."""
    return hashlib.md5(base64.b64encode(shared)).hexdigest()[:16].encode("ascii")


class Session:
    """Per-connection payload crypto: AES-128-CBC with a fixed key and IV, plus the msg_key MACs.

    `Session.plaintext()` is the mode for servers running with encryption disabled (empty server_key
    in CONNACK): payloads pass through unchanged and msg keys are "".
    """

    __slots__ = ("_cipher", "_ecb_dec", "_enc", "_enc_mask", "_iv_int", "aes_iv", "aes_key", "encrypted")

    def __init__(self, aes_key: bytes, aes_iv: bytes) -> None:
        if len(aes_key) != 16 or len(aes_iv) != 16:
            raise CryptoError(
                f"AES-128-CBC needs a 16-byte key and IV, got {len(aes_key)} and {len(aes_iv)} bytes"
            )
        self.aes_key = aes_key
        self.aes_iv = aes_iv
        self.encrypted = True
        self._cipher: Cipher[modes.CBC] | None = Cipher(algorithms.AES(aes_key), modes.CBC(aes_iv))
        self._ecb_dec: CipherContext | None = Cipher(algorithms.AES(aes_key), modes.ECB()).decryptor()
        self._iv_int = int.from_bytes(aes_iv, "big")
        self._enc: CipherContext | None = None
        #: IV xor the chain block `_enc` holds: XOR-ed into the first block of the next message
        self._enc_mask = 0
        self._reset_encryptor()

    @classmethod
    def plaintext(cls) -> Session:
        """A session for an encryption-disabled server: identity payloads, empty msg keys."""
        self = cls.__new__(cls)
        self.aes_key = b""
        self.aes_iv = b""
        self.encrypted = False
        self._cipher = None
        self._ecb_dec = None
        self._enc = None
        self._enc_mask = 0
        self._iv_int = 0
        return self

    def __repr__(self) -> str:
        return f"Session(encrypted={self.encrypted})"

    # -- AES ------------------------------------------------------------------------------------

    def _reset_encryptor(self) -> None:
        assert self._cipher is not None
        self._enc = self._cipher.encryptor()
        self._enc_mask = 0

    def _encrypt_b64(self, plain: bytes) -> bytes:
        """base64(AES-CBC-PKCS7(plain)) with the fixed IV, through the long-lived encryptor."""
        enc = self._enc
        assert enc is not None
        pad = _BLOCK - len(plain) % _BLOCK
        data = plain + bytes((pad,)) * pad
        mask = self._enc_mask
        if mask:  # restart the chain at the IV (see the module docstring)
            data = (int.from_bytes(data[:_BLOCK], "big") ^ mask).to_bytes(_BLOCK, "big") + data[_BLOCK:]
        try:
            ct = enc.update(data)
        except BaseException:
            self._reset_encryptor()  # the chain value is unknown now: start over from the IV
            raise
        if len(ct) != len(data):  # cannot happen for block-aligned input; never emit a short ciphertext
            self._reset_encryptor()
            raise CryptoError(f"AES-CBC returned {len(ct)} bytes for {len(data)}")
        self._enc_mask = self._iv_int ^ int.from_bytes(ct[-_BLOCK:], "big")
        return base64.b64encode(ct)

    def encrypt_payload(self, plain: bytes) -> bytes:
        """Wire payload of a SEND/RECV: ASCII of base64(AES-CBC-PKCS7(plain)) (b.4)."""
        if self._enc is None:
            return bytes(plain)
        return self._encrypt_b64(plain)

    def decrypt_payload(self, wire: bytes) -> bytes:
        """Inverse of `encrypt_payload`; CryptoError if the payload is not something we encrypted."""
        dec = self._ecb_dec
        if dec is None:
            return bytes(wire)
        try:
            ct = base64.b64decode(wire, validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("payload is not valid base64") from None
        n = len(ct)
        if n == 0 or n % _BLOCK:
            raise CryptoError(f"ciphertext length {n} is not a positive multiple of 16")
        if n <= _ECB_PATH_MAX:
            # CBC decryption with a stateless ECB context: P_i = D(C_i) xor C_{i-1}, C_{-1} = IV
            raw = dec.update(ct)
            chain = self.aes_iv + ct[:-_BLOCK]
            plain = (int.from_bytes(raw, "big") ^ int.from_bytes(chain, "big")).to_bytes(n, "big")
        else:
            assert self._cipher is not None
            ctx = self._cipher.decryptor()
            plain = ctx.update(ct) + ctx.finalize()
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or plain[-pad:] != bytes((pad,)) * pad:
            raise CryptoError("bad PKCS#7 padding (wrong key/IV or corrupted payload)")
        return plain[:-pad]

    # -- msg_key --------------------------------------------------------------------------------

    def _mac(self, verify: bytes) -> str:
        # the server concatenates Go strings, i.e. raw bytes: the payload is appended as is
        return hashlib.md5(self._encrypt_b64(verify)).hexdigest()

    def send_msg_key(
        self, client_seq: int, client_msg_no: str, channel_id: str, channel_type: int, wire_payload: bytes
    ) -> str:
        """msg_key of a SEND (b.5); `wire_payload` is the payload exactly as placed in the packet."""
        if self._cipher is None:
            return ""
        verify = f"{client_seq}{client_msg_no}{channel_id}{channel_type}".encode()
        return self._mac(verify + wire_payload)

    def recv_msg_key(
        self,
        message_id: int,
        message_seq: int,
        client_msg_no: str,
        timestamp: int,
        from_uid: str,
        channel_id: str,
        channel_type: int,
        wire_payload: bytes,
    ) -> str:
        """msg_key of a RECV (b.6), to be compared with the received one."""
        if self._cipher is None:
            return ""
        verify = f"{message_id}{message_seq}{client_msg_no}{timestamp}{from_uid}{channel_id}{channel_type}"
        return self._mac(verify.encode() + wire_payload)


def derive_session(private_key: bytes, peer_public_b64: str, salt: str) -> Session:
    """Session keys from our private key, the peer's base64 public key and the CONNACK salt (b.1/b.2).

    The IV is the salt's first 16 characters, as the SDK does; a shorter salt cannot be an IV.
    """
    peer = _decode_public_key(peer_public_b64, "peer")
    iv_text = salt[:16]
    if len(iv_text) != 16 or not iv_text.isascii():
        raise CryptoError(f"salt must have at least 16 ASCII characters, got {salt!r}")
    try:
        shared = X25519PrivateKey.from_private_bytes(private_key).exchange(
            X25519PublicKey.from_public_bytes(peer)
        )
    except ValueError as exc:
        raise CryptoError(f"X25519 key exchange failed: {exc}") from None
    return Session(_aes_key_from_shared(shared), iv_text.encode("ascii"))


def server_handshake(client_key_b64: str) -> tuple[Session, str, str]:
    """Server side of b.1: new key pair and salt for a CONNECT; returns (session, server_key, salt)."""
    _decode_public_key(client_key_b64, "client")
    pair = generate_keypair()
    salt = "".join(secrets.choice(_SALT_ALPHABET) for _ in range(16))
    return derive_session(pair.private, client_key_b64, salt), pair.public_b64, salt


def new_client_msg_no() -> str:
    """A fresh client_msg_no (receivers de-duplicate by it, so it must be unique): 32 hex chars."""
    return secrets.token_hex(16)


def new_device_id() -> str:
    """A fresh device_id for one installation: 32 hex chars."""
    return secrets.token_hex(16)
