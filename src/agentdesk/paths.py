"""Where agentdesk keeps its files. Computed lazily: nothing happens at import."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "agentdesk"


def data_dir() -> Path:
    """The user data directory (`AGENTDESK_DATA_DIR` overrides the platform default)."""
    override = os.environ.get("AGENTDESK_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """The user config directory (`AGENTDESK_CONFIG_DIR` overrides the platform default)."""
    override = os.environ.get("AGENTDESK_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_faq_db() -> Path:
    return data_dir() / "faq.sqlite"


def bundled_data_dir() -> Path:
    """Data shipped inside the package (the Northwind FAQ and conversation scripts)."""
    return Path(__file__).parent / "data"
