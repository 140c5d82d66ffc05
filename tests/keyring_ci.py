"""A real Secret Service for tests: gnome-keyring on a private D-Bus session bus (pytest plugin).

Registered in tests/conftest.py (`pytest_plugins`). Fixtures:

* ``secret_service`` (session): one private ``dbus-daemon`` plus ``gnome-keyring-daemon --unlock
  --components=secrets`` (password on stdin) in a temporary HOME. For the session it sets
  ``DBUS_SESSION_BUS_ADDRESS`` in ``os.environ`` and selects ``keyring.backends.SecretService.Keyring``
  explicitly (``keyring.set_keyring``), and restores both afterwards. ``secret_service.env`` is an
  environment for subprocesses (it also sets ``PYTHON_KEYRING_BACKEND`` to the Secret Service backend).
* ``locked_secret_service`` (function): a second, separate daemon pair whose ``login`` collection has been
  locked through the Secret Service ``Lock`` method; nothing can unlock it (there is no prompter), so it
  exercises the "locked keyring" path. Yields the same handle type.

Missing binaries FAIL the test with the install command (CI installs them: `.ci/run`), unless
``AGENTDESK_ALLOW_NO_KEYRING=1`` is set, in which case the tests are skipped with that reason.

Recipe: /work/shared/reference/ECOSYSTEM.md §1. Differences: the bus gets its own configuration file with no
service directories, so nothing is ever D-Bus-activated behind our back (the stock session config would
auto-start a second ``gnome-keyring-daemon --start`` if anything asked for the Secret Service before ours
claimed the name); readiness is polled with ``NameHasOwner``, which never activates anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SECRETS_BUS_NAME = "org.freedesktop.secrets"
BACKEND_PATH = "keyring.backends.SecretService.Keyring"
INSTALL_HINT = (
    "the real-keyring tests need dbus-daemon and gnome-keyring-daemon: "
    "apt-get install -y --no-install-recommends dbus gnome-keyring (CI's .ci/run installs them); "
    "set AGENTDESK_ALLOW_NO_KEYRING=1 to skip these tests instead"
)
#: Start-up guard only (a daemon that never comes up must not hang the suite); not a performance assertion.
STARTUP_LIMIT_S = 60.0

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass
class SecretServiceDaemon:
    """A private session bus with gnome-keyring on it, all under one temporary directory."""

    password: str = "agentdesk-test-unlock"
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="agentdesk-kr.")))
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def runtime_dir(self) -> Path:
        return self.root / "run"

    @property
    def xdg_data_home(self) -> Path:
        return self.home / ".local" / "share"

    @property
    def keyring_storage(self) -> Path:
        """Where gnome-keyring keeps its (encrypted) collections: the keyring's own storage files."""
        return self.xdg_data_home / "keyrings"

    @property
    def address(self) -> str:
        return f"unix:path={self.runtime_dir / 'bus'}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for a subprocess that should use this Secret Service (and only it)."""
        env = dict(os.environ)
        env.update(
            DBUS_SESSION_BUS_ADDRESS=self.address,
            PYTHON_KEYRING_BACKEND=BACKEND_PATH,
        )
        return env

    def start(self) -> None:
        for d in (self.home, self.runtime_dir, self.xdg_data_home):
            d.mkdir(parents=True, mode=0o700, exist_ok=True)
        config = self.root / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=self.runtime_dir / "bus"))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "XDG_DATA_HOME": str(self.xdg_data_home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "DBUS_SESSION_BUS_ADDRESS": self.address,
            "LANG": "C.UTF-8",
        }
        bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._procs.append(bus)
        assert bus.stdout is not None
        printed = bus.stdout.readline().decode().strip()  # printed once the bus listens
        bus.stdout.close()
        if not printed:
            raise RuntimeError(f"dbus-daemon exited before listening (exit code {bus.wait()})")
        log = (self.root / "gnome-keyring.log").open("wb")
        gkd = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
        )
        log.close()
        self._procs.append(gkd)
        assert gkd.stdin is not None
        gkd.stdin.write(self.password.encode())
        gkd.stdin.close()
        self._wait_ready(gkd)

    def _wait_ready(self, gkd: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while True:
            if gkd.poll() is not None:
                raise RuntimeError(
                    f"gnome-keyring-daemon exited with {gkd.returncode}: "
                    + (self.root / "gnome-keyring.log").read_text(errors="replace")
                )
            if self._name_has_owner() and not self.collection_locked():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "gnome-keyring did not come up: "
                    + (self.root / "gnome-keyring.log").read_text(errors="replace")
                )
            time.sleep(0.02)

    def _name_has_owner(self) -> bool:
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        with open_dbus_connection(bus=self.address) as conn:
            reply = conn.send_and_get_reply(message_bus.NameHasOwner(SECRETS_BUS_NAME))
        return bool(reply.body[0])

    def _collection(self, action: str) -> bool:
        import secretstorage
        from jeepney.io.blocking import open_dbus_connection

        with open_dbus_connection(bus=self.address) as conn:
            collection = secretstorage.get_default_collection(conn)
            if action == "lock":
                collection.lock()
            return bool(collection.is_locked())

    def collection_locked(self) -> bool:
        return self._collection("query")

    def lock(self) -> None:
        """Lock the default (`login`) collection through the Secret Service `Lock` method."""
        if not self._collection("lock"):
            raise RuntimeError("the collection did not lock")

    def backend(self) -> Any:
        """A fresh `keyring.backends.SecretService.Keyring` (needs DBUS_SESSION_BUS_ADDRESS in os.environ)."""
        from keyring.backends import SecretService

        return SecretService.Keyring()

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]


def _require_binaries() -> None:
    if shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon"):
        return
    if os.environ.get("AGENTDESK_ALLOW_NO_KEYRING") == "1":
        pytest.skip("AGENTDESK_ALLOW_NO_KEYRING=1 and dbus-daemon/gnome-keyring-daemon are not installed")
    pytest.fail(INSTALL_HINT, pytrace=False)


@pytest.fixture(scope="session")
def secret_service() -> Iterator[SecretServiceDaemon]:
    """An unlocked, private gnome-keyring, selected explicitly as keyring's backend for the session."""
    _require_binaries()
    import keyring

    daemon = SecretServiceDaemon()
    old_address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    old_backend = keyring.get_keyring()
    try:
        daemon.start()
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = daemon.address
        keyring.set_keyring(daemon.backend())
        yield daemon
    finally:
        keyring.set_keyring(old_backend)
        if old_address is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = old_address
        daemon.stop()


@pytest.fixture
def locked_secret_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretServiceDaemon]:
    """A separate private gnome-keyring whose collection is locked (and cannot be unlocked: no prompter)."""
    _require_binaries()
    daemon = SecretServiceDaemon()
    try:
        daemon.start()
        daemon.lock()
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", daemon.address)
        yield daemon
    finally:
        daemon.stop()
