"""The desk bot's settings (built by `agentdesk bot` from flags and environment, or by tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agentdesk.ai.types import ModelSettings
from agentdesk.desk.rules import Roster

DefaultMode = Literal["ai", "assist"]


@dataclass(slots=True)
class BotConfig:
    #: WuKongIM REST base URL
    api_url: str
    roster: Roster
    #: the bot's SQLite state (inbox, outbox, facts, context)
    db_path: Path | str
    manager_token: str | None = None
    listen_host: str = "127.0.0.1"
    #: 0 = any free port (the bound one is `DeskBot.port` after start)
    listen_port: int = 8090
    #: the FAQ cache to answer from and to serve at /faq.jsonl; None = the bundled FAQ, in memory
    faq_db: Path | str | None = None
    desk_channel: str = "desk"
    default_mode: DefaultMode = "ai"
    bot_uid: str = "deskbot"
    #: None = the offline drafter only
    model: ModelSettings | None = None
    amount_threshold: float = 500.0
    #: the autopilot answers only when the draft's confidence is at least this (offline: retrieval score)
    min_confidence: float = 0.3
    #: when the best draft repeats an answer already sent in the conversation, the next FAQ entry's
    #: answer is sent only at this confidence or above (else the conversation is handed over)
    min_other_confidence: float = 0.5
    #: how many recent messages of a channel are searched for a client_msg_no before a re-send
    history_check: int = 200
    #: backoff for failed REST calls: first delay, doubling, capped
    retry_base: float = 0.2
    retry_max: float = 10.0
    #: largest webhook body accepted (a msg.notify batch is ≤ 100 messages)
    max_body: int = 16 * 1024 * 1024
