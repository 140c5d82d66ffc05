"""`retry-reply` (ctrl+r, R): a reply the server refused (outbox state failed) is sent again under the same
client_msg_no; the command is hidden from the footer and the palette unless such a reply exists."""

from __future__ import annotations

from typing import Any

from consolekit import Desk, visitor
from textual.pilot import Pilot
from textual.widgets import TextArea
from tui_pilotkit import SIZE, console_app, until

from agentdesk.tui.screens.main import MainScreen
from agentdesk.tui.widgets.queue_list import QueueList
from agentdesk.tui.widgets.transcript import Transcript

VISITORS = 10


def footer_keys(screen: MainScreen) -> set[str]:
    return {
        binding.action
        for _, binding, enabled, _ in screen.active_bindings.values()
        if binding.show and enabled
    }


def mine(pilot: Pilot[Any]) -> list[tuple[str, str, str]]:
    items = pilot.app.screen.query_one(Transcript).items
    return [(i.text, i.status, i.client_msg_no) for i in items if i.role == "me"]


async def test_a_refused_reply_is_retried_with_the_same_client_msg_no(desk: Desk) -> None:
    await desk.add_staff("alice")
    cust = visitor("rita")
    await desk.open_visitor(cust)
    core = desk.core("alice")
    app = console_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: core.status().connection.state == "online")
        await desk.customer_says(cust, "Is anyone there?")
        queue = app.screen.query_one(QueueList)
        await until(pilot, lambda: [r.channel_id for r in queue.rows] == [cust])
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await until(pilot, lambda: screen.current == cust)
        assert screen.check_action("retry_reply", ()) is False
        assert "retry_reply" not in footer_keys(screen)

        # the server refuses alice's SEND while she is not a subscriber of the visitors channel
        await desk.rest.channel_subscriber_remove(cust, VISITORS, ["alice"])
        await pilot.press("r")
        await until(pilot, lambda: screen.focused is screen.query_one("#composer", TextArea))
        await pilot.press(*"yes, me", "ctrl+s")
        await until(pilot, lambda: [(t, s) for t, s, _ in mine(pilot)] == [("yes, me", "failed")])
        failed_cmn = mine(pilot)[0][2]
        assert failed_cmn and screen.failed_replies == (failed_cmn,)
        await until(pilot, lambda: "retry_reply" in footer_keys(screen))

        await desk.rest.channel_subscriber_add(cust, VISITORS, ["alice"])
        await pilot.press("ctrl+r")  # from the composer, where the footer shows it too
        await until(pilot, lambda: mine(pilot) == [("yes, me", "sent", failed_cmn)])
        await until(pilot, lambda: "retry_reply" not in footer_keys(screen))
        assert screen.failed_replies == ()

    page = await desk.rest.channel_messagesync(
        "alice", cust, VISITORS, start_message_seq=1, limit=50, pull_mode=1
    )
    stored = [m.client_msg_no for m in page.messages if m.from_uid == "alice"]
    assert stored == [failed_cmn]  # delivered once, under the refused reply's client_msg_no


async def test_retry_reply_refuses_what_is_not_a_refused_reply(desk: Desk) -> None:
    await desk.add_staff("alice")
    cust = visitor("sam")
    await desk.open_visitor(cust)
    core = desk.core("alice")
    app = console_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: core.status().connection.state == "online")
        cmn = await core.send_reply(cust, "hello")
        await until(pilot, lambda: core.status().outbox == 0)
        assert await core.retry_reply(cmn) is False  # delivered: nothing to retry
        assert await core.retry_reply("no-such-reply") is False
