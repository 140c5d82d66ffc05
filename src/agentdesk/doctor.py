"""`agentdesk doctor`'s checks, as data: each one is ok / warn / fail with a detail and a fix.

    report = await diagnose({"profile": "work"})           # or secret_store=MemorySecretStore() in tests
    report.ok, report.checks, report.as_json()

`fail` means something the console needs is broken (the command exits 1); `warn` means it works in a
reduced way (no desk bot yet, the offline drafter instead of the model, no FAQ cache). Secret values are
never read into a message: the checks only say whether each secret is present.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from agentdesk import paths
from agentdesk.config import ConfigError, Settings, load_settings
from agentdesk.secrets import (
    SECRET_NAMES,
    NoKeyringError,
    SecretStore,
    SecretStoreError,
    open_secret_store,
)

Status = Literal["ok", "warn", "fail"]

#: FAQ cache older than this is reported (warn)
FAQ_STALE_DAYS: Final = 30
DEFAULT_TIMEOUT: Final = 5.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass(slots=True)
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def add(self, name: str, status: Status, detail: str, fix: str = "") -> Check:
        check = Check(name, status, detail, fix)
        self.checks.append(check)
        return check

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}


@dataclass(slots=True)
class _Ctx:
    settings: Settings | None = None
    store: SecretStore | None = None
    secrets: dict[str, bool] = field(default_factory=dict)
    im_token: str | None = None
    manager_token: str | None = None
    model_key: str | None = None
    rest_ok: bool = False
    rest_authorized: bool = False


async def diagnose(
    overrides: Mapping[str, object | None] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    secret_store: SecretStore | None = None,
    net_timeout: float = DEFAULT_TIMEOUT,
) -> Report:
    """Run every check. `overrides` are the command-line settings (as for `load_settings`);
    `secret_store` replaces the configured store (tests). Never raises for a broken setup."""
    report = Report()
    ctx = _Ctx()
    _check_config(report, ctx, overrides, environ)
    _check_secrets(report, ctx, secret_store)
    await _check_rest(report, ctx, net_timeout)
    await _check_websocket(report, ctx, net_timeout)
    await _check_desk(report, ctx, net_timeout)
    await _check_model(report, ctx, net_timeout)
    await asyncio.to_thread(_check_faq, report)
    return report


# -- configuration and secrets ---------------------------------------------------------------------


def _check_config(
    report: Report,
    ctx: _Ctx,
    overrides: Mapping[str, object | None] | None,
    environ: Mapping[str, str] | None,
) -> None:
    try:
        settings = load_settings(overrides, environ=environ)
    except ConfigError as exc:
        report.add(
            "config",
            "fail",
            "; ".join(exc.problems),
            "correct each value as the message says (docs/configuration.md), or re-run `agentdesk login`",
        )
        return
    ctx.settings = settings
    prof = settings.profile
    where = (
        str(settings.config_path) if settings.config_path.exists() else f"{settings.config_path} (no file)"
    )
    missing = [k for k in ("server", "uid") if not getattr(prof, k)]
    if missing:
        report.add(
            "config",
            "fail",
            f"profile {prof.name!r} from {where} has no {' and no '.join(missing)}",
            f"run `agentdesk login --profile {prof.name} --server URL --uid UID`, "
            f"or try everything locally with `agentdesk demo`",
        )
        return
    report.add(
        "config", "ok", f"profile {prof.name!r} from {where}: {prof.uid} ({prof.role}) on {prof.server}"
    )


def _check_secrets(report: Report, ctx: _Ctx, given: SecretStore | None) -> None:
    settings = ctx.settings
    profile = settings.profile_name if settings is not None else "default"
    try:
        store = given or open_secret_store(
            settings.secret_store if settings is not None else "keyring", warn=False
        )
    except NoKeyringError as exc:
        first = str(exc).splitlines()[0]
        report.add(
            "keyring",
            "fail",
            first,
            "install and unlock a keyring (see `agentdesk login` and docs/configuration.md, 'The keyring')",
        )
        return
    except SecretStoreError as exc:
        report.add("keyring", "fail", str(exc), "see docs/configuration.md, 'The keyring'")
        return
    ctx.store = store
    description = getattr(store, "description", type(store).__name__)
    if getattr(store, "warning", None):
        report.add(
            "keyring",
            "warn",
            f"secrets are kept in {description}",
            "prefer the OS keyring: `agentdesk login` without --insecure-file-store",
        )
    else:
        report.add("keyring", "ok", f"secrets are kept in {description}")
    values: dict[str, str | None] = {}
    for name in SECRET_NAMES:
        try:
            values[name] = store.get(profile, name)
        except SecretStoreError as exc:
            report.add("secrets", "fail", str(exc), "unlock the keyring and run `agentdesk doctor` again")
            return
    ctx.secrets = {name: bool(v) for name, v in values.items()}
    ctx.im_token, ctx.manager_token, ctx.model_key = (
        values["im_token"],
        values["manager_token"],
        values["model_key"],
    )
    listed = ", ".join(f"{name} {'present' if ok else 'absent'}" for name, ok in ctx.secrets.items())
    if not ctx.im_token:
        report.add(
            "secrets",
            "fail",
            f"profile {profile!r}: {listed}; the console needs the IM token",
            f"run `agentdesk login --profile {profile}` and give the IM token",
        )
    else:
        report.add("secrets", "ok", f"profile {profile!r}: {listed}")


# -- the server ------------------------------------------------------------------------------------


async def _check_rest(report: Report, ctx: _Ctx, net_timeout: float) -> None:
    from agentdesk.wukongim.rest import RestClient, RestError, Timeouts, Unauthorized

    settings = ctx.settings
    if settings is None or not settings.profile.server:
        report.add("rest", "warn", "not checked: no server configured", "fix the configuration first")
        return
    server = settings.profile.server
    t = Timeouts(connect=net_timeout, read=net_timeout, write=net_timeout, pool=net_timeout)
    async with RestClient(server, manager_token=ctx.manager_token, timeout=t) as rest:
        try:
            healthy = await rest.health()
        except RestError as exc:
            report.add(
                "rest",
                "fail",
                f"{server} is not reachable: {exc}",
                f"start WuKongIM at {server} or correct `server` (agentdesk login --profile "
                f"{settings.profile_name} --server URL); to try agentdesk without a server: `agentdesk demo`",
            )
            return
        ctx.rest_ok = True
        try:
            await rest.route()
        except Unauthorized:
            if ctx.manager_token:
                report.add(
                    "rest",
                    "fail",
                    f"{server} answers but refuses the saved manager token (HTTP 401)",
                    f"save the server's current manager token: `agentdesk login --profile {settings.profile_name}`",
                )
            else:
                report.add(
                    "rest",
                    "warn",
                    f"{server} answers but its REST API needs a manager token, and none is saved: "
                    "history catch-up and the desk log cannot be read",
                    f"`AGENTDESK_MANAGER_TOKEN=… agentdesk login --profile {settings.profile_name} --non-interactive`"
                    " (or ask your WuKongIM admin)",
                )
            return
        except RestError as exc:
            report.add("rest", "fail", f"{server}: {exc}", "check that `server` is WuKongIM's REST API URL")
            return
        ctx.rest_authorized = True
        state = "healthy" if healthy else "reachable (health check not ok)"
        auth = "manager token accepted" if ctx.manager_token else "no manager token needed"
        report.add("rest", "ok" if healthy else "warn", f"{server} is {state}; {auth}")


async def _check_websocket(report: Report, ctx: _Ctx, net_timeout: float) -> None:
    settings = ctx.settings
    if settings is None or not settings.profile.uid or not settings.profile.server:
        report.add(
            "websocket", "warn", "not checked: no server or uid configured", "fix the configuration first"
        )
        return
    if not ctx.im_token:
        report.add(
            "websocket",
            "warn",
            "not checked: no IM token",
            "see the 'secrets' check" if ctx.store is not None else "see the 'keyring' check",
        )
        return
    if not ctx.rest_authorized and not settings.profile.ws:
        name = settings.profile_name
        if ctx.rest_ok:
            report.add(
                "websocket",
                "fail",
                "cannot find the WebSocket address: the server's route API needs the manager token",
                f"set the address: `agentdesk login --profile {name} --ws ws://HOST:PORT`, or save the "
                "manager token (see the 'rest' check)",
            )
        else:
            report.add(
                "websocket",
                "fail",
                "not checked: the WebSocket address comes from the REST API, which is down",
                "see the 'rest' check",
            )
        return
    from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
    from agentdesk.wukongim.events import AuthFailed, ClientError, Kicked
    from agentdesk.wukongim.store import MessageStore

    prof = settings.profile
    store = MessageStore.open(":memory:")
    client = WuKongIMClient(
        ClientConfig(
            uid=prof.uid or "",
            token=ctx.im_token,
            api_url=prof.server if ctx.rest_authorized else None,
            ws_url=prof.ws,
            manager_token=ctx.manager_token,
            open_timeout=net_timeout,
            connack_timeout=net_timeout,
        ),
        store,
    )
    try:
        started = time.monotonic()
        await client.connect(within=net_timeout * 2)
        took = time.monotonic() - started
        report.add("websocket", "ok", f"logged in as {prof.uid} ({took * 1000:.0f} ms)")
    except AuthFailed as exc:
        report.add(
            "websocket",
            "fail",
            f"the server refused {prof.uid}'s login: {exc}",
            f"get a new IM token and save it: `agentdesk login --profile {settings.profile_name}`",
        )
    except Kicked as exc:
        report.add("websocket", "fail", f"the server kicked the login: {exc}", "log in again")
    except (ClientError, OSError, TimeoutError) as exc:
        report.add(
            "websocket",
            "fail",
            f"cannot connect to the WebSocket: {type(exc).__name__}: {exc}",
            "check `ws` (or the server's route API) and that its port is reachable",
        )
    finally:
        await client.close()
        store.close()


async def _check_desk(report: Report, ctx: _Ctx, net_timeout: float) -> None:
    from agentdesk.desk import protocol as p
    from agentdesk.wukongim.rest import RestClient, RestError, Timeouts

    settings = ctx.settings
    if settings is None or not ctx.rest_authorized:
        report.add("desk", "warn", "not checked: the REST API is not usable", "see the 'rest' check")
        return
    prof = settings.profile
    t = Timeouts(connect=net_timeout, read=net_timeout, write=net_timeout, pool=net_timeout)
    async with RestClient(prof.server or "", manager_token=ctx.manager_token, timeout=t) as rest:
        try:
            page = await rest.channel_messagesync(prof.uid or prof.bot_uid, prof.desk_channel, 2, limit=50)
        except RestError as exc:
            report.add("desk", "warn", f"cannot read the desk channel {prof.desk_channel!r}: {exc}", "")
            return
    facts = [m for m in page.messages if m.from_uid == prof.bot_uid and p.parse_payload(m.payload)]
    if facts:
        age = time.time() - facts[-1].timestamp
        report.add(
            "desk",
            "ok",
            f"desk channel {prof.desk_channel!r}: the bot {prof.bot_uid!r} last posted {_ago(age)}",
        )
    elif page.messages:
        report.add(
            "desk",
            "warn",
            f"desk channel {prof.desk_channel!r} has messages but none from the bot {prof.bot_uid!r}",
            "check `bot_uid` in your profile, or start the desk bot (`agentdesk bot`)",
        )
    else:
        report.add(
            "desk",
            "warn",
            f"desk channel {prof.desk_channel!r} is empty or missing: no desk bot has run on this server",
            "start the desk bot (`agentdesk bot`); until then the console works without desk features",
        )


# -- model and FAQ ---------------------------------------------------------------------------------


async def _check_model(report: Report, ctx: _Ctx, net_timeout: float) -> None:
    settings = ctx.settings
    base = settings.profile.llm_base_url if settings is not None else None
    if not base:
        report.add("model", "ok", "offline drafter in use (no llm_base_url)")
        return
    import httpx

    headers = {"Authorization": f"Bearer {ctx.model_key}"} if ctx.model_key else {}
    url = base.rstrip("/") + "/models"
    try:
        async with httpx.AsyncClient(timeout=net_timeout) as http:
            response = await http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        report.add(
            "model",
            "warn",
            f"{base} is not reachable ({type(exc).__name__}); the offline drafter will be used",
            "start the model server or correct `llm_base_url` (agentdesk login --llm-base-url URL)",
        )
        return
    if response.status_code in (401, 403):
        report.add(
            "model",
            "warn",
            f"{base} refused the model key (HTTP {response.status_code}); the offline drafter will be used",
            f"save a valid key: `agentdesk login --profile {settings.profile_name if settings else 'default'}`",
        )
    elif response.status_code >= 400:
        report.add(
            "model",
            "warn",
            f"{url} answered HTTP {response.status_code}",
            "check that llm_base_url is an OpenAI-compatible /v1 URL",
        )
    else:
        model = settings.profile.llm_model if settings is not None else None
        report.add("model", "ok", f"{base} is reachable" + (f"; model {model}" if model else ""))


def _check_faq(report: Report) -> None:
    path = paths.default_faq_db()
    fix = "import one: `agentdesk faq import FILE` (the bundled Northwind FAQ works for a try-out)"
    if not path.exists():
        report.add("faq", "warn", f"no FAQ cache at {path}", fix)
        return
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
        try:
            count = int(conn.execute("SELECT count(*) FROM faq").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        report.add(
            "faq",
            "warn",
            f"the FAQ cache {path} cannot be read ({exc})",
            "it is rebuilt on the next `agentdesk faq import` or `agentdesk faq sync`",
        )
        return
    age = time.time() - max(_mtime(path), _mtime(Path(f"{path}-wal")))
    detail = f"{count} entries in {path}, last changed {_ago(age)}"
    if count == 0:
        report.add("faq", "warn", detail, fix)
    elif age > FAQ_STALE_DAYS * 86400:
        report.add("faq", "warn", detail, "refresh it: `agentdesk faq sync` (or `agentdesk faq import FILE`)")
    else:
        report.add("faq", "ok", detail)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"
