"""A foreground ``run``'s private network, made while lamina is still starting.

slirp4netns needs ≈ 15 ms of CPU to come up. Started by the entry point's door right after the
flags are read, it works on the second core while the first imports lamina, instead of after.
The monitor takes it (:func:`take`) when the container's network is ``private``; a network
nobody took is stopped by :func:`discard` (and would die with lamina anyway: the holder has a
parent-death signal, slirp4netns an exit fd).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from lamina.layer.treeremoval import discard_tree

__all__ = ["EarlyNetwork", "discard", "prepare", "socket_dir", "take"]


class EarlyNetwork:
    """The namespace holder, slirp4netns, and the private dir of its API socket and log."""

    __slots__ = ("holder", "slirp", "scratch")

    def __init__(self, holder, slirp, scratch: Path):
        self.holder, self.slirp, self.scratch = holder, slirp, scratch


_prepared: EarlyNetwork | None = None


def prepare() -> None:
    """Start the network now; on any failure the monitor simply makes its own later."""
    global _prepared
    from lamina.runtime.netns import NetnsHolder
    from lamina.runtime.slirp import find_slirp4netns, start_slirp

    if _prepared is not None or find_slirp4netns() is None:
        return
    holder = scratch = None
    try:
        scratch = socket_dir()
        holder = NetnsHolder()
        slirp = start_slirp(holder.path, scratch / "slirp.sock", scratch / "slirp.log")
    except Exception:  # noqa: BLE001 - an optimisation only: the normal path reports problems
        if holder is not None:
            holder.close()
        if scratch is not None:
            discard_tree(scratch)
        return
    _prepared = EarlyNetwork(holder, slirp, scratch)


def take() -> EarlyNetwork | None:
    """The prepared network, now the caller's to stop and remove; None if there is none."""
    global _prepared
    early, _prepared = _prepared, None
    return early


def discard() -> None:
    """Stop a prepared network nobody took."""
    early = take()
    if early is None:
        return
    with contextlib.suppress(Exception):
        early.slirp.stop(wait=False)
    early.holder.close()
    discard_tree(early.scratch)


def socket_dir() -> Path:
    """A fresh private dir with a short path for unix sockets (slirp4netns' API, a pty's console
    socket); made by hand because ``tempfile`` costs 3 ms to import."""
    path = Path(os.environ.get("TMPDIR") or "/tmp") / f"lamina-{os.urandom(6).hex()}"
    path.mkdir(mode=0o700)
    return path
