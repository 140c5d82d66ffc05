"""`agentdesk devserver`: run the embedded WuKongIM-compatible server until SIGINT/SIGTERM.

stdout gets exactly one JSON line when both ports are bound (for scripts and tests):
    {"event":"ready","api_url":"http://127.0.0.1:5001","ws_url":"ws://127.0.0.1:5200","data_dir":"…","pid":123}
and one `{"event":"stopped"}` line after a clean stop. Human-readable lines go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentdesk.devserver.config import DevServerConfig

MANAGER_TOKEN_ENV = "AGENTDESK_MANAGER_TOKEN"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="agentdesk devserver",
        description="Run the embedded WuKongIM-compatible server (see docs/devserver.md). "
        f"The REST manager token is read from ${MANAGER_TOKEN_ENV}.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--api-port", type=int, default=5001, help="REST API port, 0 = any free port (default 5001)"
    )
    p.add_argument(
        "--ws-port", type=int, default=5200, help="WebSocket port, 0 = any free port (default 5200)"
    )
    p.add_argument(
        "--data", type=Path, default=None, help="data directory (default: a temp dir removed on exit)"
    )
    p.add_argument("--webhook", default=None, metavar="URL", help="POST msg.notify / user.onlinestatus here")
    p.add_argument(
        "--no-token-auth", action="store_true", help="accept any token (WuKongIM tokenAuthOn: false)"
    )
    p.add_argument(
        "--no-encryption", action="store_true", help="plaintext payloads (the JS SDK cannot connect)"
    )
    p.add_argument(
        "--auth-fail-connack",
        action="store_true",
        help="answer a bad token with CONNACK reason 2 (v1.x) instead of closing silently (v2.x)",
    )
    p.add_argument(
        "--recv-retry-interval", type=float, default=60.0, metavar="S", help="RECV retry interval (60)"
    )
    p.add_argument(
        "--idle-timeout", type=float, default=180.0, metavar="S", help="close idle connections (180)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.recv_retry_interval <= 0 or args.idle_timeout <= 0:
        print("agentdesk devserver: intervals must be positive", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from agentdesk.devserver.config import DevServerConfig

    token = os.environ.get(MANAGER_TOKEN_ENV) or None
    cfg = DevServerConfig(
        host=args.host,
        api_port=args.api_port,
        ws_port=args.ws_port,
        data_dir=args.data,
        webhook_url=args.webhook,
        manager_token=token,
        token_auth=not args.no_token_auth,
        encryption=not args.no_encryption,
        auth_fail_connack=args.auth_fail_connack,
        recv_retry_interval=args.recv_retry_interval,
        idle_timeout=args.idle_timeout,
    )
    try:
        return asyncio.run(_run(cfg))
    except OSError as exc:
        print(f"agentdesk devserver: cannot start: {exc}", file=sys.stderr)
        return 1


async def _run(cfg: DevServerConfig) -> int:
    from agentdesk.devserver.server import DevServer

    server = DevServer(cfg)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    err = sys.stderr
    print(f"agentdesk devserver: REST API  {server.api_url}", file=err)
    print(f"agentdesk devserver: WebSocket {server.ws_url}", file=err)
    print(
        f"agentdesk devserver: data      {server.data_dir}{'' if cfg.data_dir else ' (temporary)'}", file=err
    )
    if cfg.webhook_url:
        print(f"agentdesk devserver: webhooks  {cfg.webhook_url}", file=err)
    if not cfg.manager_token:
        print(
            f"agentdesk devserver: WARNING: ${MANAGER_TOKEN_ENV} is not set, the REST API needs no manager token",
            file=err,
        )
    if not cfg.token_auth:
        print("agentdesk devserver: WARNING: token auth is off, any token is accepted", file=err)
    ready = {
        "event": "ready",
        "api_url": server.api_url,
        "ws_url": server.ws_url,
        "data_dir": str(server.data_dir),
        "pid": os.getpid(),
    }
    print(json.dumps(ready), flush=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.stop()
    print(json.dumps({"event": "stopped"}), flush=True)
    print("agentdesk devserver: stopped", file=err)
    return 0
