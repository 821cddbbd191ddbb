"""What a stack of unpacked layers shows at a path, looked up as overlayfs does.

Kept apart from the applier (``lamina.layer.overlayapply``) so that starting a container, which
asks this for its init layer, loads nothing of the tar machinery.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

__all__ = ["OPAQUE_XATTR", "is_opaque", "lower_entry"]

OPAQUE_XATTR = "trusted.overlay.opaque"


def lower_entry(lowers: Sequence[str | os.PathLike[str]], rel: str) -> tuple[str, os.stat_result] | None:
    """What a stack of unpacked layers (topmost first) shows at ``rel``: its path and lstat.

    Looked up as overlayfs does: whiteouts hide, opaque dirs stop the search, a non-directory
    shadows lower directories; symlinks on the way are never followed.
    """
    parts = rel.split("/")
    for lower in lowers:
        entry, final = _lookup_in_layer(os.fspath(lower), parts)
        if final:
            return entry
    return None


def _lookup_in_layer(layer: str, parts: list[str]) -> tuple[tuple[str, os.stat_result] | None, bool]:
    """Look ``parts`` up in one layer dir, one component at a time (never following symlinks).

    Returns the entry (or None) and whether the answer is final: found, whited out, shadowed
    by a non-directory, or missing below an opaque directory; else lower layers decide.
    """
    path = layer
    below_opaque = False
    for depth, part in enumerate(parts):
        path = f"{path}/{part}"
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None, below_opaque
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return None, True  # whited out: hidden from everything below
        if depth == len(parts) - 1:
            return (path, st), True
        if not stat.S_ISDIR(st.st_mode):
            return None, True  # a non-directory shadows the lower layers' directory
        below_opaque = below_opaque or is_opaque(path)
    return None, below_opaque


def is_opaque(path: str | os.PathLike[str]) -> bool:
    """Whether overlayfs treats this upper/lower dir as opaque (hides what lies below it)."""
    for name in (OPAQUE_XATTR, "user.overlay.opaque"):
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return False
