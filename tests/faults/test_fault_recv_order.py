"""Fault (c): duplicate and reordered RECVs at the client (a scripted server: what a real server can do under
retries and multi-node delivery, and the devserver never does). Two channels, interleaved, every message
delivered out of seq order and some twice, one of them a re-sent SEND stored twice under a new id.

Asserted: each message stored and announced exactly once, every RECV (duplicates too) acknowledged, the
store reads back in seq order per channel with no gap, and its contiguous seq is the channel's last."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from faultkit import WAIT, ScriptedConn, ScriptedServer, dupes

from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import MessageReceived
from agentdesk.wukongim.packets import Recvack
from agentdesk.wukongim.store import MessageStore

# (channel, seq): delivery order, with duplicates; ids are 1000*channel_no + seq
ORDER = [
    ("bob", 3),
    ("g1", 2),
    ("bob", 1),
    ("bob", 3),
    ("g1", 4),
    ("bob", 2),
    ("g1", 1),
    ("g1", 2),
    ("bob", 5),
    ("g1", 3),
    ("bob", 4),
    ("bob", 1),
    ("g1", 4),
    ("bob", 5),
]
CHANNELS = {"bob": (1, 1), "g1": (2, 2)}  # channel → (channel_type, number)


def _recv(c: ScriptedConn, channel: str, seq: int) -> object:
    ctype, no = CHANNELS[channel]
    body = json.dumps({"type": 1, "content": f"{channel}-{seq}"}).encode()
    return c.recv(
        no * 1000 + seq, seq, f"{channel}-{seq}", body, channel_id=channel, channel_type=ctype, from_uid="bob"
    )


async def test_duplicated_and_reordered_recvs_are_stored_once_in_seq_order() -> None:
    done = asyncio.Event()
    acked: list[int] = []
    expected_ids = {CHANNELS[ch][1] * 1000 + seq for ch, seq in ORDER}

    async def scenario(c: ScriptedConn) -> None:
        for ch, seq in ORDER:
            await c.send(_recv(c, ch, seq))
        # a re-sent SEND the server stored twice: a new id and seq, the same client_msg_no
        ctype, _ = CHANNELS["g1"]
        body = json.dumps({"type": 1, "content": "g1-4"}).encode()
        await c.send(c.recv(2005, 5, "g1-4", body, channel_id="g1", channel_type=ctype))
        for _ in range(len(ORDER) + 1):
            acked.append((await c.expect(Recvack)).message_id)
        done.set()

    server = ScriptedServer(scenario)
    await server.start()
    store = MessageStore.open(":memory:")
    client = WuKongIMClient(
        ClientConfig(uid="alice", token="t", ws_url=server.url, backoff_base=0.01, backoff_cap=0.05), store
    )
    try:
        with client.subscribe() as events:
            await client.connect(within=WAIT)
            got = await events.wait_messages(len(expected_ids), within=WAIT)
            await asyncio.wait_for(done.wait(), WAIT)
            # nothing more is announced (the duplicate copy of g1-4 included)
            await asyncio.sleep(0.3)
            extra = []
            while not events.queue.empty():
                ev = events.queue.get_nowait()
                if isinstance(ev, MessageReceived):
                    extra.append(ev)
        assert extra == []
        assert dupes(Counter(g.message.message_id for g in got)) == {}
        assert {g.message.message_id for g in got} == expected_ids
        assert Counter(acked) == Counter([CHANNELS[ch][1] * 1000 + s for ch, s in ORDER] + [2005])

        def read() -> dict[str, list[int]]:
            return {
                ch: [m.message_seq for m in store.history(ch, t, limit=100)]  # the store's own order
                for ch, (t, _) in CHANNELS.items()
            }

        stored = await client.db.call(read)
        assert stored == {"bob": [1, 2, 3, 4, 5], "g1": [1, 2, 3, 4]}
        seqs = await client.db.call(store.last_seqs)
        assert seqs == {("bob", 1): 5, ("g1", 2): 5}  # the twice-stored copy's seq counts as seen
        assert await client.db.call(store.gaps, "bob", 1) == []
        assert await client.db.call(store.gaps, "g1", 2) == []
    finally:
        await client.close()
        store.close()
        await server.stop()
