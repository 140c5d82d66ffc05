"""`agentdesk im listen` / `agentdesk im send` as subprocesses against the devserver (or a real server)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from typing import Any

import pytest
from helpers_im import WAIT, ImServer, im_server, register, uid, ws_address
from helpers_wsfaults import WsProxy

__all__ = ["im_server"]

pytestmark = pytest.mark.realserver


def cli(srv: ImServer, *args: str) -> list[str]:
    cmd = [sys.executable, "-m", "agentdesk.cli", "im", args[0], "--server", srv.api_url, *args[1:]]
    return cmd


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("AGENTDESK_TOKEN", "AGENTDESK_MANAGER_TOKEN")}
    e.update(extra)
    return e


async def run(
    cmd: list[str], environ: dict[str, str]
) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environ
    )
    out, err = await asyncio.wait_for(proc.communicate(), WAIT * 2)
    assert proc.returncode is not None
    return proc.returncode, _lines(out), _lines(err)


def _lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


async def test_send_and_listen(im_server: ImServer) -> None:
    a, b = uid("alice"), uid("bob")
    ta, tb = await register(im_server, a), await register(im_server, b)
    mt = im_server.manager_token or ""
    listen = await asyncio.create_subprocess_exec(
        *cli(im_server, "listen", "--uid", b, "--count", "3"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env(AGENTDESK_TOKEN=tb, AGENTDESK_MANAGER_TOKEN=mt),
    )
    assert listen.stderr is not None and listen.stdout is not None
    async with asyncio.timeout(WAIT):
        while True:
            line = await listen.stderr.readline()
            assert line, "im listen exited before it was online"
            if json.loads(line).get("state") == "online":
                break

    code, out, _ = await run(
        cli(
            im_server,
            "send",
            "--uid",
            a,
            "--token",
            ta,
            "--channel",
            b,
            "--channel-type",
            "1",
            "--text",
            "你好",
        ),
        env(AGENTDESK_MANAGER_TOKEN=mt),
    )
    assert code == 0
    (ack,) = out
    assert ack["event"] == "sendack" and ack["reason_code"] == 1
    assert isinstance(ack["message_id"], str) and int(ack["message_id"]) > 0 and ack["message_seq"] >= 1

    payload = {"type": 1, "content": "x" * 10, "extra": {"k": [1, 2]}}
    code, out2, _ = await run(
        cli(
            im_server, "send", "--uid", a, "--channel", b, "--channel-type", "1", "--payload", json.dumps(payload),
            "--client-msg-no", f"fixed-{a}",
        ),
        env(AGENTDESK_TOKEN=ta, AGENTDESK_MANAGER_TOKEN=mt),
    )  # fmt: skip
    assert code == 0 and out2[0]["client_msg_no"] == f"fixed-{a}"
    # a payload that is not JSON (sent by a backend over REST)
    await im_server.rest().message_send(b, 1, b"\xff\x00 not json", from_uid=a)

    out3, _ = await asyncio.wait_for(listen.communicate(), WAIT)
    assert listen.returncode == 0
    msgs = _lines(out3)
    assert [m["event"] for m in msgs] == ["message"] * 3
    first, second, third = msgs
    assert first == {
        "event": "message",
        "channel_id": a,
        "channel_type": 1,
        "from_uid": a,
        "message_id": ack["message_id"],
        "message_seq": ack["message_seq"],
        "client_msg_no": ack["client_msg_no"],
        "timestamp": first["timestamp"],
        "payload": {"type": 1, "content": "你好"},
    }
    assert second["payload"] == payload and second["client_msg_no"] == f"fixed-{a}"
    assert third["payload"] == {"_raw_base64": base64.b64encode(b"\xff\x00 not json").decode()}


async def test_errors_are_json_on_stderr_with_distinct_exit_codes(im_server: ImServer) -> None:
    a = uid("alice")
    await register(im_server, a)
    mt = env(AGENTDESK_MANAGER_TOKEN=im_server.manager_token or "")
    code, out, err = await run(
        cli(
            im_server,
            "send",
            "--uid",
            a,
            "--token",
            "wrong",
            "--channel",
            "x",
            "--channel-type",
            "1",
            "--text",
            "t",
        ),
        mt,
    )
    assert (code, out) == (3, [])
    assert err[-1]["event"] == "error" and err[-1]["error"] == "auth_failed"
    assert "bad uid/token" in err[-1]["message"]

    code, out, err = await run(
        [
            sys.executable,
            "-m",
            "agentdesk.cli",
            "im",
            "send",
            "--server",
            "http://127.0.0.1:9",
            "--ws",
            "ws://127.0.0.1:9",
            "--uid",
            a,
            "--token",
            "t",
            "--channel",
            "x",
            "--channel-type",
            "1",
            "--text",
            "t",
        ],
        mt,
    )
    assert (code, out) == (5, [])
    assert err[-1]["error"] == "unreachable"

    code, out, err = await run(
        cli(im_server, "send", "--uid", a, "--channel", "x", "--channel-type", "1", "--text", "t"), mt
    )
    assert code == 2 and "AGENTDESK_TOKEN" in err[-1]["message"]


async def test_send_rejected_by_the_server_exits_non_zero(im_server: ImServer) -> None:
    a = uid("alice")
    group = uid("grp")
    token = await register(im_server, a)
    await im_server.rest().channel_create(group, 2, [uid("other")])
    code, out, _ = await run(
        cli(
            im_server,
            "send",
            "--uid",
            a,
            "--token",
            token,
            "--channel",
            group,
            "--channel-type",
            "2",
            "--text",
            "t",
        ),
        env(AGENTDESK_MANAGER_TOKEN=im_server.manager_token or ""),
    )
    assert code == 7
    assert out[0]["event"] == "sendack" and out[0]["reason_code"] not in (0, 1)


async def test_listen_prints_what_it_missed_during_a_reconnect(im_server: ImServer) -> None:
    a, b = uid("alice"), uid("bob")
    tb = await register(im_server, b)
    rest = im_server.rest()
    # history from before `im listen` started is not printed (temporary store)
    await rest.message_send(b, 1, {"type": 1, "content": "old"}, from_uid=a)
    # server timestamps are whole seconds: start listening in a later second than "old"
    await asyncio.sleep(1.05)
    proxy = WsProxy(await ws_address(im_server))
    await proxy.start()
    listen = await asyncio.create_subprocess_exec(
        *cli(im_server, "listen", "--uid", b, "--ws", proxy.url, "--count", "2"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env(AGENTDESK_TOKEN=tb, AGENTDESK_MANAGER_TOKEN=im_server.manager_token or ""),
    )
    assert listen.stderr is not None
    try:

        async def state(want: str) -> None:
            assert listen.stderr is not None
            async with asyncio.timeout(WAIT):
                while True:
                    line = await listen.stderr.readline()
                    assert line, "im listen exited early"
                    if json.loads(line).get("state") == want:
                        return

        await state("online")
        proxy.stall.clear()
        proxy.drop_all()
        await state("reconnecting")
        proxy.stall.set()
        await rest.message_send(b, 1, {"type": 1, "content": "while away"}, from_uid=a)
        await state("online")
        await rest.message_send(b, 1, {"type": 1, "content": "live"}, from_uid=a)
        out, _ = await asyncio.wait_for(listen.communicate(), WAIT)
        assert listen.returncode == 0
        assert sorted(m["payload"]["content"] for m in _lines(out)) == ["live", "while away"]
    finally:
        if listen.returncode is None:
            listen.kill()
            await listen.wait()
        await proxy.stop()
