"""Store-wide locks between lamina processes.

Writers (import, load, pull, build) hold the *lease* lock shared while blobs they wrote are
not yet referenced from metadata; garbage collection takes it exclusively, so a concurrent
prune can never delete what another process is in the middle of writing.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def lease(root: Path):
    """Shared lock: protects freshly written blobs from a concurrent GC."""
    return _flock(root / "gc.lock", fcntl.LOCK_SH)


def gc_lock(root: Path):
    """Exclusive lock: no writer holds a lease while GC sweeps."""
    return _flock(root / "gc.lock", fcntl.LOCK_EX)
