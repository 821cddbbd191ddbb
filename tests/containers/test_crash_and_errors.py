"""Crashes (monitor or lamina killed with SIGKILL) leave an honest state that ``rm -f``
cleans; bad input fails in one line and leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.containers.conftest import mounts_under


def _monitor_pid(container_id: str) -> int:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"lamina.runtime.monitor" in cmdline and container_id.encode() in cmdline:
            return int(entry)
    raise AssertionError("no monitor process found")


@pytest.mark.slow
def test_killed_monitor_leaves_an_honest_state_and_rm_f_cleans(ctr):
    container_id = ctr.out("run", "-d", "--name", "orphan", "busybox", "sleep", "300").strip()
    scratch = _scratch_of(ctr, container_id)  # the private network's socket dir
    assert scratch.name.startswith("lamina-") and scratch.is_dir()
    os.kill(_monitor_pid(container_id), signal.SIGKILL)
    time.sleep(0.2)
    assert ctr.state("orphan") == "running"  # the container itself still runs
    pid = int(ctr.out("inspect", "--format", "{{.State.Pid}}", "orphan"))
    os.kill(pid, signal.SIGKILL)
    ctr.wait_for(lambda: ctr.state("orphan") == "exited", what="exit noticed")
    status = ctr.out("ps", "-a", "--filter", "name=orphan", "--format", "{{.Status}}")
    assert status.startswith("Exited (255)")
    assert "monitor process died" in ctr.out("inspect", "--format", "{{.State.Error}}", "orphan")
    assert mounts_under(ctr.root / "containers" / container_id)
    ctr.run("rm", "-f", "orphan")
    assert not mounts_under(ctr.root / "containers" / container_id)
    assert not (ctr.root / "containers" / container_id).exists()
    assert not scratch.exists()  # the killed monitor could not remove it: rm did


def _scratch_of(ctr, container_id: str) -> Path:
    with sqlite3.connect(ctr.root / "metadata.db") as db:
        (document,) = db.execute("SELECT document FROM containers WHERE id = ?", (container_id,)).fetchone()
    return Path(json.loads(document)["_Scratch"])


@pytest.mark.slow
def test_killed_foreground_lamina_leaves_a_running_container_that_stop_and_rm_handle(ctr):
    process = subprocess.Popen([sys.executable, "-m", "lamina", "run", "--name", "fg", "busybox", "sleep", "300"],
                               env=ctr.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctr.wait_for(lambda: ctr.run("inspect", "--format", "{{.State.Status}}", "fg", check=False).stdout ==
                 b"running\n", what="foreground container running")
    process.kill()
    process.wait()
    assert ctr.state("fg") == "running"
    assert "Up " in ctr.out("ps", "--filter", "name=fg", "--format", "{{.Status}}")
    ctr.run("stop", "-t", "1", "fg")
    assert ctr.out("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "fg") == "exited 137\n"
    container_id = ctr.out("inspect", "--format", "{{.Id}}", "fg").strip()
    assert not mounts_under(ctr.root / "containers" / container_id)
    ctr.run("rm", "fg")


BAD_INPUT = [
    (["run", "--pull", "never", "nosuchimage"], "No such image: nosuchimage"),
    (["run", "--pull", "sometimes", "busybox"], "invalid pull option"),
    (["run", "-p", "abc:80", "busybox"], "invalid hostPort: abc"),
    (["run", "-p", "80:99999", "busybox"], "invalid containerPort: 99999"),
    (["run", "--mount", "type=bind,source=/no/such/dir,target=/x", "busybox"], "bind source path does not exist"),
    (["run", "-v", "relative/path:/x", "busybox"], "includes invalid characters for a local volume name"),
    (["run", "--network", "bridge2", "busybox"], "network bridge2 not found"),
    (["run", "--memory", "1k", "busybox"], "Minimum memory limit allowed is 6MB"),
    (["run", "--name", "taken", "busybox", "true"], 'The container name "/taken" is already in use'),
    (["run", "-u", "nosuchuser", "busybox", "true"], "unable to find user nosuchuser"),
    (["run", "--entrypoint", "", "busybox"], "No command specified"),
]


def test_bad_input_fails_in_one_line_and_leaves_nothing(ctr):
    ctr.run("create", "--name", "taken", "busybox", "true")
    before_ids = set(ctr.ids())
    before_dirs = set(os.listdir(ctr.root / "containers"))
    for args, message in BAD_INPUT:
        result = ctr.run(*args, check=False)
        stderr = result.stderr.decode()
        assert result.returncode == 125, (args, result.returncode, stderr)
        assert stderr.count("\n") == 1 and stderr.startswith("lamina: error: "), (args, stderr)
        assert message in stderr, (args, stderr)
        leftover = set(ctr.ids()) - before_ids
        if "-u" in args:
            # docker keeps a container whose start failed (state "created"); so does lamina
            for container_id in leftover:
                ctr.run("rm", container_id)
            leftover = set()
        assert not leftover, args
        assert set(os.listdir(ctr.root / "containers")) == before_dirs, args
    assert not mounts_under(ctr.root)
