"""A client process for the kill test: queues replies in a durable outbox, connects, prints events.

    python helpers_outbox_proc.py --api URL --ws URL --uid U --token T --db PATH [--send PEER:TEXT ...]

stdout: JSON lines ``{"event":"queued","client_msg_no":…}``, ``{"event":"online"}``,
``{"event":"acked","client_msg_no":…,"via":…,"message_id":…}``, ``{"event":"drained"}`` (the outbox is
empty; the process then exits 0). The test SIGKILLs it at the moment it wants.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import ClientEvent, SendAcked
from agentdesk.wukongim.store import MessageStore


def out(obj: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def on_event(ev: ClientEvent) -> None:
    if isinstance(ev, SendAcked):
        r = ev.result
        out(
            {
                "event": "acked",
                "client_msg_no": r.client_msg_no,
                "via": r.via,
                "message_id": str(r.message_id),
            }
        )


async def run(args: argparse.Namespace) -> int:
    store = MessageStore.open(args.db)
    config = ClientConfig(
        uid=args.uid,
        token=args.token,
        api_url=args.api,
        ws_url=args.ws,
        manager_token=args.manager_token,
        ack_timeout=args.ack_timeout,
    )
    client = WuKongIMClient(config, store, on_event=on_event)
    for spec in args.send:
        peer, _, text = spec.partition(":")
        entry = await client.enqueue(peer, 1, {"type": 1, "content": text})
        out({"event": "queued", "client_msg_no": entry.client_msg_no})
    try:
        with client.subscribe() as events:
            await client.connect(within=20)
            out({"event": "online"})
            await client.wait_caught_up(within=30)
            async with asyncio.timeout(60):
                while await client.db.call(store.outbox_unacked):
                    await events.wait_for(lambda e: isinstance(e, SendAcked), within=60)
        out({"event": "drained"})
        return 0
    finally:
        await client.close()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--api", required=True)
    p.add_argument("--ws", required=True)
    p.add_argument("--uid", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--manager-token", default=None)
    p.add_argument("--db", required=True)
    p.add_argument("--ack-timeout", type=float, default=60.0)
    p.add_argument("--send", action="append", default=[])
    return asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
