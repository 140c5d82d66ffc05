"""Staff requests on the desk channel: claims, take over / hand back, the roster; webhook redelivery;
the FAQ feed and /health."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
from botkit import FAQ_QUESTION, WAIT, bot_config, start_desk, visitor

from agentdesk.bot.service import DeskBot
from agentdesk.desk import protocol as p
from agentdesk.faq.store import FaqStore
from agentdesk.faq.sync import sync
from agentdesk.wukongim.rest import RestClient
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN


async def _handed_over(desk: Any) -> str:
    """A conversation the bot handed to people (mode assist, waiting, unassigned)."""
    v = visitor()
    await desk.rest.message_send(v, 10, {"type": 1, "content": "I want to talk to a human agent"}, from_uid=v)
    await desk.settled()
    conv = (await desk.state()).get(v)
    assert conv is not None and conv.mode == "assist" and conv.assignee is None
    return v


async def test_two_agents_claim_at_once_exactly_one_wins(devserver_factory: Any, tmp_path: Path) -> None:
    desk = await start_desk(devserver_factory, tmp_path)
    try:
        v = await _handed_over(desk)
        alice, bob = await desk.client("alice"), await desk.client("bob")
        ids = await asyncio.gather(desk.request(alice, "claim", v), desk.request(bob, "claim", v))
        answers = [await desk.answer(rid) for rid in ids]
        assigned = [a for a in answers if isinstance(a, p.Assigned)]
        rejected = [a for a in answers if isinstance(a, p.Rejected)]
        assert len(assigned) == 1 and len(rejected) == 1, answers
        winner = assigned[0].assignee
        loser = "bob" if winner == "alice" else "alice"
        assert assigned[0].by == winner and rejected[0].by == loser
        assert rejected[0].why == f"already assigned to {winner}"
        await desk.settled()
        assert (await desk.state()).get(v).assignee == winner  # type: ignore[union-attr]
        subscribed = {
            uid: any(c.channel_id == v for c in await desk.rest.conversation_sync(uid, msg_count=1))
            for uid in (winner, loser)
        }
        assert subscribed == {winner: True, loser: False}
    finally:
        await desk.close()


async def test_take_over_stops_the_bot_and_hand_back_resumes_it(
    devserver_factory: Any, tmp_path: Path
) -> None:
    desk = await start_desk(devserver_factory, tmp_path)
    try:
        v = visitor()
        ask = {"type": 1, "content": FAQ_QUESTION}
        await desk.rest.message_send(v, 10, ask, from_uid=v)
        await desk.settled()
        assert len(await desk.bot_replies(v)) == 1
        alice, sam = await desk.client("alice"), await desk.client("sam")
        refused = await desk.answer(await desk.request(alice, "take_over", v))
        assert isinstance(refused, p.Rejected) and "supervisor" in refused.why
        await desk.answer(await desk.request(sam, "take_over", v))
        await desk.settled()
        conv = (await desk.state()).get(v)
        assert conv is not None and conv.mode == "human" and conv.assignee == "sam"
        await desk.rest.message_send(v, 10, ask, from_uid=v)
        await desk.settled()
        assert len(await desk.bot_replies(v)) == 1  # a person has it: the bot stays silent
        back = await desk.answer(await desk.request(sam, "hand_back", v))
        assert isinstance(back, p.ModeChanged) and back.mode == "ai"
        # a new question (the same one would not get the same answer twice: test_bot_conversation)
        await desk.rest.message_send(v, 10, {"type": 1, "content": "电子发票在哪下载"}, from_uid=v)
        await desk.settled()
        replies = await desk.bot_replies(v)
        assert (
            len(replies) == 2 and "发票" in json.loads(replies[1].payload)["content"]
        )  # the AI answers again
        conv = (await desk.state()).get(v)
        assert conv is not None and conv.mode == "ai" and conv.assignee is None
    finally:
        await desk.close()


async def test_requests_from_a_uid_not_on_the_roster_are_rejected(
    devserver_factory: Any, tmp_path: Path
) -> None:
    desk = await start_desk(devserver_factory, tmp_path)
    try:
        v = await _handed_over(desk)
        for kind in ("claim", "take_over", "resolve"):
            answer = await desk.answer(await desk.rest_request("mallory", kind, v))
            assert isinstance(answer, p.Rejected) and answer.by == "mallory"
            assert answer.why == "mallory is not on the desk roster" and answer.request_kind == kind
        await desk.settled()
        conv = (await desk.state()).get(v)
        assert conv is not None and conv.assignee is None and conv.status == "open"
    finally:
        await desk.close()


async def test_a_webhook_batch_delivered_twice_is_processed_once(
    devserver_factory: Any, tmp_path: Path
) -> None:
    bot = DeskBot(bot_config(tmp_path))
    await bot.listen()
    server = await devserver_factory()  # no webhooks: this test delivers them itself
    bot.config.api_url = server.api_url
    await bot.start()
    headers = {"token": DEVSERVER_MANAGER_TOKEN}
    try:
        async with httpx.AsyncClient(base_url=server.api_url, headers=headers) as api:
            v, w = visitor(), visitor()
            for who in (v, w):
                body = {
                    "from_uid": who,
                    "channel_id": who,
                    "channel_type": 10,
                    "payload": base64.b64encode(
                        json.dumps({"type": 1, "content": FAQ_QUESTION}).encode()
                    ).decode(),
                }
                assert (await api.post("/message/send", json=body)).status_code == 200

            async def raw(who: str) -> dict[str, Any]:
                page = await api.post(
                    "/channel/messagesync",
                    json={"login_uid": "x", "channel_id": who, "channel_type": 10, "limit": 10},
                )
                return dict(page.json()["messages"][0])

            first, second = await raw(v), await raw(w)
        async with httpx.AsyncClient() as hook:
            url = bot.webhook_url + "?event=msg.notify"
            r1 = await hook.post(url, json=[first])
            r2 = await hook.post(url, json=[first])
            r3 = await hook.post(url, json=[first, second])
        assert [r.status_code for r in (r1, r2, r3)] == [200, 200, 200]
        assert [r.json()["new"] for r in (r1, r2, r3)] == [1, 0, 1]
        await bot.wait_idle(WAIT)
        assert bot.router is not None
        assert bot.router.autopilot_answers == 2
        async with RestClient(server.api_url, manager_token=DEVSERVER_MANAGER_TOKEN) as rest:
            for who in (v, w):
                page = await rest.channel_messagesync("x", who, 10, limit=50)
                assert [m.from_uid for m in page.messages] == [who, "deskbot"]
            desk_log = await rest.channel_messagesync("x", "desk", 2, limit=50)
            opened = [p.parse_payload(m.payload) for m in desk_log.messages]
            assert sorted(f.channel for f in opened if isinstance(f, p.Opened)) == sorted([v, w])
    finally:
        await bot.stop()


async def test_faq_feed_and_health(devserver_factory: Any, tmp_path: Path) -> None:
    desk = await start_desk(devserver_factory, tmp_path)
    try:
        url = desk.bot.url
        async with httpx.AsyncClient() as http:
            full = await http.get(url + "/faq.jsonl")
            assert full.status_code == 200 and full.text.count("\n") == 160
            etag, seq = full.headers["ETag"], full.headers["X-Faq-Seq"]
            again = await http.get(url + "/faq.jsonl", headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b""
            newer = await http.get(url + "/faq.jsonl", params={"since": seq})
            assert newer.status_code == 200 and newer.text == "" and newer.headers["X-Faq-Since"] == seq
            bad = await http.get(url + "/faq.jsonl", params={"since": "-1"})
            assert bad.status_code == 400
            health = (await http.get(url + "/health")).json()
        assert health["status"] == "ok" and health["db_ok"] and health["wukongim_reachable"]
        assert health["queue_depth"] == 0 and health["ready"]

        def console_sync() -> tuple[int, bool]:
            with FaqStore.open(tmp_path / "console-faq.sqlite3") as store:
                first = sync(store, url + "/faq.jsonl")
                second = sync(store, url + "/faq.jsonl")
                return store.count(), second.not_modified and not first.not_modified

        assert await asyncio.to_thread(console_sync) == (160, True)
    finally:
        await desk.close()


async def test_escalate_transfer_resolve_and_invalid_requests(devserver_factory: Any, tmp_path: Path) -> None:
    desk = await start_desk(devserver_factory, tmp_path)
    try:
        v = await _handed_over(desk)
        alice, sam = await desk.client("alice"), await desk.client("sam")
        unknown = await desk.answer(await desk.request(alice, "claim", visitor()))
        assert isinstance(unknown, p.Rejected) and unknown.why.startswith("unknown conversation")
        assert isinstance(await desk.answer(await desk.request(alice, "claim", v)), p.Assigned)
        escalated = await desk.answer(
            await desk.request(alice, "escalate", v, urgency="urgent", reason="asks for a manager")
        )
        assert isinstance(escalated, p.Escalated) and escalated.urgency == "urgent"
        moved = await desk.answer(await desk.request(sam, "transfer", v, to="bob"))
        assert isinstance(moved, p.Assigned) and moved.assignee == "bob"
        refused = await desk.answer(await desk.request(alice, "resolve", v))
        assert isinstance(refused, p.Rejected) and refused.why == "only bob or a supervisor may resolve it"
        assert isinstance(await desk.answer(await desk.request(sam, "resolve", v)), p.Resolved)
        await desk.settled()
        conv = (await desk.state()).get(v)
        assert conv is not None and conv.status == "resolved" and conv.assignee == "bob"
        subscribed = {
            uid: any(c.channel_id == v for c in await desk.rest.conversation_sync(uid, msg_count=1))
            for uid in ("alice", "bob", "sam", "ada")
        }
        # alice (an agent) lost it on the transfer; the supervisors were subscribed by the escalation
        assert subscribed == {"alice": False, "bob": True, "sam": True, "ada": True}
        # the customer writes again: the conversation reopens and goes back to the people queue
        await desk.rest.message_send(v, 10, {"type": 1, "content": "还有一个问题"}, from_uid=v)
        await desk.settled()
        conv = (await desk.state()).get(v)
        assert conv is not None and conv.status == "open" and conv.mode == "assist"
    finally:
        await desk.close()


async def test_hostile_input_is_data(devserver_factory: Any, tmp_path: Path) -> None:
    desk = await start_desk(devserver_factory, tmp_path)
    try:
        async with httpx.AsyncClient() as hook:
            url = desk.bot.webhook_url
            assert (await hook.post(url + "?event=msg.notify", content=b"{not json")).status_code == 400
            assert (await hook.post(url + "?event=msg.notify", json={"a": 1})).status_code == 400
            odd = await hook.post(url + "?event=msg.notify", json=[{"no": "fields"}, 42, None])
            assert odd.status_code == 200 and odd.json()["new"] == 0
            status = await hook.post(url + "?event=user.onlinestatus", json=["alice-1-1-7-1-1"])
            assert status.status_code == 200
            assert (await hook.get(url)).status_code == 405
        v = visitor()
        claim = {"type": p.CONTENT_TYPE, "v": 1, "kind": "claim", "id": "0" * 32, "channel": v}
        # not JSON; a desk request typed by a customer in their own conversation; terminal escapes;
        # a visitor posting a request on the desk channel (REST skips permission checks)
        await desk.rest.message_send(v, 10, b"\xff\x00\x1b[2J not json", from_uid=v)
        await desk.rest.message_send(v, 10, claim, from_uid=v)
        await desk.rest.message_send(
            v, 10, {"type": 1, "content": "\x1b]52;c;aGk=\x07[bold]hi[/]"}, from_uid=v
        )
        rejected = await desk.answer(await desk.rest_request(v, "claim", v))
        assert isinstance(rejected, p.Rejected) and rejected.why == f"{v} is not on the desk roster"
        await desk.settled()
        conv = (await desk.state()).get(v)
        assert conv is not None and conv.assignee is None
        # the bot is still working: a plain question in a fresh conversation gets its answer
        w = visitor()
        await desk.rest.message_send(w, 10, {"type": 1, "content": FAQ_QUESTION}, from_uid=w)
        await desk.settled()
        assert len(await desk.bot_replies(w)) == 1
    finally:
        await desk.close()
