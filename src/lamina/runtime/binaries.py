"""Finding the programs lamina drives (runc, slirp4netns, tini).

``shutil.which`` would do, but importing shutil loads the bz2 and lzma libraries (≈ 15 ms, a
tenth of a short ``run``) for archive helpers a container start never uses."""

from __future__ import annotations

import os

__all__ = ["which"]


def which(name: str, *fallbacks: str) -> str | None:
    """The first executable file ``name`` on PATH, else the first executable of ``fallbacks``."""
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or os.curdir, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return next((path for path in fallbacks if os.path.isfile(path) and os.access(path, os.X_OK)), None)
