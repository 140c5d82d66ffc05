"""Typed results of the WuKongIM REST API (PROTOCOL.md §e), re-exported by `rest`."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Conversation",
    "MessageResp",
    "OnlineStatus",
    "Route",
    "SendResp",
    "SyncPage",
    "encode_payload",
    "format_last_msg_seqs",
]


def encode_payload(payload: Mapping[str, Any] | bytes) -> bytes:
    """JSON bytes of a payload object (UTF-8, compact); bytes pass through unchanged."""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def format_last_msg_seqs(seqs: Mapping[tuple[str, int], int]) -> str:
    """``{("peer", 1): 42, ("g", 2): 17}`` → ``"peer:1:42|g:2:17"`` (the /conversation/sync format)."""
    return "|".join(f"{cid}:{ctype}:{seq}" for (cid, ctype), seq in seqs.items())


@dataclass(frozen=True, slots=True)
class MessageResp:
    """One stored message as the REST API returns it (PROTOCOL.md §e "MessageResp")."""

    message_id: int
    message_seq: int
    client_msg_no: str
    from_uid: str
    channel_id: str
    channel_type: int
    timestamp: int
    payload: bytes = field(repr=False)
    setting: int = 0
    expire: int = 0
    topic: str = ""
    red_dot: bool = False
    sync_once: bool = False
    no_persist: bool = False

    @classmethod
    def from_json(cls, obj: Any, *, channel: tuple[str, int] | None = None) -> MessageResp:
        """Parse one MessageResp; ``channel`` overrides channel_id/type (person-channel quirk, §e)."""
        if not isinstance(obj, dict):
            raise ValueError(f"message is not an object: {obj!r:.80}")
        idstr = obj.get("message_idstr")
        message_id = int(idstr) if isinstance(idstr, str) and idstr else int(obj["message_id"])
        raw = obj.get("payload") or ""
        try:
            payload = base64.b64decode(raw, validate=True) if isinstance(raw, str) else b""
        except (binascii.Error, ValueError):
            payload = raw.encode("utf-8")
        header = obj.get("header") or {}
        cid, ctype = (
            channel if channel is not None else (str(obj.get("channel_id", "")), int(obj["channel_type"]))
        )
        return cls(
            message_id=message_id,
            message_seq=int(obj.get("message_seq", 0)),
            client_msg_no=str(obj.get("client_msg_no", "")),
            from_uid=str(obj.get("from_uid", "")),
            channel_id=cid,
            channel_type=ctype,
            timestamp=int(obj.get("timestamp", 0)),
            payload=payload,
            setting=int(obj.get("setting", 0)),
            expire=int(obj.get("expire", 0) or 0),
            topic=str(obj.get("topic", "") or ""),
            red_dot=bool(header.get("red_dot", 0)),
            sync_once=bool(header.get("sync_once", 0)),
            no_persist=bool(header.get("no_persist", 0)),
        )


@dataclass(frozen=True, slots=True)
class SyncPage:
    """Result of /channel/messagesync: messages ascending by seq; ``more`` = another page exists."""

    start_message_seq: int
    end_message_seq: int
    more: bool
    messages: list[MessageResp]


@dataclass(frozen=True, slots=True)
class Conversation:
    """One entry of /conversation/sync. ``recents`` are newest first."""

    channel_id: str
    channel_type: int
    unread: int
    timestamp: int
    last_msg_seq: int
    last_client_msg_no: str
    readed_to_msg_seq: int
    version: int
    recents: list[MessageResp]


@dataclass(frozen=True, slots=True)
class Route:
    tcp_addr: str
    ws_addr: str
    wss_addr: str


@dataclass(frozen=True, slots=True)
class SendResp:
    message_id: int
    client_msg_no: str


@dataclass(frozen=True, slots=True)
class OnlineStatus:
    uid: str
    device_flag: int
    online: bool
