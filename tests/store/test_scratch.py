"""Per-process scratch dirs in the store: removed on exit, and swept after a killed process."""

from __future__ import annotations

import os
import subprocess
import sys

from lamina.procstat import process_alive, process_start_time
from lamina.store.scratch import scratch_dir, sweep_scratch


def test_a_scratch_dir_is_private_and_gone_afterwards(tmp_path):
    with scratch_dir(tmp_path, "build") as path:
        assert path.parent == tmp_path / "tmp"
        assert path.name.startswith(f"build-{os.getpid()}-{process_start_time(os.getpid())}-")
        assert path.stat().st_mode & 0o777 == 0o700
        (path / "secret").write_text("s3cret")
    assert not path.exists()


def test_sweep_removes_only_what_dead_processes_left(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    dead_start = process_start_time(child.pid)
    child.wait()
    base = tmp_path / "tmp"
    base.mkdir()
    dead = base / f"build-{child.pid}-{dead_start or 1}-00ff00ff"
    reused = base / f"build-{os.getpid()}-{process_start_time(os.getpid()) + 1}-00ff00ff"  # pid reused since
    live = base / f"build-{os.getpid()}-{process_start_time(os.getpid())}-00ff00ff"
    foreign = base / "not-ours"
    for path in (dead, reused, live, foreign):
        (path / "sub").mkdir(parents=True)
    assert sorted(sweep_scratch(tmp_path)) == sorted([dead.name, reused.name])
    assert live.exists() and foreign.exists()
    assert not dead.exists() and not reused.exists()


def test_process_alive_tells_a_reused_pid_apart():
    me = os.getpid()
    assert process_alive(me, process_start_time(me))
    assert process_alive(me, 0)  # no start time recorded: the pid is enough
    assert not process_alive(me, process_start_time(me) + 1)
    assert not process_alive(0, 0)


def test_sweep_of_a_store_without_scratch_dirs_is_a_no_op(tmp_path):
    assert sweep_scratch(tmp_path) == []
