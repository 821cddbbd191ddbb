"""Attach: the container's streams over a hijacked connection.

docker's clients attach before they start (``create``, ``attach``, ``wait``, ``start``). A
session made before start waits until ``start`` hands it the streams: the start then runs as
a :mod:`lamina.service.child` process (the same foreground supervision ``lamina start
--attach --interactive`` uses, including stdin), whose stdout/stderr become docker's multiplexed frames (raw with a
TTY) and into whose stdin the client's bytes go. A session on a running container reads the
container's log from now on (output only).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from lamina.service.server import ApiError, client_gone, frames

_ERROR_PREFIX = b"lamina: error: "


class AttachSession:
    """One client attached to one container; ``serve`` relays until the container's streams end."""

    def __init__(self, container_id: str, *, tty: bool, stdin: bool, stdout: bool, stderr: bool):
        self.container_id = container_id
        self.tty, self.stdin, self.stdout, self.stderr = tty, stdin, stdout, stderr
        self.process: subprocess.Popen | None = None
        self.handed = threading.Event()   # start gave us a process (or gave up: process None)
        self.finished = threading.Event()  # every output of the process was relayed
        self.error = b""                  # lamina's own one-line error, kept out of the stream
        self.exit_codes: dict[str, int | None] = {}  # the service's, once start handed us a process
        self.events = None  # the service's EventBus, idem
        self.attributes: dict[str, str] = {}

    def drain(self) -> None:
        """A start with nobody attached: read the child's streams (kept out of the service's
        way; the container's log has the output) and keep its exit code."""
        _, stderr = self.process.communicate()
        self.error = b"".join(line for line in stderr.splitlines(keepends=True) if line.startswith(_ERROR_PREFIX))
        self.ended(self.process.returncode)
        self.finished.set()

    def ended(self, code: int) -> None:
        """The container's process ended: its exit code for ``wait``, a ``die`` event."""
        self.exit_codes[self.container_id] = code
        if self.events is not None and not self.error:
            self.events.publish("container", "die", self.container_id, {**self.attributes, "exitCode": str(code)})

    def serve(self, connection: socket.socket, client) -> None:
        """Wait for start (or the client leaving), then relay."""
        while not self.handed.wait(0.2):
            if client_gone(connection, half_close_ok=True):
                return
            current = client.container_store.get(self.container_id)
            if current is None:
                return
            if current.status == "running" and not self.handed.is_set():  # started by someone else
                time.sleep(0.2)
                if not self.handed.is_set():
                    follow_logs(client, current, self, connection, past=False, follow=True)
                    return
        if self.process is None:
            container = client.container(self.container_id)
            follow_logs(client, container, self, connection, past=False, follow=True)
            return
        def record(code: int) -> None:
            self.ended(code)

        relay_process(self.process, connection, tty=self.tty, stdin=self.stdin,
                      wanted={"stdout": self.stdout, "stderr": self.stderr}, session=self, on_exit=record)


def start_attached(service, client, container, sessions: list[AttachSession], *, detached: bool = False) -> None:
    """Start with the first session's streams connected (the others read the log); returns once
    the container runs or its start failed (raised as docker's error). ``detached``: no session;
    the output is only logged, the exit code kept for ``wait``."""
    if detached:
        sessions = [AttachSession(container.id, tty=False, stdin=False, stdout=False, stderr=False)]
    first, others = sessions[0], sessions[1:]
    command = child_command(service, "start", container.id, {"stdin": first.stdin})
    started_before = container.started_at
    process = subprocess.Popen(command, stdin=subprocess.PIPE if first.stdin else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    first.process = process
    first.exit_codes = service.exit_codes
    first.events = service.events
    first.attributes = {**(container.config.get("Labels") or {}), "image": container.image, "name": container.name}
    service.exit_codes[container.id] = None
    if detached:
        threading.Thread(target=first.drain, daemon=True).start()
    first.handed.set()
    for other in others:
        other.handed.set()
    store = client.container_store
    while True:
        current = store.get(container.id)
        if current is None or current.status == "running" or current.started_at != started_before:
            return
        if process.poll() is not None:
            first.finished.wait(10)
            if first.error:
                message = first.error.decode("utf-8", "replace").strip()
                raise ApiError(400 if "not found" in message or "no such file" in message else 500, message)
            return
        time.sleep(0.02)


def child_command(service, verb: str, container_id: str, options: dict) -> list[str]:
    """The command line of a :mod:`lamina.service.child` process."""
    import json

    root = os.fspath(service.root) if service.root is not None else ""
    return [sys.executable, "-m", "lamina.service.child", root, verb, container_id, json.dumps(options)]


def relay_process(process: subprocess.Popen, connection: socket.socket, *, tty: bool, stdin: bool,
                  wanted: dict[str, bool], session: AttachSession | None = None,
                  on_exit: Callable[[int], None] | None = None) -> int:
    """Copy the process's stdout/stderr to the connection (frames unless ``tty``) and, with
    ``stdin``, the connection's bytes to its stdin; returns the process's exit status."""
    if stdin and process.stdin is not None:
        threading.Thread(target=_pump_stdin, args=(connection, process.stdin), daemon=True).start()
    names = {process.stdout.fileno(): "stdout", process.stderr.fileno(): "stderr"}
    client_alive = True
    with selectors.DefaultSelector() as selector:
        for fd in names:
            selector.register(fd, selectors.EVENT_READ)
        while names:
            for key, _ in selector.select():
                data = os.read(key.fd, 65536)
                stream = names[key.fd]
                if not data:
                    selector.unregister(key.fd)
                    del names[key.fd]
                    continue
                if stream == "stderr" and data.startswith(_ERROR_PREFIX) and session is not None:
                    session.error += data
                    continue
                if not client_alive or not wanted.get(stream, True):
                    continue
                try:
                    connection.sendall(data if tty else frames(stream, data))
                except OSError:
                    client_alive = False  # the client detached; the container runs on
    code = process.wait()
    if on_exit is not None:  # before the client sees the end: it asks for the exit code next
        on_exit(code)
    if session is not None:
        session.finished.set()
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_WR)
    return code


def _pump_stdin(connection: socket.socket, stdin) -> None:
    """The client's bytes into the process; its half-close (or leaving) closes the stdin."""
    try:
        while True:
            data = connection.recv(65536)
            if not data:
                break
            stdin.write(data)
            stdin.flush()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            stdin.close()


def follow_logs(client, container, session: AttachSession, connection: socket.socket, *, past: bool,
                follow: bool) -> None:
    """The container's output from its log (``past``: from the start), until it stops."""
    wanted = {"stdout": session.stdout, "stderr": session.stderr}
    try:
        for entry in client.container_logs(container.id, follow=follow, tail=None if past else 0):
            if not wanted.get(entry.stream, False):
                continue
            data = entry.text.encode("utf-8", "surrogateescape")
            connection.sendall(data if session.tty else frames(entry.stream, data))
    except OSError:
        return
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_WR)
