"""A network namespace made before its container, for ``private`` networking.

slirp4netns needs a namespace to configure, and the container's process must not start before
``tap0`` is up. Letting runc make the namespace would force ``runc create`` → slirp4netns →
``runc start``, one step after the other. A namespace held by a tiny forked child instead lets
slirp4netns come up while the rootfs is being mounted, and the container then starts in it with
one ``runc run``. The holder exits once the container has joined (the container keeps the
namespace alive), or with the process that made it (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

from lamina.errors import RuntimeError_

__all__ = ["NetnsHolder"]

_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1


class NetnsHolder:
    """A child process alone in a fresh network namespace; ``path`` names the namespace."""

    def __init__(self) -> None:
        calls = _libc_calls()  # looked up before the fork: the child must not need the loader's locks
        ready_read, ready_write = os.pipe()
        hold_read, self._hold_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns into the caller's code
            os.close(ready_read)
            os.close(self._hold_write)
            _hold(calls, ready_write, hold_read)
        os.close(ready_write)
        os.close(hold_read)
        try:
            status = os.read(ready_read, 64)
        finally:
            os.close(ready_read)
        if status != b"ok":
            self.close()
            raise RuntimeError_(f"cannot create a network namespace: {status.decode(errors='replace') or 'failed'}")

    @property
    def path(self) -> str:
        return f"/proc/{self.pid}/ns/net"

    def close(self) -> None:
        """Let the holder exit and reap it (idempotent)."""
        if self._hold_write is not None:
            os.close(self._hold_write)
            self._hold_write = None
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)


def _libc_calls() -> tuple:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl, libc.unshare


def _hold(calls: tuple, ready_write: int, hold_read: int) -> None:
    """In the child: enter a new network namespace, report, wait for EOF (slirp4netns'
    ``--configure`` brings ``lo`` up along with ``tap0``)."""
    code = 0
    try:
        prctl, unshare = calls
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if unshare(_CLONE_NEWNET) != 0:
            os.write(ready_write, os.strerror(ctypes.get_errno()).encode())
            os._exit(1)
        os.write(ready_write, b"ok")
        os.close(ready_write)
        os.read(hold_read, 1)
    except BaseException:  # nothing may escape into the parent's code
        code = 1
    os._exit(code)
