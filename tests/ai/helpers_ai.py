"""Shared test helpers for the AI engine tests (dev data, fast model settings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentdesk.ai import ModelSettings

DATA = Path(__file__).parent.parent / "data"


def load_dev() -> list[dict[str, Any]]:
    with (DATA / "conversations_dev.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


DEV = load_dev()
DEV_BY_ID = {d["id"]: d for d in DEV}


def fast_settings(url: str, **overrides: Any) -> ModelSettings:
    """Small timeouts and backoff so failure paths take fractions of a second."""
    values: dict[str, Any] = {
        "base_url": url,
        "model": "scripted",
        "api_key": "test-key",
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "total_timeout": 10.0,
        "max_retries": 2,
        "retry_backoff": 0.01,
        "breaker_threshold": 3,
        "breaker_cooldown": 30.0,
    }
    values.update(overrides)
    return ModelSettings(**values)
