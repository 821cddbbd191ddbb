"""Health checks of a running container (docker's HEALTHCHECK / ``--health-*``), run by its
monitor, and the state ``inspect`` (``State.Health``) and ``ps`` (``(healthy)``) show.

The monitor probes every interval with ``runc exec`` (the container's own user, environment
and working dir), keeps docker's bookkeeping — ``starting`` until the first success, a failing
streak that makes the container ``unhealthy`` at ``Retries``, failures inside the start period
not counted, the last five results with their first 4 KiB of output — and writes it to
``health.json`` in the container's dir (replaced atomically), where readers find it without
asking the monitor.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from lamina import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = ["HEALTH_FILE", "HealthMonitor", "active_test", "read_health", "status_suffix"]

HEALTH_FILE = "health.json"
_KEPT_RESULTS = 5
_MAX_OUTPUT = 4096


def active_test(health: dict[str, Any] | None) -> list[str] | None:
    """The probe's argv, or None when the container has no health check (none, or ``NONE``)."""
    test = (health or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    if test[0] == "CMD":
        return list(test[1:]) or None
    return None


def read_health(base: Path) -> dict[str, Any] | None:
    """The last written health state of the container in ``base`` (None: it has none)."""
    try:
        return json.loads((base / HEALTH_FILE).read_text())
    except (OSError, ValueError):
        return None


def status_suffix(base: Path) -> str:
    """What ``ps`` adds to ``Up …``: `` (healthy)``, `` (unhealthy)``, `` (health: starting)``."""
    state = read_health(base)
    if not state:
        return ""
    status = state.get("Status")
    return " (health: starting)" if status == "starting" else f" ({status})" if status else ""


def _write_health(base: Path, state: dict[str, Any]) -> None:
    fd, temp = tempfile.mkstemp(dir=base, prefix=".health-")
    with os.fdopen(fd, "w") as handle:
        json.dump(state, handle)
    os.replace(temp, base / HEALTH_FILE)


class HealthMonitor:
    """Runs the container's probe on a thread until :meth:`stop`."""

    def __init__(self, base: Path, container_id: str, runc_command: list[str], argv: list[str],
                 settings: dict[str, int]):
        self._base, self._id, self._runc, self._argv = base, container_id, runc_command, argv
        self._interval = settings["Interval"] / 1e9
        self._timeout = settings["Timeout"] / 1e9
        self._start_period = settings["StartPeriod"] / 1e9
        self._retries = settings["Retries"]
        self._stopping = threading.Event()
        self._state: dict[str, Any] = {"Status": "starting", "FailingStreak": 0, "Log": []}
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="health", daemon=True)

    def start(self) -> None:
        _write_health(self._base, self._state)
        self._thread.start()

    def stop(self) -> None:
        """Stop probing; the container is gone, so its last state says ``unhealthy`` as docker's."""
        self._stopping.set()
        self._thread.join(self._timeout + 5)
        self._state["Status"] = "unhealthy"
        _write_health(self._base, self._state)

    def _loop(self) -> None:
        while not self._stopping.wait(self._interval):
            result = self._probe()
            if self._stopping.is_set():
                return
            self._record(result)

    def _probe(self) -> dict[str, Any]:
        started = time.time()
        with tempfile.TemporaryDirectory(prefix="lamina-health-") as scratch:
            pid_file = Path(scratch) / "probe.pid"
            process = subprocess.Popen([*self._runc, "exec", "--pid-file", os.fspath(pid_file), self._id,
                                        *self._argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, start_new_session=True)
            try:
                output, _ = process.communicate(timeout=self._timeout)
                code = process.returncode
                text = output[:_MAX_OUTPUT].decode("utf-8", "replace")
            except subprocess.TimeoutExpired:
                _kill_probe(pid_file)
                process.kill()
                process.communicate()
                code, text = -1, f"Health check exceeded timeout ({_go_seconds(self._timeout)})"
        return {"Start": _rfc3339_nano(started), "End": _rfc3339_nano(time.time()), "ExitCode": code,
                "Output": text}

    def _record(self, result: dict[str, Any]) -> None:
        state = self._state
        state["Log"] = (state["Log"] + [result])[-_KEPT_RESULTS:]
        if result["ExitCode"] == 0:
            state["Status"], state["FailingStreak"] = "healthy", 0
        elif time.monotonic() - self._started < self._start_period and state["Status"] == "starting":
            pass  # docker: failures while the container is still starting up do not count
        else:
            state["FailingStreak"] += 1
            if state["FailingStreak"] >= self._retries:
                state["Status"] = "unhealthy"
        _write_health(self._base, state)


def _kill_probe(pid_file: Path) -> None:
    try:
        os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass  # it ended, or runc had not started it yet


def _go_seconds(seconds: float) -> str:
    return f"{seconds:g}s" if seconds < 60 else f"{int(seconds // 60)}m{seconds % 60:g}s"


def _rfc3339_nano(moment: float) -> str:
    from lamina.runtime.logs import format_nano

    return format_nano(int(moment * 1e9))
