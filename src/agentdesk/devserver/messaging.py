"""Who may send where, who receives, and the one path every message takes: store → RECV → webhook.

Channel rules (PROTOCOL.md §d): person (1) anyone, both parties receive; group-like (2, 4, 5, 9)
subscribers send and receive; info (6) anyone sends, subscribers receive; customer service (3) anyone
sends, subscribers + the visitor part of `visitor|x` receive; visitors (10) the visitor itself
(channel_id), subscribers and system uids send, the visitor + subscribers receive. System uids pass every
check. Other types are refused with reason 23.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentdesk.wukongim.packets import (
    MAX_REMAINING_LENGTH,
    MAX_STRING_BYTES,
    ChannelType,
    HeaderFlag,
    ReasonCode,
)

from .config import DevServerConfig
from .hub import CMD_SUFFIX, ClientConn, Hub
from .ids import fake_channel_id, peer_in
from .storage import Storage, StoredMessage

_GROUP_LIKE = frozenset(
    {ChannelType.GROUP, ChannelType.COMMUNITY, ChannelType.COMMUNITY_TOPIC, ChannelType.LIVE}
)
SUPPORTED_TYPES = frozenset(
    {
        ChannelType.PERSON,
        ChannelType.GROUP,
        ChannelType.CUSTOMER_SERVICE,
        ChannelType.COMMUNITY,
        ChannelType.COMMUNITY_TOPIC,
        ChannelType.INFO,
        ChannelType.LIVE,
        ChannelType.VISITORS,
    }
)


#: RECV body bytes besides its strings and payload, at most: setting, channel_type, expire, stream_flag,
#: stream_id, message_id, message_seq, timestamp, six u16 string lengths and a 32-char msg_key
_RECV_FIXED = 1 + 1 + 4 + 1 + 8 + 8 + 4 + 4 + 6 * 2 + 32


def recv_fits(
    from_uid: str, channel_id: str, client_msg_no: str, payload_len: int, *, encrypted: bool
) -> bool:
    """Whether every RECV of this message can be encoded: each string ≤ 32 767 bytes and the body within
    the 1 MiB limit once the payload is base64(AES-CBC) (`channel_id` as addressed; a person-channel
    recipient sees `from_uid` there instead)."""
    sizes = [len(s.encode("utf-8")) for s in (from_uid, channel_id, client_msg_no)]
    if max(sizes) > MAX_STRING_BYTES:
        return False
    wire = 4 * ((payload_len // 16 + 1) * 16 + 2) // 3 if encrypted else payload_len
    return _RECV_FIXED + sizes[0] + max(sizes[0], sizes[1]) + sizes[2] + wire <= MAX_REMAINING_LENGTH


@dataclass(slots=True)
class Outgoing:
    from_uid: str
    #: as addressed by the sender: the peer uid for person channels
    channel_id: str
    channel_type: int
    client_msg_no: str
    payload: bytes
    header: int = HeaderFlag.RED_DOT
    setting: int = 0
    expire: int = 0
    topic: str = ""


class Messaging:
    def __init__(
        self, cfg: DevServerConfig, storage: Storage, hub: Hub, on_stored: Callable[[StoredMessage], None]
    ) -> None:
        self.cfg = cfg
        self.storage = storage
        self.hub = hub
        self._on_stored = on_stored

    def is_system(self, uid: str) -> bool:
        return uid == self.cfg.system_uid or uid in self.storage.system_uids

    def is_visitor(self, uid: str) -> bool:
        return uid.endswith(self.cfg.visitor_suffix)

    # -- rules -------------------------------------------------------------------------------------

    def check_send(self, from_uid: str, channel_id: str, channel_type: int) -> ReasonCode:
        """Permission of a client SEND, in v2.2.5's order (REST sends skip this, like the system device):
        channel flags (ban 19, send_ban 25, disband 24) except for info/customer-service/visitors
        channels, then the sender: the visitor itself, system uids, subscribers (3 otherwise)."""
        if channel_type not in SUPPORTED_TYPES:
            return ReasonCode.NOT_SUPPORT_CHANNEL_TYPE
        if channel_type in (ChannelType.INFO, ChannelType.CUSTOMER_SERVICE):
            return ReasonCode.SUCCESS
        ch = self.storage.channels.get((channel_id, channel_type))
        if channel_type not in (ChannelType.VISITORS, ChannelType.PERSON) and ch is not None:
            if ch.flags.get("ban"):
                return ReasonCode.BAN
            if ch.flags.get("send_ban"):
                return ReasonCode.SEND_BAN
            if ch.flags.get("disband"):
                return ReasonCode.DISBAND
        if channel_type == ChannelType.VISITORS and from_uid == channel_id:
            return ReasonCode.SUCCESS
        if self.is_system(from_uid) or channel_type == ChannelType.PERSON:
            return ReasonCode.SUCCESS  # person channels: no black/white lists in the devserver
        if ch is not None and from_uid in ch.subscribers:
            return ReasonCode.SUCCESS
        return ReasonCode.SUBSCRIBER_NOT_EXIST

    def recipients(self, from_uid: str, channel_id: str, channel_type: int) -> list[str]:
        if channel_type == ChannelType.PERSON:
            uids = [channel_id] if channel_id == from_uid else [channel_id, from_uid]
        else:
            ch = self.storage.channels.get((channel_id, channel_type))
            uids = list(ch.subscribers) if ch is not None else []
            if channel_type == ChannelType.VISITORS and channel_id not in uids:
                uids.append(channel_id)
            elif channel_type == ChannelType.CUSTOMER_SERVICE:
                visitor = channel_id.partition("|")[0]
                if visitor and visitor not in uids:
                    uids.append(visitor)
            if from_uid not in uids:
                uids.append(from_uid)  # the sender's other devices get it too (red_dot cleared)
        system_uid = self.cfg.system_uid
        return [u for u in uids if u != system_uid]

    @staticmethod
    def storage_id(from_uid: str, channel_id: str, channel_type: int) -> str:
        if channel_type == ChannelType.PERSON:
            return fake_channel_id(from_uid, channel_id)
        return channel_id

    # -- the path of every message -----------------------------------------------------------------

    def publish(self, out: Outgoing, exclude: ClientConn | None = None) -> StoredMessage:
        """Assign id (and seq unless no_persist), store, deliver RECVs, queue the webhook."""
        storage = self.storage
        sid = self.storage_id(out.from_uid, out.channel_id, out.channel_type)
        if out.header & HeaderFlag.SYNC_ONCE:
            sid += CMD_SUFFIX
        msg = StoredMessage(
            message_id=storage.ids.next(),
            message_seq=0,
            client_msg_no=out.client_msg_no,
            from_uid=out.from_uid,
            channel_id=sid,
            channel_type=out.channel_type,
            timestamp=int(time.time()),
            setting=out.setting,
            header=out.header & 0x07,
            expire=out.expire,
            topic=out.topic,
            payload=out.payload,
        )
        persist = not out.header & HeaderFlag.NO_PERSIST
        if persist:
            storage.store_message(msg)
            # CMD (sync_once) messages live in their own channel and never form a conversation
            if not out.header & HeaderFlag.SYNC_ONCE and out.from_uid != self.cfg.system_uid:
                if out.channel_type == ChannelType.PERSON:
                    for uid in {out.from_uid, out.channel_id}:
                        if uid != self.cfg.system_uid:
                            storage.note_person_channel(uid, sid)
                # your own message is read (WuKongIM: unread counts from the user's last sent seq)
                storage.set_readed_to(out.from_uid, sid, out.channel_type, msg.message_seq)
            elif out.channel_type == ChannelType.PERSON and not out.header & HeaderFlag.SYNC_ONCE:
                storage.note_person_channel(out.channel_id, sid)
        self.hub.deliver(
            msg, self.recipients(out.from_uid, out.channel_id, out.channel_type), out.channel_id, exclude
        )
        if persist:
            self._on_stored(msg)
        return msg

    # -- JSON --------------------------------------------------------------------------------------

    def message_resp(self, msg: StoredMessage) -> dict[str, Any]:
        """MessageResp (§e): plaintext payload in base64, person channel_id = the pair's other uid."""
        system_uid = self.cfg.system_uid
        channel_id = msg.channel_id
        if channel_id.endswith(CMD_SUFFIX):
            channel_id = channel_id[: -len(CMD_SUFFIX)]
        if msg.channel_type == ChannelType.PERSON:
            channel_id = peer_in(channel_id, msg.from_uid)
        header = msg.header
        resp: dict[str, Any] = {
            "header": {
                "no_persist": 1 if header & HeaderFlag.NO_PERSIST else 0,
                "red_dot": 1 if header & HeaderFlag.RED_DOT else 0,
                "sync_once": 1 if header & HeaderFlag.SYNC_ONCE else 0,
            },
            "setting": msg.setting,
            "message_id": msg.message_id,
            "message_idstr": str(msg.message_id),
            "client_msg_no": msg.client_msg_no,
            "message_seq": msg.message_seq,
            "from_uid": "" if msg.from_uid == system_uid else msg.from_uid,
            "channel_id": channel_id,
            "channel_type": msg.channel_type,
            "expire": msg.expire,
            "timestamp": msg.timestamp,
            "payload": base64.b64encode(msg.payload).decode("ascii"),
        }
        if msg.topic:
            resp["topic"] = msg.topic
        return resp
