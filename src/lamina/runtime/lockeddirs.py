"""Work dirs owned through a held flock: a process that dies, even by SIGKILL, releases it.

A dir is made and locked under a hidden name, then renamed into place, so a sweeper never sees
it unlocked. Whoever can take the lock of a dir knows its owner is gone and may remove it
(unmounting first: a killed process can leave a mount behind). Used for RUN steps' container
dirs (``lamina.runtime.step``) and a build's scratch dirs (``lamina.runtime.scratch``).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["abandoned", "create_locked_dir", "remove_abandoned_staging"]

STAGING_GRACE_SECONDS = 600


def create_locked_dir(base: Path) -> int:
    """Make ``base`` with a held flock on ``base/lock``; returns the lock's fd."""
    staging = base.with_name(f".{base.name}")
    staging.mkdir(parents=True)
    lock_fd = os.open(staging / "lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    os.rename(staging, base)
    return lock_fd


@contextmanager
def abandoned(base: Path) -> Iterator[bool]:
    """True inside when ``base`` belongs to no live process (its lock is free, or already gone:
    its owner died while deleting it); the lock stays taken until the block ends."""
    try:
        lock_fd = os.open(base / "lock", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        yield True
        return
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False  # a live process owns it
        else:
            yield True
    finally:
        os.close(lock_fd)


def remove_abandoned_staging(staging: Path) -> None:
    """A hidden dir is one being created; an old one belongs to a process that died doing so."""
    from lamina.layer.treeremoval import discard_tree  # iterative: any depth

    try:
        if time.time() - staging.stat().st_mtime > STAGING_GRACE_SECONDS:
            discard_tree(staging)  # nothing is mounted there yet
    except FileNotFoundError:
        pass
