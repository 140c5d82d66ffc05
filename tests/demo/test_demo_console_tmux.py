"""`agentdesk demo` with the real console, in tmux: the console opens as alice on the demo's server, the
simulated customers' conversations reach its queue, ctrl+q quits, and nothing is left: no process, no
temporary directory. Skipped only when tmux is not installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from demokit import alive, children_of

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (CI installs it)")
AGENTDESK = Path(sys.executable).parent / "agentdesk"
#: safety nets so a broken console cannot hang the suite (not performance assertions)
WAIT = 40.0


class Tmux:
    def __init__(self) -> None:
        self.sock = f"agentdesk-demo-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.sock, *args], capture_output=True, text=True, check=False
        ).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + WAIT
        while text not in (screen := self.screen()):
            assert time.monotonic() < deadline, f"timeout waiting for {text!r}; screen:\n{screen}"
            time.sleep(0.2)
        return screen


def test_demo_opens_the_console_and_quits_clean(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    rc = tmp_path / "rc"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp),  # the demo's temporary data directory goes here
        "TERM": "xterm-256color",
        "AGENTDESK_CONFIG_DIR": str(tmp_path / "config"),
        "AGENTDESK_DATA_DIR": str(tmp_path / "data"),
        "AGENTDESK_ANIMATIONS": "0",
    }
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    tmux = Tmux()
    command = f"env -i {exports} {AGENTDESK} demo; echo $? > {rc}; sleep 60"
    tmux.run("-f", "/dev/null", "new-session", "-d", "-s", "app", "-x", "140", "-y", "40", command)
    try:
        tmux.wait_for("alice (agent)")
        shell = int(tmux.run("display", "-p", "-t", "app", "#{pane_pid}").strip())
        demo_pids = children_of(shell)  # the demo process (and anything it might have started)
        demo_pids |= {c for pid in demo_pids for c in children_of(pid)}
        assert demo_pids
        assert [p.name for p in tmp.iterdir() if p.name.startswith("agentdesk-demo-")]
        # the first simulated customer (c-300101) reached the console, shown by the name it sent
        tmux.wait_for("陈小姐")
        tmux.run("send-keys", "-t", "app", "C-q")
        deadline = time.monotonic() + WAIT
        while not rc.exists():
            assert time.monotonic() < deadline, f"the demo did not exit after ctrl+q:\n{tmux.screen()}"
            time.sleep(0.2)
    finally:
        tmux.run("kill-server")
    assert rc.read_text().strip() == "0"
    assert not [p.name for p in tmp.iterdir() if p.name.startswith("agentdesk-demo-")]
    left = sorted(pid for pid in demo_pids if alive(pid))
    assert not left, f"processes left behind: {left}"
