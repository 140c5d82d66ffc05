"""The drafting engine: OpenAI-compatible adapter, offline drafter, triage and guards.

Importing this package is cheap: `openai` is imported only when a model is actually called. See docs/ai.md.
"""

from __future__ import annotations

from agentdesk.ai.engine import DraftEngine, DraftStream
from agentdesk.ai.types import (
    Conversation,
    DraftChunk,
    DraftResult,
    Message,
    ModelSettings,
    Route,
    Signal,
    Tone,
    TriageResult,
)

__all__ = [
    "Conversation",
    "DraftChunk",
    "DraftEngine",
    "DraftResult",
    "DraftStream",
    "Message",
    "ModelSettings",
    "Route",
    "Signal",
    "Tone",
    "TriageResult",
]
