"""The build context as ``RUN --mount=type=bind`` sees it: what .dockerignore leaves.

BuildKit mounts the context it received, and its client never sends what .dockerignore excludes;
binding the context directory itself would show those files to the step. So a context with
ignore rules is laid out once per build as a tree of hard links (copies across filesystems) of
the files the context keeps, with their modes and owners, and that tree is what gets mounted.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from lamina.build.sources import ContextTree


def bind_context_root(tree: ContextTree, into: Path) -> Path:
    """The directory a context bind mount should use: the context itself when nothing is
    ignored, else a tree made under ``into`` (which must not exist) holding only what it keeps."""
    if tree.matcher is None and not tree.kept_dirs:
        return tree.root
    into.mkdir(mode=0o755)
    directories: list[tuple[Path, os.stat_result]] = []
    for sub, host, info in tree.below("."):
        target = into / sub
        kind = stat.S_IFMT(info.st_mode)
        if kind == stat.S_IFDIR:
            target.mkdir()
            directories.append((target, info))
            continue
        if kind == stat.S_IFLNK:
            os.symlink(os.readlink(host), target)
        elif kind == stat.S_IFREG:
            try:
                os.link(host, target)
            except OSError:  # another filesystem, or links refused: a copy shows the same bytes
                shutil.copy2(host, target)
        else:
            continue  # fifos and devices: docker's context sends them, a read of one would block
        os.lchown(target, info.st_uid, info.st_gid)
    for directory, info in reversed(directories):  # deepest first, so modes never block the walk
        os.chown(directory, info.st_uid, info.st_gid)
        os.chmod(directory, stat.S_IMODE(info.st_mode))
    return into
