"""End to end: a secret never appears in a config file, a log, crash output or on screen.

A login / failed login / logout session runs as subprocesses with known unique secrets in a private HOME
(config dir, data dir, cache, state and TMPDIR all inside it) against a real Secret Service. Afterwards
every file under that HOME, every file under the keyring daemon's own temporary tree, and all captured
stdout/stderr are searched for each secret, raw and in the encodings a careless store would use (base64,
hex). The only place excluded is gnome-keyring's own storage directory (``$XDG_DATA_HOME/keyrings`` of the
daemon, i.e. ``SecretServiceDaemon.keyring_storage``): that is the keyring, where the secrets are supposed
to be (encrypted with the keyring password).
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

from secretkit import Home, agentdesk, unique_profile, unique_secret

from agentdesk.secrets import SECRET_NAMES, SERVICE
from keyring_ci import SecretServiceDaemon

#: a script run in the session: it reads the secrets through agentdesk, installs the redaction filter and logs
#: them to a file in HOME (as the bot and console will), then crashes with one in the exception message
LOGGING_SCRIPT = """
import logging, sys
from agentdesk.secrets import KeyringSecretStore, install_redaction
logging.basicConfig(filename=sys.argv[1], level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")
install_redaction()
store = KeyringSecretStore()
log = logging.getLogger("agentdesk.bot")
for name in ("im_token", "model_key", "manager_token"):
    value = store.get(sys.argv[2], name)
    assert value, name
    log.info("loaded %s = %s", name, value)
    log.debug(f"connecting with Authorization: Bearer {value}")
try:
    raise ConnectionError("server rejected token " + store.get(sys.argv[2], "im_token"))
except ConnectionError:
    log.exception("login failed")
print("logged", flush=True)
"""


def forms(secret: str) -> set[bytes]:
    raw = secret.encode()
    return {
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
        base64.b64encode(raw).rstrip(b"="),
        raw.hex().encode(),
        secret.encode("utf-16-le"),
    }


def files_under(root: Path, exclude: Path | None = None) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and (exclude is None or exclude not in p.parents)
    )


def test_no_secret_is_written_anywhere_but_the_keyring(
    secret_service: SecretServiceDaemon, tmp_path: Path
) -> None:
    home = Home(tmp_path / "home")
    profile = unique_profile()
    secrets = {name: unique_secret(f"leak-{name}") for name in SECRET_NAMES}
    stdin_token = unique_secret("leak-stdin")
    env_secrets = {
        "AGENTDESK_TOKEN": secrets["im_token"],
        "AGENTDESK_MODEL_KEY": secrets["model_key"],
        "AGENTDESK_MANAGER_TOKEN": secrets["manager_token"],
    }
    outputs: list[str] = []

    def run(args: list[str], stdin: str | None = None, **env: str) -> int:
        result = agentdesk(args, home.env(secret_service.env, **env), stdin=stdin)
        outputs.extend([result.stdout, result.stderr])
        return result.returncode

    server = ["--server", "http://localhost:5001", "--uid", "alice"]
    # the token from stdin, then a login that fails on a bad value with every secret in the environment
    assert run(["login", "--profile", profile, *server, "--non-interactive"], stdin=stdin_token + "\n") == 0
    assert run(["login", "--profile", profile, "--server", "nope", "--non-interactive"], **env_secrets) == 2
    # a real login with all three secrets from the environment
    assert (
        run(["login", "--profile", profile, *server, "--non-interactive", "--llm-model", "m"], **env_secrets)
        == 0
    )
    backend = secret_service.backend()
    for name, value in secrets.items():  # positive control: they are in the keyring
        assert backend.get_password(SERVICE, f"{profile}:{name}") == value
    # a process that uses the secrets and logs them through the redaction filter, then crashes with one
    log_file = home.root / ".local" / "state" / "agentdesk" / "agentdesk.log"
    log_file.parent.mkdir(parents=True)
    logger = agentdesk_python(["-c", LOGGING_SCRIPT, str(log_file), profile], home.env(secret_service.env))
    outputs.extend([logger.stdout, logger.stderr])
    assert logger.returncode == 0, logger.stderr
    log_text = log_file.read_text()
    assert "loaded im_token = ***" in log_text
    assert "Authorization: Bearer ***" in log_text
    assert "ConnectionError: server rejected token ***" in log_text
    # logout, and a second one that finds nothing
    assert run(["logout", "--profile", profile]) == 0
    assert run(["logout", "--profile", profile, "--forget-profile"]) == 0
    for name in SECRET_NAMES:
        assert backend.get_password(SERVICE, f"{profile}:{name}") is None

    searched = files_under(home.root) + files_under(
        secret_service.root, exclude=secret_service.keyring_storage
    )
    assert home.config_file in searched and log_file in searched  # the search covers what was written
    every_secret = [*secrets.values(), stdin_token]
    leaks = []
    for path in searched:
        data = path.read_bytes()
        leaks += [f"{path}: {s}" for s in every_secret if any(form in data for form in forms(s))]
    captured = "\n".join(outputs).encode()
    assert b"saved im_token to the keyring (SecretService)" in captured
    leaks += [f"captured output: {s}" for s in every_secret if any(form in captured for form in forms(s))]
    assert leaks == []


def agentdesk_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
