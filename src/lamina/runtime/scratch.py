"""A build's scratch dir inside the store, swept after a killed build.

A build keeps its work files here rather than in ``/tmp``: a context read from stdin, secrets
given from the environment, heredocs, downloads, and the mount points of the views it looks
into images through. A lamina killed with SIGKILL cannot clean up, and a secret must not
outlive the build that was handed it, nor a mount the process that made it; the next build
removes what a dead one left (the dirs are locked while their process lives, see
``lamina.runtime.lockeddirs``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from lamina.runtime.lockeddirs import abandoned, create_locked_dir, remove_abandoned_staging
from lamina.runtime.mounts import remove_container_dir

__all__ = ["scratch_dir", "sweep_scratch"]

_DIR = "tmp"


@contextlib.contextmanager
def scratch_dir(store_root: Path, purpose: str) -> Iterator[Path]:
    """A fresh private dir ``<store>/tmp/<purpose>-<random>``, held locked and removed on exit."""
    base = Path(store_root) / _DIR / f"{purpose}-{os.urandom(8).hex()}"
    lock_fd = create_locked_dir(base)
    try:
        os.chmod(base, 0o700)
        yield base
    finally:
        remove_container_dir(base)  # unmounts a view an interrupted step left first
        os.close(lock_fd)


def sweep_scratch(store_root: Path) -> int:
    """Remove the scratch dirs of processes that are gone; how many."""
    base = Path(store_root) / _DIR
    try:
        entries = list(base.iterdir())
    except FileNotFoundError:
        return 0
    removed = 0
    for entry in entries:
        if entry.name.startswith("."):
            remove_abandoned_staging(entry)
            continue
        with abandoned(entry) as gone:
            if gone and remove_container_dir(entry):
                removed += 1
    return removed
