"""Request parsing helpers shared by the REST modules: typed field access with 400 errors."""

from __future__ import annotations

from typing import Any

from agentdesk.httpd import Request

from .ids import valid_id
from .messaging import SUPPORTED_TYPES

_I64 = 2**63
_U64_MAX = 2**64 - 1
_DIGITS = frozenset("0123456789")


class ApiError(Exception):
    def __init__(self, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.status = status


def body_obj(req: Request) -> dict[str, Any]:
    try:
        data = req.json()
    except ValueError as exc:
        raise ApiError(str(exc)) from None
    if not isinstance(data, dict):
        raise ApiError("request body must be a JSON object")
    return data


def body_str_list(req: Request) -> list[str]:
    try:
        data = req.json()
    except ValueError as exc:
        raise ApiError(str(exc)) from None
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise ApiError("request body must be a JSON array of strings")
    return data


def get_str(d: dict[str, Any], key: str, default: str = "") -> str:
    value = d.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ApiError(f"{key} must be a string")
    return value


def get_int(d: dict[str, Any], key: str, default: int = 0) -> int:
    value = d.get(key, default)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(f"{key} must be an integer")
    if not -_I64 <= value < _I64:
        raise ApiError(f"{key} is out of range")
    return value


def get_uint8(d: dict[str, Any], key: str, default: int = 0) -> int:
    """A Go `uint8` field (channel_type, device_flag, device_level): 0..255, else 400."""
    value = get_int(d, key, default)
    if not 0 <= value <= 255:
        raise ApiError(f"{key} must be between 0 and 255")
    return value


def go_parse_uint64(text: str) -> int:
    """`strconv.ParseUint(text, 10, 64)` with the error ignored, as WuKongIM uses it: only ASCII digits
    (no sign, spaces or `_`), a syntax error gives 0, an overflow gives 2**64-1."""
    value = 0
    for ch in text:
        if ch not in _DIGITS:
            return 0
        value = value * 10 + ord(ch) - 48
        if value > _U64_MAX:
            return _U64_MAX
    return value


def go_atoi(text: str) -> int:
    """`strconv.Atoi(text)` with the error ignored: optional `+`/`-`, ASCII digits, 0 on a syntax error,
    clamped to int64 on overflow."""
    sign, digits = 1, text
    if text[:1] in ("+", "-"):
        sign, digits = (-1 if text[0] == "-" else 1), text[1:]
    if not digits:
        return 0
    value = 0
    for ch in digits:
        if ch not in _DIGITS:
            return 0
        value = value * 10 + ord(ch) - 48
        if value >= _I64:
            return _I64 - 1 if sign > 0 else -_I64
    return sign * value


def get_str_list(d: dict[str, Any], key: str) -> list[str]:
    value = d.get(key) or []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ApiError(f"{key} must be an array of strings")
    return value


def channel_of(d: dict[str, Any]) -> tuple[str, int]:
    channel_id = get_str(d, "channel_id")
    channel_type = get_int(d, "channel_type")
    if not channel_id.strip():
        raise ApiError("channel_id cannot be empty")
    if not valid_id(channel_id):
        raise ApiError("channel_id must not contain @, # or &")
    if channel_type not in SUPPORTED_TYPES:
        raise ApiError(f"channel_type {channel_type} is not supported by the devserver")
    return channel_id, channel_type
