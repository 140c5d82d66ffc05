"""`agentdesk doctor` as a subprocess with the real keyring (a private gnome-keyring, `secret_service`):
ok against a running devserver, exit 1 with each problem and its fix against nothing."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from doctorkit import CHECK_NAMES, assert_json_shape, closed_port

from agentdesk.devserver.server import DevServer
from agentdesk.secrets import KeyringSecretStore
from agentdesk.wukongim.rest import RestClient
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN
from keyring_ci import SecretServiceDaemon

PROFILE = "doctor-cli"
IM_TOKEN = "doctor-cli-im-token-93ab"
#: a safety net so a hung doctor cannot hang the suite (not a performance assertion)
RUN_LIMIT_S = 60.0


@pytest.fixture
def keyring_profile(secret_service: SecretServiceDaemon) -> Iterator[dict[str, str]]:
    store = KeyringSecretStore()
    store.set(PROFILE, "im_token", IM_TOKEN)
    store.set(PROFILE, "manager_token", DEVSERVER_MANAGER_TOKEN)
    try:
        yield secret_service.env
    finally:
        for name in ("im_token", "manager_token"):
            store.delete(PROFILE, name)


async def _doctor(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentdesk.cli",
        "doctor",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), RUN_LIMIT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"agentdesk doctor {args} did not end within {RUN_LIMIT_S} s") from None
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _env(base: dict[str, str], tmp_path: Path, server: str) -> dict[str, str]:
    env = dict(base)
    for key in list(env):
        if key.startswith("AGENTDESK_"):
            del env[key]
    env.update(
        AGENTDESK_CONFIG_DIR=str(tmp_path / "config"),
        AGENTDESK_DATA_DIR=str(tmp_path / "data"),
        AGENTDESK_PROFILE=PROFILE,
        AGENTDESK_SERVER=server,
        AGENTDESK_UID="alice",
    )
    return env


async def test_doctor_ok_against_devserver(
    devserver: DevServer, keyring_profile: dict[str, str], tmp_path: Path
) -> None:
    async with RestClient(devserver.api_url, manager_token=DEVSERVER_MANAGER_TOKEN) as rest:
        await rest.user_token("alice", IM_TOKEN)
    # the profile lives in config.toml, as `agentdesk login` writes it; only the directories come from env
    env = _env(keyring_profile, tmp_path, devserver.api_url)
    for key in ("AGENTDESK_PROFILE", "AGENTDESK_SERVER", "AGENTDESK_UID"):
        del env[key]
    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        f'default_profile = "{PROFILE}"\n\n[profiles.{PROFILE}]\nserver = "{devserver.api_url}"\nuid = "alice"\n',
        encoding="utf-8",
    )
    code, out, err = await _doctor(["--json"], env)
    assert code == 0, out + err
    checks = assert_json_shape(json.loads(out))
    assert list(checks) == CHECK_NAMES
    for name in ("config", "keyring", "secrets", "rest", "websocket", "model"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "SecretService" in checks["keyring"]["detail"]
    assert f"profile '{PROFILE}' from {config}" in checks["config"]["detail"]
    # no bot and no FAQ cache yet: working, with warnings that say what to do
    assert checks["desk"]["status"] == "warn" and "agentdesk bot" in checks["desk"]["fix"]
    assert checks["faq"]["status"] == "warn"
    code, text, err = await _doctor([], env)
    assert code == 0 and "ready, with 2 warning(s)" in text, text + err
    for output in (out, text, err):
        assert IM_TOKEN not in output and DEVSERVER_MANAGER_TOKEN not in output


async def test_doctor_against_nothing(keyring_profile: dict[str, str], tmp_path: Path) -> None:
    env = _env(keyring_profile, tmp_path, f"http://127.0.0.1:{closed_port()}")
    code, out, err = await _doctor(["--json", "--timeout", "2"], env)
    assert code == 1, out + err
    obj = json.loads(out)
    checks = assert_json_shape(obj)
    assert obj["ok"] is False
    assert checks["rest"]["status"] == "fail" and checks["websocket"]["status"] == "fail"
    code, text, _ = await _doctor(["--timeout", "2"], env)
    assert code == 1
    assert "FAIL  rest:" in text and "FAIL  websocket:" in text
    assert text.count("fix:") >= 2 and "problem(s) to fix: rest, websocket" in text
    assert IM_TOKEN not in out + text
