"""`agentdesk.doctor.diagnose` in-process: against the devserver with the real desk bot, and against
nothing. Secrets come from a MemorySecretStore; they must never appear in the report."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from doctorkit import CHECK_NAMES, assert_json_shape, closed_port

from agentdesk.bot.config import BotConfig
from agentdesk.bot.service import DeskBot
from agentdesk.demo import seed_faq
from agentdesk.desk.rules import Roster
from agentdesk.devserver.server import DevServer
from agentdesk.doctor import diagnose
from agentdesk.secrets import MemorySecretStore
from agentdesk.sim.customer import Pace, SimCustomer
from agentdesk.sim.script import parse_scripts, visitor_uids
from agentdesk.wukongim.rest import RestClient
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN, DevServerFactory

IM_TOKEN = "doctor-im-token-5f1e"


@dataclass
class Desk:
    server: DevServer
    bot: DeskBot


@pytest.fixture
async def desk(devserver_factory: DevServerFactory, tmp_path: Path) -> AsyncIterator[Desk]:
    """The devserver with the real desk bot, which has opened one conversation (so the desk log has facts)."""
    roster = Roster.from_mapping({"users": {"alice": "agent", "sam": "supervisor"}})
    bot = DeskBot(
        BotConfig(
            api_url="",
            roster=roster,
            db_path=tmp_path / "bot.sqlite3",
            manager_token=DEVSERVER_MANAGER_TOKEN,
            listen_port=0,
        )
    )
    await bot.listen()
    server = await devserver_factory(webhook_url=bot.webhook_url)
    bot.config.api_url = server.api_url
    await bot.start()
    try:
        async with RestClient(server.api_url, manager_token=DEVSERVER_MANAGER_TOKEN) as rest:
            await rest.user_token("alice", IM_TOKEN)
        scripts, _ = parse_scripts(
            json.dumps({"id": "d1", "customer": {"uid": "c-1"}, "turns": ["怎么查物流？"]})
        )
        customer = SimCustomer(
            scripts[0], visitor_uids(scripts)[0], ws_url=server.ws_url, pace=Pace(reply_timeout=20)
        )
        result = await customer.run()
        assert result.errors == [] and result.received, result
        yield Desk(server, bot)
    finally:
        await bot.stop()


def _env(tmp_path: Path, server: str) -> dict[str, str]:
    return {
        "AGENTDESK_CONFIG": str(tmp_path / "no-config.toml"),
        "AGENTDESK_SERVER": server,
        "AGENTDESK_UID": "alice",
    }


def _store(
    *, im_token: str | None = IM_TOKEN, manager: str | None = DEVSERVER_MANAGER_TOKEN
) -> MemorySecretStore:
    store = MemorySecretStore()
    if im_token:
        store.set("default", "im_token", im_token)
    if manager:
        store.set("default", "manager_token", manager)
    return store


@pytest.fixture
def faq_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("AGENTDESK_DATA_DIR", str(data))
    seed_faq(data / "faq.sqlite")
    return data


async def test_everything_ok_against_devserver_and_bot(desk: Desk, tmp_path: Path, faq_data: Path) -> None:
    report = await diagnose(environ=_env(tmp_path, desk.server.api_url), secret_store=_store(), net_timeout=5)
    as_json = report.as_json()
    checks = assert_json_shape(as_json)
    assert list(checks) == CHECK_NAMES
    assert {n: c["status"] for n, c in checks.items()} == dict.fromkeys(CHECK_NAMES, "ok"), checks
    assert report.ok
    assert "im_token present" in checks["secrets"]["detail"]
    assert "model_key absent" in checks["secrets"]["detail"]
    assert "offline drafter" in checks["model"]["detail"]
    assert "160 entries" in checks["faq"]["detail"]
    text = json.dumps(as_json)
    assert IM_TOKEN not in text and DEVSERVER_MANAGER_TOKEN not in text


async def test_wrong_token_and_missing_manager_token(desk: Desk, tmp_path: Path, faq_data: Path) -> None:
    env = _env(tmp_path, desk.server.api_url)
    report = await diagnose(environ=env, secret_store=_store(im_token="not-the-token"), net_timeout=5)
    checks = assert_json_shape(report.as_json())
    assert not report.ok
    assert checks["websocket"]["status"] == "fail"
    assert "agentdesk login" in checks["websocket"]["fix"]
    assert "not-the-token" not in json.dumps(report.as_json())

    report = await diagnose(environ=env, secret_store=_store(manager=None), net_timeout=5)
    checks = assert_json_shape(report.as_json())
    assert checks["rest"]["status"] == "warn" and "manager token" in checks["rest"]["detail"]
    assert checks["desk"]["status"] == "warn"
    # the WebSocket address comes from the route API, which needs the manager token...
    assert checks["websocket"]["status"] == "fail" and "--ws" in checks["websocket"]["fix"]
    # ...so with `ws` configured the IM login works without it
    env["AGENTDESK_WS"] = desk.server.ws_url
    report = await diagnose(environ=env, secret_store=_store(manager=None), net_timeout=5)
    checks = assert_json_shape(report.as_json())
    assert checks["websocket"]["status"] == "ok" and report.ok


async def test_nothing_running(tmp_path: Path, faq_data: Path) -> None:
    env = _env(tmp_path, f"http://127.0.0.1:{closed_port()}")
    report = await diagnose(environ=env, secret_store=_store(), net_timeout=2)
    checks = assert_json_shape(report.as_json())
    assert not report.ok
    assert checks["rest"]["status"] == "fail" and "not reachable" in checks["rest"]["detail"]
    assert "agentdesk demo" in checks["rest"]["fix"]
    assert checks["websocket"]["status"] == "fail"
    assert checks["config"]["status"] == "ok" and checks["faq"]["status"] == "ok"


async def test_no_config_no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTDESK_DATA_DIR", str(tmp_path / "empty"))
    env = {"AGENTDESK_CONFIG": str(tmp_path / "no-config.toml")}
    report = await diagnose(environ=env, secret_store=MemorySecretStore(), net_timeout=2)
    checks = assert_json_shape(report.as_json())
    assert checks["config"]["status"] == "fail" and "agentdesk login" in checks["config"]["fix"]
    assert checks["secrets"]["status"] == "fail"
    assert checks["faq"]["status"] == "warn" and "faq import" in checks["faq"]["fix"]
    assert not report.ok
