"""Scratch dirs for one lamina process, inside the store, swept once that process is gone.

A build keeps its work files (a context read from stdin, secrets given from the environment,
heredocs, downloads) here rather than in ``/tmp``: a lamina killed with SIGKILL cannot clean
up, and a secret must not outlive the build that was handed it. The dir's name carries the
pid and the kernel's start time of its process, so the next build removes what a dead one
left without ever touching a live one's (a reused pid has another start time).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from lamina.layer.treeremoval import discard_tree
from lamina.procstat import process_alive, process_start_time

__all__ = ["scratch_dir", "sweep_scratch"]

_DIR = "tmp"


@contextlib.contextmanager
def scratch_dir(store_root: Path, purpose: str) -> Iterator[Path]:
    """A fresh private dir ``<store>/tmp/<purpose>-<pid>-<start>-<random>``, removed on exit."""
    base = Path(store_root) / _DIR
    base.mkdir(mode=0o700, exist_ok=True)
    pid = os.getpid()
    path = base / f"{purpose}-{pid}-{process_start_time(pid)}-{os.urandom(4).hex()}"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        discard_tree(path)


def sweep_scratch(store_root: Path) -> list[str]:
    """Remove the scratch dirs of processes that are gone; the names removed."""
    base = Path(store_root) / _DIR
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        owner = _owner(name)
        if owner is not None and not process_alive(*owner):
            discard_tree(base / name)
            removed.append(name)
    return removed


def _owner(name: str) -> tuple[int, int] | None:
    """(pid, start time) from a scratch dir's name; None for a name this module did not make."""
    parts = name.rsplit("-", 3)
    if len(parts) != 4 or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    pid, start = int(parts[1]), int(parts[2])
    return (pid, start) if start else None
