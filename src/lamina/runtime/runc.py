"""Driving runc: run a bundle, kill, delete, ask for state.

runc keeps its container state under ``--root``; lamina gives it ``<store>/runtime/runc`` so
several stores never see each other's containers and a store's leftovers can be found and
deleted. runc's own failures (bad spec, missing executable) go to a JSON log file next to the
bundle, so they can be told apart from the container's exit code and reported in one line.

crun is not used: it refuses cgroup-hybrid hosts (see docs/architecture.md, runtime).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from lamina import TYPE_CHECKING
from lamina.errors import RuntimeError_
from lamina.runtime.binaries import which

if TYPE_CHECKING:
    from typing import IO, Any

    Stream = IO[Any] | int | None

__all__ = ["Runc", "find_runc"]

_SEARCH = ("/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc", "/sbin/runc")


def find_runc() -> str:
    """The runc binary: on PATH, else in the usual sbin dirs; one clear error if missing."""
    found = which("runc", *_SEARCH)
    if found:
        return found
    raise RuntimeError_("runc is not installed (needed to run containers and RUN steps): apt-get install runc")


class Runc:
    """One runc state root (``--root``)."""

    def __init__(self, state_root: Path, binary: str | None = None):
        self.state_root = Path(state_root)
        self.binary = binary or find_runc()

    def start(self, bundle: Path, container_id: str, *, stdout: Stream, stderr: Stream,
              stdin: Stream = subprocess.DEVNULL, detach: bool = False) -> subprocess.Popen:
        """Start ``runc run`` for ``bundle`` and return at once (wait with :meth:`wait`).

        runc gets its own session: a Ctrl-C meant for lamina must not reach it, lamina decides
        how the container ends.
        """
        self.state_root.mkdir(parents=True, exist_ok=True)
        command = [*self._global(Path(bundle) / "runc.log"), "run", "--bundle", os.fspath(bundle)]
        if detach:
            command.append("--detach")
        command.append(container_id)
        try:
            return subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True)
        except OSError as exc:
            raise RuntimeError_(f"cannot start runc ({self.binary}): {exc.strerror}") from None

    def wait(self, process: subprocess.Popen, bundle: Path, *, timeout: float | None = None,
             on_timeout: Callable[[], None] | None = None) -> int:
        """The container's exit code (128+N when killed by signal N), like ``docker run``.

        Raises RuntimeError_ when runc itself failed (the container never ran its process).
        """
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            if on_timeout is not None:
                on_timeout()
            code = process.wait()
        if code != 0:
            failure = _runc_error(Path(bundle) / "runc.log")
            if failure:
                raise RuntimeError_(f"runc: {failure}")
        return code if code >= 0 else 128 - code

    def run(self, bundle: Path, container_id: str, *, stdout: Stream, stderr: Stream,
            stdin: Stream = subprocess.DEVNULL, detach: bool = False) -> int:
        """Run the bundle to completion (or, detached, until started) and return the exit code."""
        process = self.start(bundle, container_id, stdout=stdout, stderr=stderr, stdin=stdin, detach=detach)
        return self.wait(process, bundle)

    def kill(self, container_id: str, signal: str = "KILL") -> bool:
        """Send ``signal`` to every process of the container; False if it is not running."""
        result = self._call("kill", "--all", container_id, signal)
        return result.returncode == 0

    def delete(self, container_id: str) -> None:
        """Remove the container (killing what is left); missing containers are fine."""
        self._call("delete", "--force", container_id)

    def state(self, container_id: str) -> dict[str, Any] | None:
        """runc's state document (``status``: created, running, stopped…), or None if unknown."""
        result = self._call("state", container_id)
        if result.returncode != 0:
            return None
        return json.loads(result.stdout)

    def list(self) -> list[dict[str, Any]]:
        if not self.state_root.is_dir():
            return []
        result = self._call("list", "--format", "json")
        if result.returncode != 0 or not result.stdout.strip():
            return []
        return json.loads(result.stdout) or []

    def kill_and_delete(self, container_id: str, grace: float = 0.0) -> None:
        """SIGKILL everything in the container, wait briefly for it to stop, delete it."""
        self.kill(container_id, "KILL")
        deadline = time.monotonic() + max(grace, 2.0)
        while time.monotonic() < deadline:
            state = self.state(container_id)
            if state is None or state.get("status") in ("stopped", "created"):
                break
            time.sleep(0.02)
        self.delete(container_id)

    def _global(self, log: Path | None = None) -> list[str]:
        command = [self.binary, "--root", os.fspath(self.state_root)]
        if log is not None:
            command += ["--log", os.fspath(log), "--log-format", "json"]
        return command

    def _call(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self._global(), *args], capture_output=True, text=True)


def _runc_error(log: Path) -> str:
    """The last error runc logged (its JSON log), without the Go error-wrapping boilerplate."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("error", "fatal") and entry.get("msg"):
            message = str(entry["msg"])
            for noise in ("runc run failed: ", "unable to start container process: "):
                message = message.replace(noise, "")
            return message
    return ""
