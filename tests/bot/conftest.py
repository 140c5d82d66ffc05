"""The bot's tests reuse the SDK fixture of tests/wukongim (its directory goes on sys.path here)."""

from __future__ import annotations

import sys
from pathlib import Path

_WUKONGIM_TESTS = str(Path(__file__).resolve().parents[1] / "wukongim")
if _WUKONGIM_TESTS not in sys.path:
    sys.path.append(_WUKONGIM_TESTS)
