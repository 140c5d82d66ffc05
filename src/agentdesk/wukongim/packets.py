"""WuKongIM binary-protocol packets as plain data (PROTOCOL.md §a).

These dataclasses are the contract between the codec (`codec.py`), the connection (`client.py`) and
the devserver. Payloads here are the bytes *on the wire* (for SEND/RECV with encryption on: the ASCII
of base64(AES-CBC(json))); encryption is applied by `crypto.py`, never by the codec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

#: Versions this implementation speaks. We announce LATEST and follow the server's cap.
MIN_VERSION = 2
LATEST_VERSION = 5
#: The Go server refuses a packet whose remaining length exceeds this (GoProto MaxRemaingLength).
MAX_REMAINING_LENGTH = 1_048_576
#: Strings are u16-length-prefixed; the Go decoder reads the length as a signed int16.
MAX_STRING_BYTES = 32_767


class PacketType(IntEnum):
    CONNECT = 1
    CONNACK = 2
    SEND = 3
    SENDACK = 4
    RECV = 5
    RECVACK = 6
    PING = 7
    PONG = 8
    DISCONNECT = 9
    SUB = 10
    SUBACK = 11
    EVENT = 12


class HeaderFlag(IntFlag):
    """Low nibble of byte 0 (PROTOCOL.md a.2). For CONNACK bit 0 means has_server_version."""

    NONE = 0
    NO_PERSIST = 0x01
    RED_DOT = 0x02
    SYNC_ONCE = 0x04
    DUP = 0x08


class Setting(IntFlag):
    """The SEND/RECV setting byte (PROTOCOL.md a.7)."""

    NONE = 0
    STREAM = 0x02
    TOPIC = 0x08
    NO_ENCRYPT = 0x10
    SIGNAL = 0x20
    RECEIPT = 0x80


class ReasonCode(IntEnum):
    UNKNOWN = 0
    SUCCESS = 1
    AUTH_FAIL = 2
    SUBSCRIBER_NOT_EXIST = 3
    IN_BLACKLIST = 4
    CHANNEL_NOT_EXIST = 5
    USER_NOT_ON_NODE = 6
    SENDER_OFFLINE = 7
    MSG_KEY_ERROR = 8
    PAYLOAD_DECODE_ERROR = 9
    FORWARD_SEND_PACKET_ERROR = 10
    NOT_ALLOW_SEND = 11
    CONNECT_KICK = 12
    NOT_IN_WHITELIST = 13
    QUERY_TOKEN_ERROR = 14
    SYSTEM_ERROR = 15
    CHANNEL_ID_ERROR = 16
    NODE_MATCH_ERROR = 17
    NODE_NOT_MATCH = 18
    BAN = 19
    NOT_SUPPORT_HEADER = 20
    CLIENT_KEY_IS_EMPTY = 21
    RATE_LIMIT = 22
    NOT_SUPPORT_CHANNEL_TYPE = 23
    DISBAND = 24
    SEND_BAN = 25


class ChannelType(IntEnum):
    PERSON = 1
    GROUP = 2
    CUSTOMER_SERVICE = 3
    COMMUNITY = 4
    COMMUNITY_TOPIC = 5
    INFO = 6
    DATA = 7
    TEMP = 8
    LIVE = 9
    VISITORS = 10
    AGENT = 11
    AGENT_GROUP = 12


class DeviceFlag(IntEnum):
    APP = 0
    WEB = 1
    PC = 2
    SYSTEM = 99


@dataclass(slots=True)
class Connect:
    version: int
    device_flag: int
    device_id: str
    uid: str
    token: str
    client_timestamp: int
    client_key: str
    flags: int = 0


@dataclass(slots=True)
class Connack:
    time_diff: int
    reason_code: int
    server_key: str
    salt: str
    #: present on the wire iff header bit 0 (has_server_version) is set
    server_version: int | None = None
    #: present on the wire iff the effective version >= 4
    node_id: int = 0
    flags: int = 0


@dataclass(slots=True)
class Send:
    setting: int
    client_seq: int
    client_msg_no: str
    channel_id: str
    channel_type: int
    msg_key: str
    payload: bytes
    stream_no: str = ""
    expire: int = 0
    topic: str = ""
    flags: int = HeaderFlag.RED_DOT


@dataclass(slots=True)
class Sendack:
    message_id: int
    client_seq: int
    message_seq: int
    reason_code: int
    flags: int = 0


@dataclass(slots=True)
class Recv:
    setting: int
    msg_key: str
    from_uid: str
    channel_id: str
    channel_type: int
    client_msg_no: str
    message_id: int
    message_seq: int
    timestamp: int
    payload: bytes
    expire: int = 0
    stream_flag: int = 0
    stream_no: str = ""
    stream_id: int = 0
    topic: str = ""
    flags: int = 0


@dataclass(slots=True)
class Recvack:
    message_id: int
    message_seq: int
    flags: int = 0


@dataclass(slots=True)
class Ping:
    flags: int = 0


@dataclass(slots=True)
class Pong:
    flags: int = 0


@dataclass(slots=True)
class Disconnect:
    reason_code: int
    reason: str = ""
    flags: int = 0


@dataclass(slots=True)
class Sub:
    setting: int
    sub_no: str
    channel_id: str
    channel_type: int
    action: int
    param: str = ""
    flags: int = 0


@dataclass(slots=True)
class Suback:
    sub_no: str
    channel_id: str
    channel_type: int
    action: int
    reason_code: int
    flags: int = 0


@dataclass(slots=True)
class Event:
    id: str
    type: str
    timestamp: int
    data: bytes
    flags: int = 0


Packet = Connect | Connack | Send | Sendack | Recv | Recvack | Ping | Pong | Disconnect | Sub | Suback | Event

PACKET_TYPES: dict[type, PacketType] = {
    Connect: PacketType.CONNECT,
    Connack: PacketType.CONNACK,
    Send: PacketType.SEND,
    Sendack: PacketType.SENDACK,
    Recv: PacketType.RECV,
    Recvack: PacketType.RECVACK,
    Ping: PacketType.PING,
    Pong: PacketType.PONG,
    Disconnect: PacketType.DISCONNECT,
    Sub: PacketType.SUB,
    Suback: PacketType.SUBACK,
    Event: PacketType.EVENT,
}


class ProtocolError(Exception):
    """Bytes that are not a valid packet stream. The only exception the decoder raises."""


@dataclass(slots=True)
class UnknownPacket:
    """A packet of a type this codec does not know, skipped by its length (kept for logging)."""

    type: int
    flags: int
    body: bytes = field(repr=False)
