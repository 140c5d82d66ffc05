"""The core knows nothing about terminals: importing it must not pull in textual.

Direct imports of textual or rich from the core are forbidden by the import-linter contracts; this test
catches indirect ones. (`rich` itself may appear: `import httpx` loads it for httpx's optional CLI.)"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import agentdesk

CORE = ("wukongim", "devserver", "faq", "ai", "desk", "bot", "sim")


def _core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(agentdesk.__path__, "agentdesk."):
        if info.name.split(".")[1] in CORE:
            names.append(info.name)
    return names


def test_core_imports_no_textual() -> None:
    modules = _core_modules()
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core modules imported: {out.stdout.strip()}"


def test_cli_help_is_cheap() -> None:
    code = (
        "import sys\nfrom agentdesk.cli import main\nmain(['--help'])\n"
        "heavy = {'textual', 'openai', 'httpx', 'websockets', 'sqlite_utils', 'keyring'}\n"
        "print('HEAVY=' + ','.join(sorted({m.split('.')[0] for m in sys.modules} & heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "commands:" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="
