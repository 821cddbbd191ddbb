"""Deleting directory trees of any depth (layers, snapshots, volumes hold what untrusted input
made). Imports nothing heavy: a container's ``--rm`` uses it on every exit."""

from __future__ import annotations

import os

__all__ = ["discard_tree", "remove_tree"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def discard_tree(path: str | os.PathLike[str]) -> None:
    """:func:`remove_tree` for clean-up: a tree already gone, or an error part-way, is left to
    the next sweep (what ``shutil.rmtree(ignore_errors=True)`` promised, at any depth)."""
    try:
        remove_tree(path)
    except OSError:
        pass


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Delete the directory ``path`` and everything in it, however deep; symlinks are not followed.

    Why not ``shutil.rmtree``: before Python 3.12 it recurses once per level, so a layer with a
    1000-deep directory chain (legal: only the whole path must fit PATH_MAX) makes it raise
    RecursionError, a traceback instead of an error, and leaves the tree behind. This walks
    with one directory fd at a time (``openat``, then ``..`` to climb back), so neither the
    stack, the fd table nor PATH_MAX limits the depth, and each directory is listed once.
    """
    fd = os.open(path, _DIR_FLAGS)
    try:
        pending = _unlink_files(fd)
        climb: list[tuple[str, list[str]]] = []  # (name of the directory fd is, its parent's pending)
        while True:
            if pending:
                name = pending.pop()
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
                climb.append((name, pending))
                pending = _unlink_files(fd)
                continue
            if not climb:
                break
            name, pending = climb.pop()
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(path)


def _unlink_files(dir_fd: int) -> list[str]:
    """Unlink every non-directory in ``dir_fd``; return the names of its subdirectories."""
    subdirs = []
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                os.unlink(entry.name, dir_fd=dir_fd)
    return subdirs
