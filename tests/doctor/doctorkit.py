"""Helpers for the doctor tests."""

from __future__ import annotations

import socket
from typing import Any

CHECK_NAMES = ["config", "keyring", "secrets", "rest", "websocket", "desk", "model", "faq"]


def closed_port() -> int:
    """A loopback port nobody listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def assert_json_shape(obj: Any) -> dict[str, Any]:
    assert isinstance(obj, dict) and set(obj) == {"ok", "checks"}
    assert isinstance(obj["ok"], bool)
    for c in obj["checks"]:
        assert set(c) == {"name", "status", "detail", "fix"}, c
        assert c["status"] in ("ok", "warn", "fail")
        assert all(isinstance(c[k], str) for k in ("name", "detail", "fix"))
        if c["status"] == "fail":
            assert c["fix"], f"a failed check without a fix: {c}"
    assert obj["ok"] == all(c["status"] != "fail" for c in obj["checks"])
    return {c["name"]: c for c in obj["checks"]}
