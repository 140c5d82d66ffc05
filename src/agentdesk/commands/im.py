"""`agentdesk im listen` / `agentdesk im send`: WuKongIM admin tools with a stable JSON-lines interface.

stdout carries only the documented objects (one per line):

* listen: ``{"event":"message","channel_id":…,"channel_type":…,"from_uid":…,"message_id":"<string>",
  "message_seq":…,"client_msg_no":…,"timestamp":…,"payload":{…}}`` — payload is the parsed JSON
  object, or ``{"_raw_base64":"…"}`` when it is not a JSON object.
* send: ``{"event":"sendack","reason_code":…,"message_id":"…","message_seq":…,"client_msg_no":"…"}``;
  exit 0 only when reason_code is 1.

stderr: connection states as ``{"event":"status","state":…}`` lines and failures as one
``{"event":"error","error":<kind>,"message":…}`` line. Exit codes: 0 ok, 1 other error, 2 usage,
3 auth_failed, 4 kicked, 5 unreachable, 6 timeout, 7 send rejected (reason ≠ 1).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import (
    AuthFailed,
    ClientEvent,
    Kicked,
    MessageReceived,
    SendTimeout,
    ServerUnreachable,
    StateChanged,
)
from agentdesk.wukongim.rest import RestError
from agentdesk.wukongim.store import MessageStore, StoredMessage

EXIT_OTHER, EXIT_USAGE, EXIT_AUTH, EXIT_KICKED, EXIT_UNREACHABLE, EXIT_TIMEOUT, EXIT_REJECTED = (
    1,
    2,
    3,
    4,
    5,
    6,
    7,
)


def _out(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _err(obj: dict[str, Any]) -> None:
    sys.stderr.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stderr.flush()


def message_json(m: StoredMessage) -> dict[str, Any]:
    """The `im listen` line for one message."""
    payload: Any
    try:
        payload = json.loads(m.payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        payload = None
    if not isinstance(payload, dict):
        payload = {"_raw_base64": base64.b64encode(m.payload).decode("ascii")}
    return {
        "event": "message",
        "channel_id": m.channel_id,
        "channel_type": m.channel_type,
        "from_uid": m.from_uid,
        "message_id": str(m.message_id),
        "message_seq": m.message_seq,
        "client_msg_no": m.client_msg_no,
        "timestamp": m.timestamp,
        "payload": payload,
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agentdesk im", description="Low-level WuKongIM tools (JSON lines).")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, help_ in (("listen", "print every received message"), ("send", "send one message")):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--server", required=True, help="REST API base URL, e.g. http://127.0.0.1:5001")
        sp.add_argument("--ws", default=None, help="WebSocket URL (default: ask the server's /route)")
        sp.add_argument("--uid", required=True)
        sp.add_argument("--token", default=None, help="IM token (default: env AGENTDESK_TOKEN)")
        sp.add_argument(
            "--manager-token", default=None, help="REST manager token (default: env AGENTDESK_MANAGER_TOKEN)"
        )
        sp.add_argument("--device-flag", type=int, default=1, help="0 app, 1 web (default), 2 pc")
        sp.add_argument(
            "--db", type=Path, default=None, help="message store + outbox file (default: temporary)"
        )
        sp.add_argument("--connect-timeout", type=float, default=10.0)
    ls = sub.choices["listen"]
    ls.add_argument(
        "--count", type=int, default=0, help="exit 0 after this many messages (0: run until killed)"
    )
    sd = sub.choices["send"]
    sd.add_argument("--channel", required=True)
    sd.add_argument("--channel-type", type=int, required=True)
    what = sd.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help='sent as {"type":1,"content":TEXT}')
    what.add_argument("--payload", help="a JSON object, sent as is")
    sd.add_argument("--client-msg-no", default="", help="default: a fresh random one")
    sd.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the SENDACK")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    token = args.token if args.token is not None else os.environ.get("AGENTDESK_TOKEN", "")
    if not token:
        _err({"event": "error", "error": "usage", "message": "no token: pass --token or set AGENTDESK_TOKEN"})
        return EXIT_USAGE
    manager = args.manager_token or os.environ.get("AGENTDESK_MANAGER_TOKEN") or None
    payload: dict[str, Any] | None = None
    if args.cmd == "send":
        if args.text is not None:
            payload = {"type": 1, "content": args.text}
        else:
            try:
                loaded = json.loads(args.payload)
            except ValueError as exc:
                _err({"event": "error", "error": "usage", "message": f"--payload is not JSON: {exc}"})
                return EXIT_USAGE
            if not isinstance(loaded, dict):
                _err({"event": "error", "error": "usage", "message": "--payload must be a JSON object"})
                return EXIT_USAGE
            payload = loaded
    config = ClientConfig(
        uid=args.uid,
        token=token,
        api_url=args.server,
        ws_url=args.ws,
        manager_token=manager,
        device_flag=args.device_flag,
    )
    with contextlib.ExitStack() as stack:
        given: Path | None = args.db
        db_path = (
            given
            or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="agentdesk-im-"))) / "im.sqlite"
        )
        store = MessageStore.open(db_path)
        stack.callback(store.close)
        if store.moved_aside is not None:
            _err({"event": "warning", "message": f"unreadable store moved aside to {store.moved_aside}"})
        try:
            if args.cmd == "listen":
                return asyncio.run(
                    _listen(config, store, args.count, args.connect_timeout, fresh=args.db is None)
                )
            assert payload is not None
            return asyncio.run(_send(config, store, args, payload))
        except KeyboardInterrupt:
            return 130


def _on_event(ev: ClientEvent) -> None:
    if isinstance(ev, StateChanged):
        line: dict[str, Any] = {"event": "status", "state": ev.state.value}
        if ev.retry_in is not None:
            line["retry_in"] = round(ev.retry_in, 3)
        if ev.error:
            line["error"] = ev.error
        _err(line)


def _fail(exc: BaseException) -> int:
    kinds: list[tuple[type[BaseException], str, int]] = [
        (AuthFailed, "auth_failed", EXIT_AUTH),
        (Kicked, "kicked", EXIT_KICKED),
        (ServerUnreachable, "unreachable", EXIT_UNREACHABLE),
        (SendTimeout, "timeout", EXIT_TIMEOUT),
        (RestError, "rest", EXIT_OTHER),
    ]
    for cls, kind, code in kinds:
        if isinstance(exc, cls):
            _err({"event": "error", "error": kind, "message": str(exc)})
            return code
    _err({"event": "error", "error": "internal", "message": f"{type(exc).__name__}: {exc}"})
    return EXIT_OTHER


async def _listen(
    config: ClientConfig, store: MessageStore, count: int, connect_timeout: float, *, fresh: bool
) -> int:
    client = WuKongIMClient(config, store, on_event=_on_event)
    started = time.time()
    printed = 0
    try:
        with client.subscribe() as events:
            await client.connect(within=connect_timeout)
            # a temporary store knows no history: print what arrives from now on (REST catch-up
            # after a reconnect included); a --db store prints everything it has not seen before
            # (server timestamps are whole seconds: a message sent in the same second just before
            # the start is printed too)
            since = math.floor(started + client.time_diff_ms / 1000) if fresh else 0
            while True:
                ev = await events.next()
                if isinstance(ev, StateChanged) and ev.state.value in ("auth_failed", "kicked"):
                    raise client.last_error or AuthFailed(ev.error)
                if isinstance(ev, MessageReceived) and (ev.live or ev.message.timestamp >= since):
                    _out(message_json(ev.message))
                    printed += 1
                    if count and printed >= count:
                        return 0
    except Exception as exc:
        await client.close()
        return _fail(exc)  # the error is the last line on stderr
    finally:
        await client.close()


async def _send(
    config: ClientConfig, store: MessageStore, args: argparse.Namespace, payload: dict[str, Any]
) -> int:
    client = WuKongIMClient(config, store, on_event=_on_event)
    try:
        await client.connect(within=args.connect_timeout)
        result = await client.send(
            args.channel, args.channel_type, payload, client_msg_no=args.client_msg_no, within=args.timeout
        )
    except Exception as exc:
        await client.close()
        return _fail(exc)  # the error is the last line on stderr
    await client.close()
    _out(
        {
            "event": "sendack",
            "reason_code": result.reason_code,
            "message_id": str(result.message_id),
            "message_seq": result.message_seq,
            "client_msg_no": result.client_msg_no,
        }
    )
    return 0 if result.ok else EXIT_REJECTED
