"""The desk bot against the devserver: autopilot answers, handovers, urgent escalations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botkit import BOT, FAQ_QUESTION, LEGAL_THREAT, WAIT, start_desk, text_of, visitor
from helpers_sdk import wkjs_dir

from agentdesk.desk import protocol as p
from agentdesk.wukongim.events import MessageReceived

__all__ = ["wkjs_dir"]


async def test_faq_question_in_ai_mode_gets_an_autopilot_answer(
    devserver_factory: Any, tmp_path: Path
) -> None:
    desk = await start_desk(devserver_factory, tmp_path)
    try:
        v = visitor()
        client = await desk.client(v)
        with client.subscribe() as events:
            assert (await client.send(v, 10, {"type": 1, "content": FAQ_QUESTION}, within=WAIT)).ok
            ev = await events.wait_for(
                lambda e: isinstance(e, MessageReceived) and e.message.from_uid == BOT, WAIT
            )
        assert isinstance(ev, MessageReceived)
        await desk.settled()
        replies = await desk.bot_replies(v)
        assert len(replies) == 1
        assert "99" in text_of(replies[0])  # the shipping FAQ: free from ¥99
        state = await desk.state()
        conv = state.get(v)
        assert conv is not None and conv.mode == "ai" and conv.waiting_since is None
        kinds = [f.kind for f in await desk.facts() if f.channel == v]
        assert kinds == ["opened"]
        # the bot subscribed itself to the new conversation, and is on the desk channel
        convs = {(c.channel_id, c.channel_type) for c in await desk.rest.conversation_sync(BOT, msg_count=1)}
        assert {(v, 10), ("desk", 2)} <= convs
    finally:
        await desk.close()


async def test_legal_threat_is_queued_urgent_never_answered(devserver_factory: Any, tmp_path: Path) -> None:
    desk = await start_desk(devserver_factory, tmp_path)
    try:
        v = visitor()
        client = await desk.client(v)
        with client.subscribe() as events:
            assert (await client.send(v, 10, {"type": 1, "content": LEGAL_THREAT}, within=WAIT)).ok
            ev = await events.wait_for(
                lambda e: isinstance(e, MessageReceived) and e.message.from_uid == BOT, WAIT
            )
            # a follow-up while waiting: still no answer, and no second handover message
            assert (await client.send(v, 10, {"type": 1, "content": "运费怎么算？"}, within=WAIT)).ok
        assert isinstance(ev, MessageReceived)
        await desk.settled()
        replies = await desk.bot_replies(v)
        assert len(replies) == 1, [text_of(r) for r in replies]
        assert "主管" in text_of(replies[0])  # the urgent handover, in the customer's language
        facts = [f for f in await desk.facts() if f.channel == v]
        queued = [f for f in facts if isinstance(f, p.Queued)]
        assert [q.urgency for q in queued] == ["urgent"]
        assert "legal" in queued[0].reason
        conv = (await desk.state()).get(v)
        assert conv is not None and conv.mode == "assist" and conv.urgency == "urgent"
        # supervisors (sam, and ada the admin) are subscribed to the conversation; agents are not
        for uid, expected in (("sam", True), ("ada", True), ("alice", False)):
            convs = await desk.rest.conversation_sync(uid, msg_count=1)
            assert any(c.channel_id == v and c.channel_type == 10 for c in convs) is expected, uid
    finally:
        await desk.close()


async def test_unconfident_question_is_handed_over_once_in_the_customer_language(
    devserver_factory: Any, tmp_path: Path
) -> None:
    desk = await start_desk(devserver_factory, tmp_path)
    try:
        v = visitor()
        await desk.rest.message_send(
            v, 10, {"type": 1, "content": "Can I speak to a human please?"}, from_uid=v
        )
        await desk.rest.message_send(v, 10, {"type": 1, "content": "hello??"}, from_uid=v)
        await desk.settled()
        replies = await desk.bot_replies(v)
        assert len(replies) == 1
        assert text_of(replies[0]).startswith("Thanks for your message")
        conv = (await desk.state()).get(v)
        assert conv is not None and conv.mode == "assist" and conv.waiting_since is not None
    finally:
        await desk.close()


async def test_assist_default_mode_never_answers(devserver_factory: Any, tmp_path: Path) -> None:
    desk = await start_desk(devserver_factory, tmp_path, default_mode="assist")
    try:
        v = visitor()
        await desk.rest.message_send(v, 10, {"type": 1, "content": FAQ_QUESTION}, from_uid=v)
        await desk.settled()
        assert await desk.bot_replies(v) == []
        conv = (await desk.state()).get(v)
        assert conv is not None and conv.mode == "assist" and conv.waiting_since is not None
        # a staff reply answers the waiting customer: the bot records it
        await desk.rest.message_send(v, 10, {"type": 1, "content": "您好，我来帮您看看"}, from_uid="alice")
        await desk.settled()
        assert [f.kind for f in await desk.facts() if f.channel == v][-1] == "responded"
    finally:
        await desk.close()


async def test_sdk_visitor_gets_an_autopilot_answer(
    devserver_factory: Any, tmp_path: Path, wkjs_dir: Path
) -> None:
    from helpers_sdk import SdkClient

    desk = await start_desk(devserver_factory, tmp_path)
    try:
        v = visitor("sdk")
        sdk = await SdkClient.start(wkjs_dir, desk.server.ws_url, v, "any-token")
        try:
            await sdk.connected(WAIT)
            sdk.send(v, 10, {"type": 1, "content": FAQ_QUESTION})
            events = await sdk.wait(
                lambda ev: any(e["event"] == "message" and e.get("from_uid") == BOT for e in ev), WAIT
            )
        finally:
            assert await sdk.finish(WAIT) == 0
        answer = next(e for e in events if e["event"] == "message" and e.get("from_uid") == BOT)
        assert answer["channel_id"] == v and answer["channel_type"] == 10
        assert "99" in answer["payload"]["content"]
        await desk.settled()
        assert len(await desk.bot_replies(v)) == 1
    finally:
        await desk.close()
