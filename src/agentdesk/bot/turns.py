"""WuKongIM payloads as the AI engine's messages, and the texts the bot sends to customers.

Customer payloads are untrusted data: they are parsed as JSON (never evaluated), anything that is not a
known shape becomes an ``unknown`` message carrying its type name, and nothing here raises on bad input.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Final, Literal

from agentdesk.ai.types import Conversation, Message, Role
from agentdesk.faq.model import Lang

#: WuKongIM SDK content types (PROTOCOL.md §c.2)
TEXT: Final = 1
IMAGE: Final = 2
_MAX_PAYLOAD: Final = 64 * 1024

HandoverKey = Literal["handover", "urgent_handover"]

HANDOVER_TEXTS: Final[dict[HandoverKey, dict[Lang, str]]] = {
    "handover": {
        "zh": "您好，这个问题需要人工客服为您处理，我们已为您转接，请稍候，客服会尽快回复您。",
        "en": "Thanks for your message. A member of our support team will take it from here; "
        "please bear with us for a moment.",
    },
    "urgent_handover": {
        "zh": "我们非常重视您反映的情况，已优先转交给主管处理，请稍候，马上会有专人联系您。",
        "en": "We take this very seriously. Your conversation has been passed to a supervisor as a "
        "priority, and someone will be with you shortly.",
    },
}


def handover_text(key: HandoverKey, lang: str) -> str:
    texts = HANDOVER_TEXTS[key]
    return texts["en"] if lang == "en" else texts["zh"]


_CJK: Final = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD: Final = re.compile(r"[A-Za-z]{2,}")


def customer_lang(conv: Conversation) -> Lang:
    """The language to write to the customer in: Chinese when Chinese characters carry their text.

    (`agentdesk.ai.text.detect_lang` drops every run of 40+ non-space characters as pasted noise, which
    also drops a long Chinese sentence, so it is not used here.)"""
    parts = [m.text or m.caption or "" for m in conv.customer_messages()]
    text = " ".join(parts)
    cjk = len(_CJK.findall(text))
    words = sum(1 for w in _LATIN_WORD.findall(text) if len(w) < 40)
    return "zh" if cjk and cjk >= words else "en"


def text_payload(text: str) -> bytes:
    return json.dumps({"type": TEXT, "content": text}, ensure_ascii=False, separators=(",", ":")).encode()


def decode(payload: bytes) -> object:
    """The decoded JSON of a payload, or None when it is not JSON (or too large to bother)."""
    if len(payload) > _MAX_PAYLOAD:
        return None
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return None


#: the optional display name a visitor's message may carry (the key the WuKongIM SDKs use in `reply`)
NAME_KEY: Final = "from_name"
#: the longest display name kept (= the desk protocol's limit for `customer_name`)
MAX_NAME: Final = 200


def display_name(payload: bytes) -> str:
    """The sender's display name carried by a message payload: its top-level ``"from_name"`` string, or
    "" when there is none (or it is blank). Untrusted data: kept as it is (never stripped, unescaped or
    interpreted), only cut to `MAX_NAME` characters (a lone surrogate becomes ``?``)."""
    obj = decode(payload)
    if not isinstance(obj, Mapping):
        return ""
    name = obj.get(NAME_KEY)
    if not isinstance(name, str) or not name.strip():
        return ""
    name = name[: MAX_NAME * 2]
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - 1] + "…"
    return name.encode("utf-8", "replace").decode("utf-8")


def answer_digest(text: str) -> str:
    """What identifies an answer's text: its words, whitespace-insensitive (a re-drafted answer that
    differs only in spacing or line breaks is the same answer)."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8", "replace")).hexdigest()


def to_message(payload: bytes, role: Role) -> Message:
    """One WuKongIM payload as an engine message: text (type 1), image (type 2 or "image"), else unknown."""
    obj = decode(payload)
    if not isinstance(obj, Mapping):
        return Message(role=role, kind="unknown", type_name="binary" if obj is None else type(obj).__name__)
    kind = obj.get("type")
    if kind == TEXT and not isinstance(kind, bool):
        content = obj.get("content")
        return Message(role=role, kind="text", text=content if isinstance(content, str) else "")
    if kind == IMAGE and not isinstance(kind, bool):
        obj = {**obj, "type": "image"}
    return Message.from_turn(obj, role)


def conversation(
    turns: Sequence[tuple[str, bytes]], *, channel_id: str, customer_name: str = ""
) -> Conversation:
    """The engine's view of a conversation from stored ``(role, payload)`` turns, oldest first."""
    messages = []
    for role, payload in turns:
        r: Role = "customer" if role == "customer" else "bot" if role == "bot" else "agent"
        messages.append(to_message(payload, r))
    return Conversation(messages=tuple(messages), id=channel_id, customer_name=customer_name)


def turn_payload(turn: object) -> dict[str, object]:
    """A turn of the shared conversation format as the payload a visitor's app would send (for replays):
    a string is a text message, an image object becomes content type 2, anything else is sent as is."""
    if isinstance(turn, str):
        return {"type": TEXT, "content": turn}
    if isinstance(turn, Mapping):
        if turn.get("type") == "image":
            return {**turn, "type": IMAGE}
        return dict(turn)
    return {"type": None, "value": turn}
