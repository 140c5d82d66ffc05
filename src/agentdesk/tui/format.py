"""Small formatting rules shared by the widgets (durations, SLA levels, times of day)."""

from __future__ import annotations

import time
from typing import Final, Literal

SLA_WARN: Final = 120.0
"""Seconds of waiting after which the wait is shown in the warning colour."""
SLA_BREACH: Final = 300.0
"""Seconds of waiting after which the SLA is breached."""

SlaLevel = Literal["ok", "warn", "breach"]


def duration(seconds: float | None) -> str:
    """`45s`, `12m`, `3h05`, `2d`; an em dash when nobody is waiting."""
    if seconds is None:
        return "—"
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}"
    return f"{s // 86400}d"


def sla_level(seconds: float | None) -> SlaLevel:
    if seconds is None or seconds < SLA_WARN:
        return "ok"
    return "warn" if seconds < SLA_BREACH else "breach"


def clock_time(at: float) -> str:
    """`14:03` in the local time zone."""
    return time.strftime("%H:%M", time.localtime(at))
