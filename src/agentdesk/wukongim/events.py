"""What a `WuKongIMClient` tells its users: connection states, events, typed errors, backoff.

* `ConnState`: connecting → online → reconnecting(in N s) → … ; terminal: offline (closed),
  auth_failed, kicked. Every change is a `StateChanged` event.
* Events (past-tense facts): `StateChanged`, `MessageReceived` (a message stored for the first time;
  ``live`` = it came as a RECV rather than from REST catch-up), `SendAcked` (an outbox entry reached
  the server: by SENDACK or found in history), `SendFailed` (SENDACK with a reason ≠ 1),
  `MessageDropped` (a RECV that failed msg_key/decryption: not stored, not acked), `CaughtUp` (the
  catch-up and outbox reconciliation after a (re)connect finished).
* Errors: `AuthFailed`, `Kicked` (no reconnect after either), `ServerUnreachable`, `SendTimeout`.
* `Backoff`: capped exponential backoff with full jitter; clock and random source are injectable.
* `EventStream`: one subscriber's queue of events (an async iterator) with ``wait_for(predicate, within)``.
  Unsubscribe (leave the ``with``) when done: the queue is unbounded.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import TypeVar

from agentdesk.wukongim.store import StoredMessage

__all__ = [
    "AuthFailed",
    "Backoff",
    "CaughtUp",
    "ClientError",
    "ClientEvent",
    "ConnState",
    "EventStream",
    "Kicked",
    "MessageDropped",
    "MessageReceived",
    "SendAcked",
    "SendFailed",
    "SendResult",
    "SendTimeout",
    "ServerUnreachable",
    "StateChanged",
]


class ConnState(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    AUTH_FAILED = "auth_failed"
    KICKED = "kicked"


class ClientError(Exception):
    """Base of the connection's typed errors."""


class AuthFailed(ClientError):
    """The server refused the login (v2.x: closed the socket without CONNACK)."""

    def __init__(self, message: str, reason_code: int | None = None) -> None:
        super().__init__(message)
        self.reason_code = reason_code


class Kicked(ClientError):
    """The server sent DISCONNECT (e.g. 12 "login in other device"); the client does not reconnect."""

    def __init__(self, reason_code: int, reason: str) -> None:
        super().__init__(f"kicked by the server (reason {reason_code}{': ' + reason if reason else ''})")
        self.reason_code = reason_code
        self.reason = reason


class ServerUnreachable(ClientError):
    """Nothing answered at the WebSocket (or route) address."""


class SendTimeout(ClientError):
    """No SENDACK in time; the reply stays in the outbox and is retried after the next reconnect."""


@dataclass(frozen=True, slots=True)
class SendResult:
    client_msg_no: str
    reason_code: int
    message_id: int = 0
    message_seq: int = 0
    #: "sendack", or "history" when a re-connect found the message already stored on the server
    via: str = "sendack"

    @property
    def ok(self) -> bool:
        return self.reason_code == 1


@dataclass(frozen=True, slots=True)
class StateChanged:
    state: ConnState
    #: seconds until the next attempt (reconnecting only)
    retry_in: float | None = None
    #: why we left the online state / why the attempt failed
    error: str = ""


@dataclass(frozen=True, slots=True)
class MessageReceived:
    message: StoredMessage
    live: bool


@dataclass(frozen=True, slots=True)
class SendAcked:
    result: SendResult


@dataclass(frozen=True, slots=True)
class SendFailed:
    result: SendResult


@dataclass(frozen=True, slots=True)
class MessageDropped:
    message_id: int
    channel_id: str
    channel_type: int
    reason: str


@dataclass(frozen=True, slots=True)
class CaughtUp:
    #: messages that REST catch-up stored for the first time
    new_messages: int
    #: channels pulled
    channels: int
    #: outbox entries found already stored on the server / re-sent
    found_in_history: int
    resent: int
    #: why catch-up could not run ("" = it did); the connection stays up without it
    error: str = ""


ClientEvent = StateChanged | MessageReceived | SendAcked | SendFailed | MessageDropped | CaughtUp

E = TypeVar("E")


class Backoff:
    """delay(n) = uniform(0, min(cap, base·2ⁿ)) — "full jitter"; `reset()` after a good connection."""

    def __init__(
        self, base: float = 0.5, cap: float = 30.0, *, rand: Callable[[], float] = random.random
    ) -> None:
        self.base = base
        self.cap = cap
        self.rand = rand
        self.attempt = 0

    def ceiling(self, attempt: int) -> float:
        return float(min(self.cap, self.base * 2.0 ** min(attempt, 62)))

    def next_delay(self) -> float:
        delay = float(self.rand()) * self.ceiling(self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


class EventStream:
    """Events since subscription, in order. Use as ``with client.subscribe() as events: ...``."""

    def __init__(self, unsubscribe: Callable[[EventStream], None]) -> None:
        self.queue: asyncio.Queue[ClientEvent] = asyncio.Queue()
        self._unsubscribe = unsubscribe

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._unsubscribe(self)

    def put(self, event: ClientEvent) -> None:
        self.queue.put_nowait(event)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> ClientEvent:
        """``async for event in stream`` (never ends by itself; leave the loop or the ``with``)."""
        return await self.queue.get()

    async def next(self, within: float | None = None) -> ClientEvent:
        return await asyncio.wait_for(self.queue.get(), within)

    async def wait_for(self, predicate: Callable[[ClientEvent], bool], within: float) -> ClientEvent:
        """The next event that satisfies ``predicate``; TimeoutError after ``within`` seconds."""
        async with asyncio.timeout(within):
            while True:
                ev = await self.queue.get()
                if predicate(ev):
                    return ev

    async def wait_messages(self, count: int, within: float) -> list[MessageReceived]:
        """The next ``count`` MessageReceived events."""
        out: list[MessageReceived] = []
        async with asyncio.timeout(within):
            while len(out) < count:
                ev = await self.queue.get()
                if isinstance(ev, MessageReceived):
                    out.append(ev)
        return out
