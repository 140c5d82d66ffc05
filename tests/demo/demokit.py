"""Helpers for the demo tests: run `agentdesk demo --headless` as a subprocess and watch its process tree."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AGENTDESK = [sys.executable, "-m", "agentdesk.cli"]
#: a safety net so a hung demo cannot hang the suite (not a performance assertion)
RUN_LIMIT_S = 180.0
CONVERSATION_KEYS = {
    "id",
    "customer_uid",
    "customer_name",
    "route",
    "mode",
    "urgency",
    "reason",
    "queued",
    "bot_replies",
    "errors",
}
ROUTES = {"ai_ok", "needs_human", "escalate_urgent"}
_URL = re.compile(r"(?:https?|ws)://127\.0\.0\.1:(\d+)")


@dataclass
class DemoRun:
    code: int
    stdout: str
    stderr: str
    #: every process whose parent was the demo, seen while it ran
    children: set[int] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)

    def summary(self) -> dict[str, object]:
        obj = json.loads(self.stdout)
        assert isinstance(obj, dict)
        return obj


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def port_free(port: int) -> bool:
    """Nothing listens on the port any more: a connection is refused, and a server could bind it again
    (SO_REUSEADDR, as servers do: closed connections may still sit in TIME_WAIT, which is harmless)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
        c.settimeout(2.0)
        if c.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen(1)
        except OSError:
            return False
    return True


def run_demo(args: list[str], tmp: Path) -> DemoRun:
    """`agentdesk demo ARGS` in a subprocess (cwd = the repo), recording its child processes."""
    out, err = tmp / "demo.out", tmp / "demo.err"
    env = dict(os.environ, AGENTDESK_CONFIG_DIR=str(tmp / "config"), AGENTDESK_DATA_DIR=str(tmp / "data"))
    env.pop("AGENTDESK_LLM_BASE_URL", None)
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.Popen([*AGENTDESK, "demo", *args], cwd=REPO, stdout=fo, stderr=fe, env=env)
        children: set[int] = set()
        deadline = time.monotonic() + RUN_LIMIT_S
        while proc.poll() is None:
            children |= children_of(proc.pid)
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise AssertionError(f"agentdesk demo {args} did not end within {RUN_LIMIT_S} s")
            time.sleep(0.05)
    stderr = err.read_text(encoding="utf-8", errors="replace")
    ports = {int(m.group(1)) for m in _URL.finditer(stderr)}
    return DemoRun(proc.returncode, out.read_text(encoding="utf-8"), stderr, children, ports)


def assert_nothing_left(run: DemoRun) -> None:
    left = sorted(pid for pid in run.children if alive(pid))
    assert not left, f"processes left behind by the demo: {left}"
    assert run.ports, f"the demo did not report its addresses on stderr:\n{run.stderr[:2000]}"
    busy = sorted(port for port in run.ports if not port_free(port))
    assert not busy, f"ports still in use after the demo ended: {busy}"


def assert_shape(summary: dict[str, object]) -> list[dict[str, object]]:
    assert set(summary) == {"conversations", "errors"}
    assert isinstance(summary["errors"], list)
    convs = summary["conversations"]
    assert isinstance(convs, list)
    for c in convs:
        assert isinstance(c, dict)
        assert set(c) == CONVERSATION_KEYS, c
        assert isinstance(c["id"], str) and isinstance(c["customer_uid"], str)
        assert c["customer_name"] is None or isinstance(c["customer_name"], str)
        assert c["route"] is None or c["route"] in ROUTES
        assert c["mode"] is None or c["mode"] in ("ai", "assist", "human")
        assert c["urgency"] is None or c["urgency"] in ("low", "normal", "high", "urgent")
        assert isinstance(c["reason"], str)
        assert isinstance(c["queued"], bool)
        assert isinstance(c["bot_replies"], list) and all(isinstance(r, str) for r in c["bot_replies"])
        assert isinstance(c["errors"], list) and all(isinstance(e, str) for e in c["errors"])
    return [c for c in convs if isinstance(c, dict)]
