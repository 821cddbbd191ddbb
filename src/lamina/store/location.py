"""Where a store lives when nobody says: one answer for the store and for the CLI's fast paths."""

from __future__ import annotations

import os
from pathlib import Path


def default_root() -> Path:
    """``$LAMINA_ROOT``, else ``/var/lib/lamina`` for root, else the per-user data dir."""
    env = os.environ.get("LAMINA_ROOT")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/lamina")
    from platformdirs import user_data_dir

    return Path(user_data_dir("lamina"))
