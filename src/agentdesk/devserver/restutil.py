"""Request parsing helpers shared by the REST modules: typed field access with 400 errors."""

from __future__ import annotations

from typing import Any

from .httpserver import Request
from .ids import valid_id
from .messaging import SUPPORTED_TYPES

_I64 = 2**63


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
