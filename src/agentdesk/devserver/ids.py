"""Identifiers: message ids, person-channel fake ids, uid rules (PROTOCOL.md §a.6, §d)."""

from __future__ import annotations

import time
import uuid
import zlib

#: 2020-01-01T00:00:00Z in ms: keeps snowflake ids positive int64 for ~70 years
_EPOCH_MS = 1_577_836_800_000
_FORBIDDEN = frozenset("@#&")


def fake_channel_id(uid_a: str, uid_b: str) -> str:
    """The storage id of the person channel between two uids: `A@B`, larger CRC32-IEEE first."""
    if zlib.crc32(uid_a.encode()) > zlib.crc32(uid_b.encode()):
        return f"{uid_a}@{uid_b}"
    return f"{uid_b}@{uid_a}"


def pair_of(fake_id: str) -> tuple[str, str]:
    a, _, b = fake_id.partition("@")
    return a, b


def peer_in(fake_id: str, uid: str) -> str:
    """The uid of the pair that is not `uid` (the pair itself when both are `uid`)."""
    a, b = pair_of(fake_id)
    return b if a == uid else a


def valid_id(value: str) -> bool:
    """uids and channel ids must be non-empty and free of `@`, `#`, `&`."""
    return bool(value) and not (_FORBIDDEN & set(value))


def new_client_msg_no() -> str:
    """What WuKongIM generates for a REST send without client_msg_no: a uuid + "0"."""
    return uuid.uuid4().hex + "0"


class MessageIds:
    """Snowflake-like positive int64 ids (ms since 2020 << 22 | counter), strictly increasing.

    `floor` is the largest id ever handed out (persisted), so ids never repeat across restarts even if
    the clock goes backwards.
    """

    __slots__ = ("last",)

    def __init__(self, floor: int = 0) -> None:
        self.last = floor

    def next(self) -> int:
        candidate = (int(time.time() * 1000) - _EPOCH_MS) << 22
        value = candidate if candidate > self.last else self.last + 1
        self.last = value
        return value
