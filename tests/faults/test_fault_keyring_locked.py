"""Fault (f): the OS keyring is locked (a real gnome-keyring on a private D-Bus whose collection was locked
and cannot be unlocked), while the server itself is fine.

`agentdesk doctor` must say exactly that (the secrets check fails with "locked" and a fix; the server checks
still pass), and `agentdesk bot --profile` must stop with a clear message instead of a traceback. No secret
that is in the environment may appear in any output."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from faultkit import WAIT, free_port

from agentdesk.devserver.server import DevServer
from keyring_ci import SecretServiceDaemon

PROFILE = "faults-locked"
#: a value that must never be printed
SENTINEL = "sentinel-model-key-4f1c9e"


def _env(base: dict[str, str], tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("AGENTDESK_")}
    env.update(
        AGENTDESK_CONFIG_DIR=str(tmp / "config"),
        AGENTDESK_DATA_DIR=str(tmp / "data"),
        AGENTDESK_PROFILE=PROFILE,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


async def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentdesk.cli",
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"agentdesk {args} did not end (safety limit)") from None
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_doctor_reports_a_locked_keyring(
    locked_secret_service: SecretServiceDaemon, devserver: DevServer, tmp_path: Path
) -> None:
    assert locked_secret_service.collection_locked()
    env = _env(
        locked_secret_service.env,
        tmp_path,
        AGENTDESK_SERVER=devserver.api_url,
        AGENTDESK_UID="alice",
        AGENTDESK_MODEL_KEY=SENTINEL,
    )
    code, out, err = await _run(["doctor", "--json"], env)
    assert code == 1, (out, err)
    report = json.loads(out)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["secrets"]["status"] == "fail", checks["secrets"]
    assert "locked" in checks["secrets"]["detail"], checks["secrets"]
    assert checks["secrets"]["fix"]
    assert checks["rest"]["status"] in ("ok", "warn"), checks["rest"]  # the server is not blamed
    assert checks["config"]["status"] == "ok", checks["config"]
    assert "Traceback" not in err
    assert SENTINEL not in out + err

    code, out, err = await _run(["doctor"], env)  # the human-readable form says it too
    assert code == 1
    assert "locked" in out + err
    assert "Traceback" not in err
    assert SENTINEL not in out + err


async def test_bot_with_a_profile_on_a_locked_keyring_stops_clearly(
    locked_secret_service: SecretServiceDaemon, devserver: DevServer, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.toml"
    roster.write_text('[users]\nalice = "agent"\n', "utf-8")
    env = _env(locked_secret_service.env, tmp_path, AGENTDESK_MODEL_KEY=SENTINEL)
    args = [
        "bot",
        "--api-url",
        devserver.api_url,
        "--listen",
        f"127.0.0.1:{free_port()}",
        "--roster",
        str(roster),
        "--db",
        str(tmp_path / "bot.sqlite3"),
        "--profile",
        PROFILE,
    ]
    code, out, err = await _run(args, env)
    assert code in (1, 2), (code, out, err)
    assert "locked" in err, err
    assert "manager_token" in err or "manager token" in err, err
    assert "Traceback" not in err
    assert SENTINEL not in out + err
