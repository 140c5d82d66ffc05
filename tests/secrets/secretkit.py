"""Helpers for the secret tests: run `agentdesk` as a subprocess in a private HOME."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Home:
    """A temporary HOME with agentdesk's config and data directories inside it."""

    root: Path

    @property
    def config_dir(self) -> Path:
        return self.root / ".config" / "agentdesk"

    @property
    def data_dir(self) -> Path:
        return self.root / ".local" / "share" / "agentdesk"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    def env(self, base: Mapping[str, str], **extra: str) -> dict[str, str]:
        """`base` (e.g. secret_service.env) without the runner's AGENTDESK_* settings, pointed at this HOME."""
        env = {k: v for k, v in base.items() if not k.startswith("AGENTDESK_")}
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env.update(
            HOME=str(self.root),
            XDG_CONFIG_HOME=str(self.root / ".config"),
            XDG_DATA_HOME=str(self.root / ".local" / "share"),
            XDG_CACHE_HOME=str(self.root / ".cache"),
            XDG_STATE_HOME=str(self.root / ".local" / "state"),
            TMPDIR=str(tmp),
            AGENTDESK_CONFIG_DIR=str(self.config_dir),
            AGENTDESK_DATA_DIR=str(self.data_dir),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env


def agentdesk(
    args: list[str], env: Mapping[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m agentdesk.cli ARGS`; stdin is /dev/null unless text is given."""
    return subprocess.run(
        [sys.executable, "-m", "agentdesk.cli", *args],
        env=dict(env),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def unique_secret(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}"


def unique_profile() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AGENTDESK_")}
