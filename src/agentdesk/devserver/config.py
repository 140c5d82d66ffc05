"""Settings of the embedded server; every knob the tests and the CLI need, with WuKongIM's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(slots=True)
class DevServerConfig:
    host: str = "127.0.0.1"
    #: 0 = any free port (the bound port is in DevServer.api_url / ws_url after start())
    api_port: int = 5001
    ws_port: int = 5200
    #: directory holding devserver.sqlite3; None = a temporary directory removed by stop()
    data_dir: Path | None = None
    #: POST target for msg.notify / user.onlinestatus; None = no webhooks
    webhook_url: str | None = None
    #: when set, every REST call except GET /health needs the header `token: <manager_token>`
    manager_token: str | None = None
    token_auth: bool = True
    encryption: bool = True
    #: False = WuKongIM v2.x behaviour on a bad token (no CONNACK, close); True = CONNACK reason 2, close
    auth_fail_connack: bool = False
    recv_retry_interval: float = 60.0
    recv_retry_max: int = 5
    #: close a connection that sent no bytes for this long (WuKongIM connIdleTime)
    idle_timeout: float = 180.0
    connect_timeout: float = 4.0
    #: DISCONNECT-then-close delays (§g.5: 2 s on CONNECT kicks, 10 s after /user/token)
    kick_close_delay: float = 2.0
    token_kick_close_delay: float = 10.0
    webhook_push_interval: float = 0.5
    webhook_batch: int = 100
    webhook_max_failures: int = 5
    #: first retry delay after a failed push; doubles per failure (capped at 30 s)
    webhook_retry_base: float = 1.0
    webhook_timeout: float = 10.0
    system_uid: str = "____system"
    manager_uid: str = "____manager"
    visitor_suffix: str = "___vstr"
    node_id: int = 1
    #: outbound packets queued for one connection before it is closed as too slow
    max_outbound_queue: int = 20_000
    #: unacked RECVs kept per connection for retry (oldest dropped beyond this)
    max_pending_recv: int = 10_000
    #: largest HTTP request body accepted by the REST API
    max_http_body: int = 8 * 1024 * 1024
