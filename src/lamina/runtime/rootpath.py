"""Paths inside a container's root filesystem, resolved as the container would see them.

Every symlink on the way is followed one component at a time with the root standing for ``/``,
so a link such as ``etc -> /host`` or ``../../..`` can never lead outside the root.
"""

from __future__ import annotations

import os
import stat

from lamina.errors import RuntimeError_

MAX_SYMLINK_HOPS = 40


def secure_join(root: str, path: str, *, keep_missing_tail: bool = False) -> str | None:
    """The host path of ``path`` inside ``root``.

    A missing component gives None, or with ``keep_missing_tail`` the path as far as it exists
    plus the rest as written (where a mount point or a new directory will go). Too many symlink
    hops give None, or raise with ``keep_missing_tail`` (the caller is about to create there).
    """
    pending = [part for part in path.split("/") if part and part != "."]
    pending.reverse()
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except OSError:
            if not keep_missing_tail:
                return None
            resolved.append(part)
            resolved.extend(reversed(pending))
            break
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                if keep_missing_tail:
                    raise RuntimeError_(f"too many levels of symbolic links in {path}")
                return None
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending.extend(reversed([p for p in target.split("/") if p and p != "."]))
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)
