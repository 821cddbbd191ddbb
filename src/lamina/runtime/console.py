"""The pty master runc hands over ``--console-socket`` for a terminal process.

One receiver for the monitor (``run -t``) and ``exec -t``: runc connects while it creates the
process and passes the master end with SCM_RIGHTS; if runc exits first, there is none.
"""

from __future__ import annotations

import socket
import subprocess

__all__ = ["receive_master"]


def receive_master(listener: socket.socket, runc: subprocess.Popen) -> int | None:
    """The pty master fd runc sends on the listening ``listener``; None if runc ended first."""
    listener.settimeout(0.05)
    while True:
        try:
            connection, _ = listener.accept()
            break
        except TimeoutError:
            if runc.poll() is not None:
                return None
    with connection:
        connection.settimeout(10)
        _, fds, _, _ = socket.recv_fds(connection, 4096, 1)
    return fds[0] if fds else None
