"""Interactive `agentdesk login` on a real pseudo-terminal: hidden prompts, the real Secret Service."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path

from secretkit import Home, unique_profile, unique_secret

from agentdesk.secrets import SERVICE
from keyring_ci import SecretServiceDaemon

#: hang guard for a prompt that never comes (not a performance assertion)
PROMPT_LIMIT_S = 120.0


class Terminal:
    """`python -m agentdesk.cli ARGS` with a pty as its controlling terminal; records everything shown."""

    def __init__(self, args: list[str], env: Mapping[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # child
            try:
                os.execve(sys.executable, [sys.executable, "-m", "agentdesk.cli", *args], dict(env))
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.screen = b""
        self.mark = 0  # expect() looks only at what was shown after the previous match

    def _read(self) -> bool:
        ready, _, _ = select.select([self.fd], [], [], 1.0)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.screen += chunk
        return bool(chunk)

    def expect(self, text: str) -> None:
        deadline = time.monotonic() + PROMPT_LIMIT_S
        while (found := self.screen.find(text.encode(), self.mark)) < 0:
            if not self._read() or time.monotonic() > deadline:
                raise AssertionError(
                    f"never saw {text!r}; the terminal showed:\n{self.screen.decode(errors='replace')}"
                )
        self.mark = found + len(text)

    def send(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def finish(self) -> int:
        deadline = time.monotonic() + PROMPT_LIMIT_S
        while self._read() and time.monotonic() < deadline:
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)


def test_interactive_login_hides_every_secret(secret_service: SecretServiceDaemon, tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    profile, token, key = unique_profile(), unique_secret("im"), unique_secret("mk")
    term = Terminal(["login", "--profile", profile, "--uid", "carol"], home.env(secret_service.env))
    # a missing server is asked for (visible input), validated, and asked again
    term.expect("WuKongIM REST URL")
    term.send("localhost:5001")
    term.expect('server "localhost:5001" is not a URL; write "http://localhost:5001"')
    term.expect("WuKongIM REST URL")
    term.send("http://localhost:5001")
    term.expect("IM token for carol on http://localhost:5001 (hidden): ")
    term.send("")  # required: asked again
    term.expect("The IM token is required.")
    # type only once the prompt is shown: getpass turns echo off when it prompts, not before
    term.expect("IM token for carol on http://localhost:5001 (hidden): ")
    term.send(token)
    term.expect("model API key (hidden; Enter to skip): ")
    term.send(key)
    term.expect("manager token (hidden; Enter to skip): ")
    term.send("")
    assert term.finish() == 0, term.screen.decode(errors="replace")
    shown = term.screen.decode(errors="replace")
    assert "saved im_token to the keyring (SecretService)" in shown
    assert "manager_token: not given, left as it was" in shown
    # hidden input: what was typed never reached the screen
    assert token not in shown
    assert key not in shown
    backend = secret_service.backend()
    assert backend.get_password(SERVICE, f"{profile}:im_token") == token
    assert backend.get_password(SERVICE, f"{profile}:model_key") == key
    assert backend.get_password(SERVICE, f"{profile}:manager_token") is None
    assert tomllib.loads(home.config_file.read_text())["profiles"][profile] == {
        "server": "http://localhost:5001",
        "uid": "carol",
    }
    for name in ("im_token", "model_key"):
        backend.delete_password(SERVICE, f"{profile}:{name}")
