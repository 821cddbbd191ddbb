"""Where lamina's client configuration (contexts, the current context) lives; standard library
``os`` only, because the console entry point asks before every command."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["config_dir", "current_context_file"]


def config_dir() -> Path:
    """``$LAMINA_CONFIG``, else ``$XDG_CONFIG_HOME/lamina``, else ``~/.config/lamina``."""
    env = os.environ.get("LAMINA_CONFIG")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "lamina"


def current_context_file() -> Path:
    """``config.json``: it exists only while a context other than ``default`` is current."""
    return config_dir() / "config.json"
