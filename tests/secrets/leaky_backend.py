"""A keyring backend that fails with the secret in its error message (selected via PYTHON_KEYRING_BACKEND)."""

from __future__ import annotations

from keyring.backend import KeyringBackend


class LeakyKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"backend exploded while storing {password!r} for {username}")

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError("nothing to delete")
