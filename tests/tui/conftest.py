"""Fixtures for the console's foundation tests."""

from __future__ import annotations

import os

# Snapshot tests render differently under NO_COLOR (reference/ECOSYSTEM.md §3).
os.environ.pop("NO_COLOR", None)
