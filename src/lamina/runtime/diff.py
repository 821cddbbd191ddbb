"""``docker diff``: what a container changed, compared with its image as docker compares them.

The overlay upper dir says where to look; each path found there is judged the way docker's
tree comparison judges it: ``A`` when the image lacks it, ``D`` for a whiteout (and for what an
opaque directory hides), ``C`` when mode, owner or device differ, or, for anything but a
directory, size or modification time (a directory's own size and mtime are ignored). Every
directory above a change is ``C`` too, ``/`` excepted.
"""

from __future__ import annotations

import os
import stat

from lamina.layer.overlaylookup import is_opaque
from lamina.runtime.containers import Container, ContainerStore

__all__ = ["container_changes"]


def container_changes(containers: ContainerStore, container: Container) -> list[tuple[str, str]]:
    """(kind, path) pairs, ``A``/``C``/``D``, sorted by path."""
    from lamina.layer.overlaylookup import lower_entry
    from lamina.runtime.bundle import container_lowers

    upper = os.fspath(container.base / "upper")
    if not os.path.isdir(upper):
        return []
    image_lowers = container_lowers(containers.store, container)[1:]  # not the init layer's stand-ins

    def in_image(rel: str) -> os.stat_result | None:
        entry = lower_entry(image_lowers, rel)
        return entry[1] if entry is not None else None

    changes: dict[str, str] = {}
    for directory, dirs, files in os.walk(upper):
        rel_dir = os.path.relpath(directory, upper)
        for name in sorted(dirs + files):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            current = os.lstat(os.path.join(directory, name))
            before = in_image(rel)
            if stat.S_ISCHR(current.st_mode) and current.st_rdev == 0:
                if before is not None:
                    changes[rel] = "D"
                continue
            if before is None:
                changes[rel] = "A"
            elif _differs(before, current):
                changes[rel] = "C"
            if stat.S_ISDIR(current.st_mode) and before is not None and is_opaque(os.path.join(directory, name)):
                present = set(os.listdir(os.path.join(directory, name)))
                for hidden in _image_children(image_lowers, rel) - present:
                    if in_image(f"{rel}/{hidden}") is not None:
                        changes[f"{rel}/{hidden}"] = "D"
    for rel in list(changes):
        parent = os.path.dirname(rel)
        while parent and parent not in changes:
            changes[parent] = "C"
            parent = os.path.dirname(parent)
    return [(kind, "/" + rel) for rel, kind in sorted(changes.items())]


def _differs(before: os.stat_result, after: os.stat_result) -> bool:
    if (before.st_mode, before.st_uid, before.st_gid, before.st_rdev) != (after.st_mode, after.st_uid, after.st_gid,
                                                                         after.st_rdev):
        return True
    if stat.S_ISDIR(after.st_mode):
        return False  # a directory's size and mtime say nothing (moby issue 9874)
    return before.st_size != after.st_size or before.st_mtime_ns != after.st_mtime_ns


def _image_children(lowers: list, rel: str) -> set[str]:
    names: set[str] = set()
    for lower in lowers:
        try:
            names.update(os.listdir(os.path.join(lower, rel)))
        except OSError:
            continue
    return names
