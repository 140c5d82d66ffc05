"""A simulated customer with REST access over a real devserver: its catch-up brings what was pushed
while it was away, but the channel's older history (a reused uid) is never taken for a reply."""

from __future__ import annotations

import asyncio

from agentdesk.sim.customer import Pace, SimCustomer
from agentdesk.sim.script import Script
from agentdesk.wukongim.packets import ChannelType
from agentdesk.wukongim.rest import RestClient
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN, DevServerFactory

VISITORS = int(ChannelType.VISITORS)
AGENT = "____system"  # the server shows it with an empty from_uid


async def test_older_history_is_not_a_reply_but_a_new_message_is(devserver_factory: DevServerFactory) -> None:
    server = await devserver_factory()
    rest = RestClient(server.api_url, manager_token=DEVSERVER_MANAGER_TOKEN)
    uid = "reused___vstr"
    try:
        # an earlier run left a conversation on this visitor channel
        for text in ("old answer 1", "old answer 2"):
            await rest.message_send(uid, VISITORS, {"type": 1, "content": text}, from_uid=AGENT)

        async def answer_the_question() -> None:
            while True:
                page = await rest.channel_messagesync(uid, uid, VISITORS, start_message_seq=3, limit=10)
                if any(m.from_uid == uid for m in page.messages):
                    await rest.message_send(
                        uid, VISITORS, {"type": 1, "content": "new answer"}, from_uid=AGENT
                    )
                    return
                await asyncio.sleep(0.05)

        agent = asyncio.create_task(answer_the_question())
        customer = SimCustomer(
            Script(id="c", customer_uid=uid, customer_name="", turns=["a question"]),
            uid,
            ws_url=server.ws_url,
            api_url=server.api_url,
            manager_token=DEVSERVER_MANAGER_TOKEN,
            pace=Pace(reply_timeout=10, connect_timeout=10, send_timeout=10),
        )
        result = await asyncio.wait_for(customer.run(), 30)
        await agent
        assert result.finished and result.sent == 1 and result.errors == [], result
        assert [r.text for r in result.received] == ["new answer"]
        assert result.received[0].message_seq == 4
    finally:
        await rest.aclose()
