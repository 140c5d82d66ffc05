"""Backoff policy, event streams, and the reconnect loop against a closed port."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import Backoff, ConnState, EventStream, SendTimeout, StateChanged
from agentdesk.wukongim.store import MessageStore


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    b = Backoff(base=0.5, cap=8.0, rand=lambda: 1.0)
    assert [b.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    b.reset()
    assert b.next_delay() == 0.5
    zero = Backoff(base=0.5, cap=8.0, rand=lambda: 0.0)
    assert zero.next_delay() == 0.0
    values = itertools.cycle([0.25, 0.75])
    half = Backoff(base=1.0, cap=100.0, rand=lambda: next(values))
    assert [half.next_delay() for _ in range(4)] == [0.25, 1.5, 1.0, 6.0]


def test_backoff_does_not_overflow() -> None:
    b = Backoff(base=0.5, cap=30.0, rand=lambda: 1.0)
    b.attempt = 10_000
    assert b.next_delay() == 30.0


async def test_event_stream_wait_for_skips_and_times_out() -> None:
    removed: list[EventStream] = []
    with EventStream(removed.append) as s:
        s.put(StateChanged(ConnState.CONNECTING))
        s.put(StateChanged(ConnState.ONLINE))
        ev = await s.wait_for(lambda e: isinstance(e, StateChanged) and e.state is ConnState.ONLINE, within=1)
        assert ev == StateChanged(ConnState.ONLINE)
        with pytest.raises(TimeoutError):
            await s.wait_for(lambda e: True, within=0.05)
    assert removed == [s]
    await asyncio.sleep(0)


async def test_reconnect_loop_uses_capped_backoff_and_reports_it() -> None:
    """The loop against a closed port, with an injected clock and random source."""
    slept: list[float] = []
    enough = asyncio.Event()

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)
        if len(slept) >= 6:
            enough.set()
        await asyncio.sleep(0)

    config = ClientConfig(uid="x", token="t", ws_url="ws://127.0.0.1:9", backoff_base=0.5, backoff_cap=4.0)
    client = WuKongIMClient(config, MessageStore.open(":memory:"), sleep=fake_sleep, rand=lambda: 1.0)
    try:
        with client.subscribe() as events:
            await client.start()
            await asyncio.wait_for(enough.wait(), 20)
            states = []
            while not events.queue.empty():
                ev = events.queue.get_nowait()
                if isinstance(ev, StateChanged) and ev.state is ConnState.RECONNECTING:
                    states.append(ev)
    finally:
        await client.close()
    assert slept[:6] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert [s.retry_in for s in states[:6]] == slept[:6]
    assert all("cannot connect to ws://127.0.0.1:9" in s.error for s in states)
    assert client.state is ConnState.OFFLINE


async def test_close_releases_a_pending_send_and_keeps_the_outbox() -> None:
    config = ClientConfig(uid="x", token="t", ws_url="ws://127.0.0.1:9", backoff_base=0.01, backoff_cap=0.02)
    store = MessageStore.open(":memory:")
    client = WuKongIMClient(config, store)
    with client.subscribe() as events:
        await client.start()
        sending = asyncio.create_task(client.send("bob", 1, {"type": 1, "content": "hi"}, within=60))
        async for ev in events:  # the stream is an async iterator
            if isinstance(ev, StateChanged) and ev.state is ConnState.RECONNECTING:
                break
        await client.close()
    with pytest.raises(SendTimeout, match="closed"):
        await sending
    assert [e.state for e in store.outbox_all()] == ["pending"]
