"""A build's scratch dirs in the store: private, removed on exit, swept after a killed process
(never while their process lives), and a mount left inside is unmounted, not deleted through."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lamina.procstat import process_alive, process_start_time
from lamina.runtime.mounts import bind_mount, mounts_under
from lamina.runtime.scratch import scratch_dir, sweep_scratch

_HOLD = """
import sys, time
from pathlib import Path
from lamina.runtime.scratch import scratch_dir
with scratch_dir(Path(sys.argv[1]), "build") as path:
    (path / "secret").write_text("s3cret")
    print(path, flush=True)
    time.sleep(60)
"""


def _holder(store: Path) -> tuple[subprocess.Popen, Path]:
    """A process that holds a scratch dir (with a secret in it) until killed."""
    process = subprocess.Popen([sys.executable, "-c", _HOLD, str(store)], stdout=subprocess.PIPE, text=True)
    return process, Path(process.stdout.readline().strip())


def test_a_scratch_dir_is_private_and_gone_afterwards(tmp_path):
    with scratch_dir(tmp_path, "build") as path:
        assert path.parent == tmp_path / "tmp" and path.name.startswith("build-")
        assert path.stat().st_mode & 0o777 == 0o700
        (path / "secret").write_text("s3cret")
    assert not path.exists()


def test_sweep_keeps_a_live_builds_dir_and_removes_a_killed_ones(tmp_path):
    process, path = _holder(tmp_path)
    try:
        assert (path / "secret").exists()
        assert sweep_scratch(tmp_path) == 0 and path.exists()  # its process lives
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert path.exists()  # SIGKILL: nothing ran
        assert sweep_scratch(tmp_path) == 1 and not path.exists()
    finally:
        process.kill()


def test_a_mount_left_in_a_killed_builds_dir_is_unmounted_before_removal(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("needs root to mount: run the suite as root, as 'make test' does")
    keep = tmp_path / "outside"
    keep.mkdir()
    (keep / "precious").write_text("never deleted through a mount")
    process, path = _holder(tmp_path / "store")
    (path / "view").mkdir()
    bind_mount(keep, path / "view")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert sweep_scratch(tmp_path / "store") == 1
    assert not mounts_under(path) and not path.exists()
    assert (keep / "precious").read_text() == "never deleted through a mount"


def test_process_alive_tells_a_reused_pid_apart():
    me = os.getpid()
    assert process_alive(me, process_start_time(me))
    assert process_alive(me, 0)  # no start time recorded: the pid is enough
    assert not process_alive(me, process_start_time(me) + 1)
    assert not process_alive(0, 0)
