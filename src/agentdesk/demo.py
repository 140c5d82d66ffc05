"""The embedded demo, without any UI: devserver + desk bot + FAQ + simulated customers, in one process.

    demo = Demo(DemoOptions(headless=True), on_log=print)
    await demo.start()                       # free ports, data dir, FAQ, bot, roster, staff tokens
    results = await demo.replay(scripts, deadline=…)
    await demo.settle()                      # the bot has handled everything the customers sent
    summary = demo.summary(scripts, results, file_errors)
    await demo.stop()                        # every task cancelled, ports closed, temp dir removed

Everything runs on the caller's event loop: no child process is ever started, so nothing can be left
behind. What the desk decided is read from the desk log (`agentdesk.sim.desk_watch.DeskWatch`) and from
the bot's replies on each visitors channel, never from the bot's internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from agentdesk import paths
from agentdesk.desk import protocol as p
from agentdesk.sim.customer import FAST, CustomerResult, Pace
from agentdesk.sim.desk_watch import DeskWatch, describe, stop_task
from agentdesk.sim.replay import Replayer
from agentdesk.sim.script import Script, load_scripts

if TYPE_CHECKING:
    from agentdesk.bot.service import DeskBot

log = logging.getLogger(__name__)

AGENT_UID: Final = "alice"
SUPERVISOR_UID: Final = "sam"
BOT_UID: Final = "deskbot"
DESK_CHANNEL: Final = "desk"
DEMO_SCRIPTS: Final = "demo_conversations.jsonl"
MODEL_KEY_ENV: Final = "AGENTDESK_MODEL_KEY"
#: upper bounds (safety nets, never expected to be reached)
SETTLE_LIMIT: Final = 20.0
DEFAULT_HEADLESS_DURATION: Final = 600.0

Role = Literal["agent", "supervisor"]


class DemoError(Exception):
    """The demo could not start (a port, the data directory, the FAQ…); the message says what to do."""


@dataclass(slots=True)
class DemoOptions:
    data: Path | None = None
    headless: bool = False
    duration: float | None = None
    conversations: Path | None = None
    role: Role = "agent"
    llm_base_url: str | None = None
    llm_model: str | None = None
    pace: Pace = FAST
    concurrency: int = 8
    #: devserver webhook push interval (s): short, so the bot hears customers quickly
    webhook_interval: float = 0.05


@dataclass(frozen=True, slots=True)
class StaffLogin:
    """What the console needs to log in to the demo's server."""

    api_url: str
    ws_url: str
    uid: str
    token: str
    role: Role
    manager_token: str
    desk_channel: str
    bot_uid: str
    data_dir: Path
    faq_db: Path


def default_scripts() -> Path:
    return paths.bundled_data_dir() / DEMO_SCRIPTS


def read_scripts(path: Path | None) -> tuple[list[Script], list[str]]:
    """The scripts to replay and the file-level problems; DemoError if the file cannot be read."""
    target = path if path is not None else default_scripts()
    try:
        return load_scripts(target)
    except OSError as exc:
        raise DemoError(f"cannot read the conversations file {target}: {exc.strerror or exc}") from None


class Demo:
    def __init__(
        self,
        options: DemoOptions,
        *,
        on_log: Callable[[str], None] | None = None,
        on_activity: Callable[[str], None] | None = None,
    ) -> None:
        """`on_log` gets the start-up lines (addresses, data directory); `on_activity` one line per
        customer message, bot reply and desk decision."""
        self.options = options
        self._on_log = on_log
        self._on_activity = on_activity
        self.data_dir: Path | None = None
        self._temp = False
        self.manager_token = secrets.token_hex(16)
        self.tokens: dict[str, str] = {}
        self.server: Any = None  # DevServer
        self.bot: DeskBot | None = None
        self.rest: Any = None  # RestClient
        self.watch: DeskWatch | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self.uid_salt = ""
        self.errors: list[str] = []
        self._bot_dead = False

    def log(self, text: str) -> None:
        if self._on_log is not None:
            self._on_log(text)

    # -- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start everything; DemoError (after cleaning up) when something cannot start."""
        try:
            await self._start()
        except DemoError:
            await self.stop()
            raise
        except Exception as exc:
            await self.stop()
            raise DemoError(f"the demo could not start: {type(exc).__name__}: {exc}") from None

    async def _start(self) -> None:
        from agentdesk.bot.config import BotConfig
        from agentdesk.bot.service import DeskBot
        from agentdesk.desk.rules import Roster
        from agentdesk.devserver.config import DevServerConfig
        from agentdesk.devserver.server import DevServer
        from agentdesk.wukongim.rest import RestClient

        opts = self.options
        self.data_dir = self._data_dir()
        faq_db = self.data_dir / "faq.sqlite"
        await asyncio.to_thread(seed_faq, faq_db)
        roster = Roster.from_mapping(
            {
                "users": {AGENT_UID: "agent", SUPERVISOR_UID: "supervisor"},
                "settings": {"supervisors_watch_ai": True},
            },
            source="demo roster",
        )
        (self.data_dir / "roster.toml").write_text(
            f'[users]\n{AGENT_UID} = "agent"\n{SUPERVISOR_UID} = "supervisor"\n\n'
            "[settings]\nsupervisors_watch_ai = true\n",
            encoding="utf-8",
        )
        self.bot = DeskBot(
            BotConfig(
                api_url="",
                roster=roster,
                db_path=self.data_dir / "bot.sqlite3",
                manager_token=self.manager_token,
                listen_port=0,
                faq_db=faq_db,
                desk_channel=DESK_CHANNEL,
                default_mode="ai",
                bot_uid=BOT_UID,
                model=self._model(),
            )
        )
        await self.bot.listen()
        self.server = DevServer(
            DevServerConfig(
                api_port=0,
                ws_port=0,
                data_dir=self.data_dir / "wukongim",
                webhook_url=self.bot.webhook_url,
                manager_token=self.manager_token,
                webhook_push_interval=opts.webhook_interval,
                recv_retry_interval=5.0,
            )
        )
        await self.server.start()
        self.bot.config.api_url = self.server.api_url
        await self.bot.start()
        self.rest = RestClient(self.server.api_url, manager_token=self.manager_token)
        for uid in (AGENT_UID, SUPERVISOR_UID):
            token = secrets.token_urlsafe(18)
            await self.rest.user_token(uid, token, device_flag=1, device_level=0)
            self.tokens[uid] = token
        self.watch = DeskWatch(
            self.rest, desk_channel=DESK_CHANNEL, bot_uid=BOT_UID, login_uid=BOT_UID, on_fact=self._fact
        )
        self._watch_task = asyncio.create_task(self.watch.run(0.1), name="demo-desk-watch")
        self.log(f"devserver  REST {self.server.api_url}  WebSocket {self.server.ws_url}")
        self.log(
            f"desk bot   {self.bot.url}  ({'model ' + (opts.llm_model or '?') if opts.llm_base_url else 'offline drafter'})"
        )
        self.log(f"data       {self.data_dir}{' (temporary)' if self._temp else ''}")

    def _data_dir(self) -> Path:
        data = self.options.data
        if data is None:
            self._temp = True
            return Path(tempfile.mkdtemp(prefix="agentdesk-demo-"))
        data = data.expanduser()
        try:
            reused = data.exists() and any(data.iterdir())
            data.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DemoError(f"cannot use {data} as the data directory: {exc.strerror or exc}") from None
        if reused:
            # a second run on the same data: new customers, so the old conversations stay as they were
            self.uid_salt = secrets.token_hex(3)
        return data

    def _model(self) -> Any:
        opts = self.options
        if not opts.llm_base_url:
            return None
        from agentdesk.ai.types import ModelSettings

        return ModelSettings(
            base_url=opts.llm_base_url,
            model=opts.llm_model or "default",
            api_key=os.environ.get(MODEL_KEY_ENV) or "unused",
        )

    async def stop(self) -> None:
        """Idempotent: stop the watcher, the bot, the server; remove a temporary data directory."""
        await stop_task(self._watch_task)
        self._watch_task = None
        if self.rest is not None:
            with contextlib.suppress(Exception):
                await self.rest.aclose()
            self.rest = None
        if self.bot is not None:
            try:
                await self.bot.stop()
            except Exception:
                log.exception("stopping the desk bot failed")
            self.bot = None
        if self.server is not None:
            try:
                await self.server.stop()
            except Exception:
                log.exception("stopping the devserver failed")
            self.server = None
        if self._temp and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def _fact(self, fact: p.Fact) -> None:
        line = describe(fact)
        if line and self._on_activity is not None:
            self._on_activity(line)

    # -- running --------------------------------------------------------------------------------------

    def login(self, role: Role | None = None) -> StaffLogin:
        if self.server is None or self.data_dir is None:
            raise RuntimeError("the demo is not running")
        role = role or self.options.role
        uid = SUPERVISOR_UID if role == "supervisor" else AGENT_UID
        return StaffLogin(
            api_url=self.server.api_url,
            ws_url=self.server.ws_url,
            uid=uid,
            token=self.tokens[uid],
            role=role,
            manager_token=self.manager_token,
            desk_channel=DESK_CHANNEL,
            bot_uid=BOT_UID,
            data_dir=self.data_dir,
            faq_db=self.data_dir / "faq.sqlite",
        )

    def replayer(self, scripts: Sequence[Script]) -> Replayer:
        if self.server is None or self.watch is None:
            raise RuntimeError("the demo is not running")
        return Replayer(
            scripts,
            ws_url=self.server.ws_url,
            # REST catch-up after a reconnect, so a reply in flight when a connection drops still arrives
            api_url=self.server.api_url,
            manager_token=self.manager_token,
            pace=self.options.pace,
            concurrency=self.options.concurrency,
            handed_over=self._no_reply_expected,
            on_log=self._on_activity,
            uid_salt=self.uid_salt,
        )

    def _no_reply_expected(self, channel: str) -> bool:
        """A customer stops waiting when people have its conversation, or when the bot is gone."""
        if self.watch is not None and self.watch.with_people(channel):
            return True
        if self.bot is not None and not self.bot.running:
            if not self._bot_dead:
                self._bot_dead = True
                error = self.bot.failure
                what = f"{type(error).__name__}: {error}" if error is not None else "it is not running"
                self.errors.append(f"the desk bot stopped: {what}")
            return True
        return False

    async def settle(self, limit: float = SETTLE_LIMIT) -> None:
        """Wait (bounded) until the server pushed every webhook and the bot handled it, then read the
        desk log once more."""
        if self.server is None or self.bot is None or self.watch is None:
            return
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            backlog = self.server.storage.webhook_backlog()
            try:
                await self.bot.wait_idle(max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            except Exception as exc:
                self.errors.append(f"the desk bot stopped: {type(exc).__name__}: {exc}")
                break
            if backlog == 0 and self.server.storage.webhook_backlog() == 0:
                break
            await asyncio.sleep(0.05)
        else:
            self.errors.append(f"the desk bot was still busy after {limit:g} s")
        await self.watch.poll()
        if self.watch.last_error:
            self.errors.append(f"could not read the desk log: {self.watch.last_error}")

    def summary(
        self, scripts: Sequence[Script], results: Sequence[CustomerResult], file_errors: Sequence[str] = ()
    ) -> dict[str, object]:
        """The headless summary (docs/demo.md): one entry per script, in file order."""
        if self.watch is None:
            raise RuntimeError("the demo is not running")
        watch = self.watch
        conversations: list[dict[str, object]] = []
        for script, result in zip(scripts, results, strict=True):
            channel = result.uid
            route = watch.route(channel)
            errors = list(result.errors)
            if route is None and result.sent:
                errors.append("the desk never opened this conversation")
            replies = [
                r.text if r.text is not None else _raw(r.payload)
                for r in result.received
                if r.from_uid == BOT_UID
            ]
            conversations.append(
                {
                    "id": script.id,
                    "customer_uid": channel,
                    "customer_name": watch.customer_name(channel),
                    "route": route,
                    "mode": watch.mode(channel),
                    "urgency": watch.urgency(channel),
                    "reason": watch.reason(channel),
                    "queued": watch.queued(channel),
                    "bot_replies": replies,
                    "errors": errors,
                }
            )
        return {"conversations": conversations, "errors": [*file_errors, *self.errors]}


def _raw(payload: bytes) -> str:
    return payload[:2000].decode("utf-8", errors="replace")


def seed_faq(path: Path) -> int:
    """Create the FAQ cache at `path` from the bundled Northwind FAQ if it is empty; its entry count."""
    from agentdesk.faq.importers import FaqFileError, import_file
    from agentdesk.faq.store import FaqStore

    try:
        with FaqStore.open(path) as store:
            if store.count() == 0:
                import_file(store, paths.bundled_data_dir() / "faq.jsonl", source="bundled")
            return store.count()
    except (FaqFileError, OSError) as exc:
        raise DemoError(f"cannot seed the FAQ cache {path}: {exc}") from None


async def run_headless(
    options: DemoOptions,
    *,
    on_log: Callable[[str], None] | None = None,
    on_activity: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
) -> dict[str, object]:
    """Start, replay the scripts once (as fast as sensible), settle, summarise, stop. DemoError when the
    demo cannot start; `stop` ends the replay early (the summary says so)."""
    scripts, file_errors = read_scripts(options.conversations)
    demo = Demo(options, on_log=on_log, on_activity=on_activity)
    await demo.start()
    try:
        duration = options.duration if options.duration is not None else DEFAULT_HEADLESS_DURATION
        deadline = time.monotonic() + duration
        results = await demo.replayer(scripts).run(deadline=deadline, stop=stop)
        if stop is not None and stop.is_set():
            demo.errors.append("interrupted before every conversation finished")
        elif any(not r.finished for r in results) and time.monotonic() >= deadline:
            demo.errors.append(f"--duration {duration:g} s reached before every conversation finished")
        await demo.settle()
        return demo.summary(scripts, results, file_errors)
    finally:
        await demo.stop()


class LiveDemo:
    """The live demo on its own event loop in a background thread, so a blocking UI (the console) can
    own the main thread. `start()` returns the staff login once everything runs; `stop()` ends it all
    (customers, watcher, bot, server) and joins the thread. Bounded: both wait at most `timeout` s."""

    def __init__(self, options: DemoOptions, *, on_log: Callable[[str], None] | None = None) -> None:
        self.options = options
        self._on_log = on_log
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._done = threading.Event()
        self._login: StaffLogin | None = None
        self._error: BaseException | None = None
        self.results: list[CustomerResult] = []

    def start(self, timeout: float = 60.0) -> StaffLogin:
        scripts, problems = read_scripts(self.options.conversations)
        for problem in problems:
            self._log(f"scripts: {problem}")
        self._thread = threading.Thread(target=self._thread_main, args=(scripts,), name="agentdesk-demo")
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise DemoError(f"the demo did not start within {timeout:g} s")
        if self._login is None:
            self.stop()
            error = self._error
            if isinstance(error, DemoError):
                raise error
            raise DemoError(f"the demo could not start: {type(error).__name__}: {error}")
        return self._login

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the demo thread ended (True) or `timeout` passed (False)."""
        return self._done.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not self._done.is_set():
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the demo thread did not stop within %g s", timeout)

    def _log(self, text: str) -> None:
        if self._on_log is not None:
            self._on_log(text)

    def _thread_main(self, scripts: list[Script]) -> None:
        try:
            asyncio.run(self._main(scripts))
        except BaseException as exc:  # reported to start() / logged; never a traceback on the console
            self._error = exc
            log.error("the demo stopped: %s: %s", type(exc).__name__, exc)
        finally:
            self._ready.set()
            self._done.set()

    async def _main(self, scripts: list[Script]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        demo = Demo(self.options, on_log=self._on_log, on_activity=self._on_log)
        try:
            await demo.start()
        except DemoError as exc:
            self._error = exc
            return
        try:
            self._login = demo.login()
            self._ready.set()
            deadline = None if self.options.duration is None else time.monotonic() + self.options.duration
            self.results = await demo.replayer(scripts).run(deadline=deadline, stop=self._stop)
            if not self._stop.is_set():
                self._log("the scripts are done; the demo keeps running until you quit")
                await self._stop.wait()
        finally:
            await demo.stop()
