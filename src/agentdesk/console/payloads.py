"""Reading WuKongIM message payloads for the transcript: text, image, or an unknown type.

Payloads are untrusted bytes. Nothing here raises: a payload that is not a JSON object becomes an
`unknown` item with type name `binary`. The text is kept as data; making it safe to show is the UI's job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

#: WuKongIM content types (wukongimjssdk MessageContentType)
TEXT: Final = 1
IMAGE: Final = 2
_TYPE_NAMES: Final[dict[int, str]] = {
    1: "text",
    2: "image",
    3: "gif",
    4: "voice",
    5: "video",
    6: "location",
    7: "card",
    8: "file",
    9: "red packet",
    10: "transfer",
    11: "merge forward",
    12: "sticker",
    13: "rich text",
    30001: "desk event",
}


@dataclass(frozen=True, slots=True)
class Decoded:
    kind: Literal["text", "image", "unknown"]
    text: str = ""
    url: str = ""
    size: str = ""
    type_name: str = ""


def _human_bytes(value: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value >= 0 and value < 1e15 else None


def image_size(obj: dict[str, Any]) -> str:
    parts: list[str] = []
    width, height = _number(obj.get("width")), _number(obj.get("height"))
    if width and height:
        parts.append(f"{int(width)}×{int(height)}")
    size = _number(obj.get("size"))
    if size is not None:
        parts.append(_human_bytes(size))
    return ", ".join(parts)


def decode_payload(payload: bytes) -> Decoded:
    """What a message shows: its text, an image line, or a placeholder for an unknown type."""
    try:
        obj = json.loads(payload.decode("utf-8", "replace"))
    except ValueError:
        return Decoded("unknown", type_name="binary")
    if not isinstance(obj, dict):
        return Decoded("unknown", type_name="binary")
    raw_type = obj.get("type")
    if raw_type == TEXT or raw_type == "text":
        content = obj.get("content", obj.get("text", ""))
        return Decoded("text", text=content if isinstance(content, str) else "")
    if raw_type == IMAGE or raw_type == "image":
        url = obj.get("url")
        caption = obj.get("caption")
        return Decoded(
            "image",
            text=caption if isinstance(caption, str) else "",
            url=url if isinstance(url, str) else "",
            size=image_size(obj),
            type_name="image",
        )
    if isinstance(raw_type, int) and not isinstance(raw_type, bool):
        name = _TYPE_NAMES.get(raw_type, f"type {raw_type}")
    elif raw_type is None:
        name = "no type"
    else:
        name = str(raw_type)[:40]
    readable = [
        str(obj[k]) for k in ("text", "content", "greeting", "title", "name") if isinstance(obj.get(k), str)
    ]
    return Decoded("unknown", text=" ".join(readable), type_name=name)


def preview_text(decoded: Decoded) -> str:
    """The queue's one-line preview of a message."""
    if decoded.kind == "text":
        return decoded.text
    if decoded.kind == "image":
        return f"[image] {decoded.text}".strip()
    return f"[{decoded.type_name}] {decoded.text}".strip()
