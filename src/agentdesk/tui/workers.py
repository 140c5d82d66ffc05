"""Worker group names, in one place (STYLE.md: sends never exclusive; drafts and FAQ search exclusive)."""

from __future__ import annotations

from typing import Final

GROUP_CONNECTION: Final = "connection"
"""The one long-lived worker reading the service's events."""
GROUP_SEND: Final = "outbox"
"""Replies and desk requests: never exclusive, never cancelled."""
GROUP_DRAFT: Final = "draft"
"""Draft streaming: exclusive, a newer request (another conversation, a tone) cancels the older one."""
GROUP_FAQ: Final = "faq-search"
"""FAQ search as you type: exclusive and debounced."""
GROUP_TRANSCRIPT: Final = "transcript"
"""Loading the open conversation's transcript: exclusive (the latest selection wins)."""
GROUP_PREFS: Final = "preferences"
"""Saving the theme choice."""

FAQ_DEBOUNCE: Final = 0.15
"""Seconds of typing quiet before the FAQ is searched."""
DRAFT_REFRESH: Final = 0.05
"""Draft chunks arriving faster than this are coalesced into one repaint."""
