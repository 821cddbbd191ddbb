"""What docker's init layer gives every container besides mount points: an empty ``/.dockerenv``
(scripts test for it to know they run in a container) and, where the image has none,
``/etc/mtab -> /proc/mounts`` (``mount`` and ``df`` read it).

They live in a lower dir of their own (a container's init layer, a RUN step's), so they are
seen by the processes but never become part of a layer unless a process changes them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from lamina.layer.overlaylookup import lower_entry

__all__ = ["add_markers"]


def add_markers(directory: Path, lowers: Sequence[Path] = ()) -> None:
    """Add the markers to ``directory`` where neither it nor ``lowers`` (topmost first) has them."""
    if not _present(directory, lowers, ".dockerenv"):
        fd = os.open(directory / ".dockerenv", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755)
        os.close(fd)
        os.chmod(directory / ".dockerenv", 0o755)  # docker's mode, whatever the umask
    if _present(directory, lowers, "etc/mtab"):
        return
    etc = _entry(directory, lowers, "etc")
    if etc is None or not stat.S_ISDIR(etc.st_mode):
        return  # no /etc (scratch) or a symlink there: leave it as it is
    if not os.path.lexists(directory / "etc"):
        os.mkdir(directory / "etc", stat.S_IMODE(etc.st_mode))
        os.chown(directory / "etc", etc.st_uid, etc.st_gid)
    os.symlink("/proc/mounts", directory / "etc" / "mtab")


def _present(directory: Path, lowers: Sequence[Path], rel: str) -> bool:
    return _entry(directory, lowers, rel) is not None


def _entry(directory: Path, lowers: Sequence[Path], rel: str) -> os.stat_result | None:
    """``rel`` as the stack ``directory`` over ``lowers`` shows it (never following symlinks)."""
    found = lower_entry([directory, *lowers], rel)
    return None if found is None else found[1]
