"""Conformance with the official SDK: two wukongimjssdk@1.0.4 clients and the Python client exchange
person, group and visitors-channel messages in every direction (Chinese text, a 30 KB payload)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers_im import WAIT, ImServer, im_server, messages, new_client, register, uid
from helpers_sdk import SdkClient, wkjs_dir

__all__ = ["im_server", "wkjs_dir"]

pytestmark = [pytest.mark.node, pytest.mark.realserver]

BIG = "大" * 10_000 + "x" * 240  # 30,240 bytes of UTF-8 text


def content(sender: str, kind: str, big: bool = False) -> dict[str, Any]:
    text = f"{kind} from {sender}: 你好，世界 ✓"
    return {"type": 1, "content": text + (BIG if big else "")}


async def test_sdk_and_python_clients_exchange_messages(im_server: ImServer, wkjs_dir: Path) -> None:
    s1 = uid("vis") + "___vstr"  # a visitor: its own visitors channel (type 10) is the conversation
    s2, py = uid("sdkagent"), uid("pyagent")
    group = uid("grp")
    rest = im_server.rest()
    tokens = {u: await register(im_server, u) for u in (s1, s2, py)}
    await rest.channel_create(group, 2, [s1, s2, py])
    await rest.channel_subscriber_add(s1, 10, [s2, py])
    ws_url = im_server.ws_url or (await rest.route()).ws_addr

    client, events = await new_client(im_server, py, token=tokens[py])
    sdks = {u: await SdkClient.start(wkjs_dir, ws_url, u, tokens[u]) for u in (s1, s2)}
    try:
        for s in sdks.values():
            await s.connected(WAIT)
        users = [s1, s2, py]
        # (receiver, sender, channel as the receiver sees it, channel type, content)
        expected: Counter[tuple[str, str, str, int, str]] = Counter()
        py_results = []
        for sender in users:
            targets = [("person", u, 1) for u in users if u != sender] + [
                ("group", group, 2),
                ("visitors", s1, 10),
            ]
            for kind, channel, ctype in targets:
                big = (
                    kind == "group"
                    or (kind == "person" and channel == py)
                    or (kind == "visitors" and sender == py)
                )
                payload = content(sender, kind, big)
                if sender == py:
                    py_results.append(await client.send(channel, ctype, payload, within=WAIT))
                else:
                    sdks[sender].send(channel, ctype, payload)
                receivers = [channel] if ctype == 1 else [u for u in users if u != sender]
                for r in receivers:
                    seen_as = sender if ctype == 1 else channel
                    expected[(r, sender, seen_as, ctype, payload["content"])] += 1

        assert all(r.ok for r in py_results)
        n_sdk_sends = 4
        for s in sdks.values():
            await s.wait(lambda ev: sum(e["event"] == "sendack" for e in ev) >= n_sdk_sends, WAIT)
            assert all(a["ok"] and a["reason_code"] == 1 for a in s.sendacks())

        def count_for(u: str) -> int:
            return sum(n for (r, *_), n in expected.items() if r == u)

        got: Counter[tuple[str, str, str, int, str]] = Counter()
        for u, s in sdks.items():
            want = count_for(u)
            # SDK 1.0.4 does not de-duplicate: a RECV the server retried (the fixture retries unacked
            # RECVs every 0.3 s, and the SDK needs longer than that for a 30 KB message) is delivered
            # twice with the same message_id. Count each message_id once, as an application would.
            await s.wait(
                lambda ev, want=want: len({e["message_id"] for e in ev if e["event"] == "message"}) >= want,
                WAIT,
            )
            unique = {m["message_id"]: m for m in s.messages()}
            for m in unique.values():
                got[(u, m["from_uid"], m["channel_id"], m["channel_type"], m["payload"]["content"])] += 1
        for ev in await messages(events, count_for(py)):
            m = ev.message
            got[(py, m.from_uid, m.channel_id, m.channel_type, json.loads(m.payload)["content"])] += 1
        assert got == expected
        # the SDK's message_ids are the server's, as strings; the Python store has no duplicates or gaps
        for (cid, ctype), _seq in client.db.store.last_seqs().items():
            assert client.db.store.gaps(cid, ctype) == []
        for s in sdks.values():
            assert all(isinstance(m["message_id"], str) and int(m["message_id"]) > 0 for m in s.messages())
    finally:
        codes = {u: await s.finish(WAIT) for u, s in sdks.items()}
    assert codes == {s1: 0, s2: 0}
