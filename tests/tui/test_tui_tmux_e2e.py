"""The real `agentdesk` process in tmux against the in-process devserver: start, see the queue, open a
conversation, reply, see it sent, quit with ctrl+q. Skipped only when tmux is not installed."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from consolekit import Desk, visitor

from fixtures_devserver import DEVSERVER_MANAGER_TOKEN

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (CI installs it)")
AGENTDESK = Path(sys.executable).parent / "agentdesk"
WAIT = 30.0


class Tmux:
    def __init__(self) -> None:
        self.sock = f"agentdesk-e2e-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.sock, *args], capture_output=True, text=True, check=False
        ).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def alive(self) -> bool:
        return (
            subprocess.run(
                ["tmux", "-L", self.sock, "has-session", "-t", "app"], capture_output=True
            ).returncode
            == 0
        )

    async def wait_for(self, text: str) -> str:
        """Poll the screen until `text` shows (the server runs in this loop meanwhile)."""
        screen = ""
        try:
            async with asyncio.timeout(WAIT):
                while True:  # polls another process's screen
                    screen = self.screen()
                    if text in screen:
                        return screen
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"{text!r} did not show; the screen:\n{screen}") from None


async def test_agentdesk_process_in_tmux(desk: Desk, faq_db: Path, tmp_path: Path) -> None:
    token = await desk.add_staff("alice")
    cust = visitor("tmx")
    await desk.open_visitor(cust)
    await desk.customer_says(cust, "[b]where[/b] is my parcel?")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "AGENTDESK_TOKEN": token,
        "AGENTDESK_MANAGER_TOKEN": DEVSERVER_MANAGER_TOKEN,
        "AGENTDESK_CONFIG_DIR": str(tmp_path / "config"),
        "AGENTDESK_DATA_DIR": str(tmp_path / "data"),
        "AGENTDESK_ANIMATIONS": "0",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    command = " ".join(
        [
            "env -i",
            *(f"{k}={v!s}" for k, v in env.items()),
            str(AGENTDESK),
            f"--server {desk.server.api_url} --ws {desk.server.ws_url} --uid alice --faq-db {faq_db}",
        ]
    )
    tmux = Tmux()
    tmux.run("-f", "/dev/null", "new-session", "-d", "-s", "app", "-x", "160", "-y", "45", command)
    try:
        await tmux.wait_for("online")
        await tmux.wait_for("[b]where[/b] is my parcel?")  # the preview, literally
        tmux.run("send-keys", "-t", "app", "Enter")
        await tmux.wait_for("confidence")  # the draft arrived
        tmux.run("send-keys", "-t", "app", "r")
        # Keys that arrive in the same burst as a focus-moving key are routed before focus moves
        # (Textual routes a key when the app dispatches it): wait until the footer shows the composer's
        # commands only (no "Urgent"), as a person would see the cursor move.
        await tmux.wait_for("\n ^o Approve  ^s Send reply")
        tmux.run("send-keys", "-t", "app", "-l", "Your parcel left today 今天")
        await tmux.wait_for("Your parcel left today 今天")  # in the composer
        tmux.run("send-keys", "-t", "app", "C-s")
        screen = await tmux.wait_for("✓ sent")
        assert "Your parcel left today 今天" in screen, screen
        tmux.run("send-keys", "-t", "app", "C-q")
        async with asyncio.timeout(WAIT):
            while True:  # polls another process
                if not tmux.alive():
                    break
                await asyncio.sleep(0.1)
    finally:
        if tmux.alive():
            print(tmux.screen())
        tmux.run("kill-server")
