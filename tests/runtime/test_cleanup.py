"""A step interrupted by Ctrl-C or SIGTERM cleans up after itself; one whose process was
SIGKILLed leaves a container and a mount that the next run removes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lamina.runtime.step import cleanup_stale, runc_for
from lamina.store.store import Store

from .helpers import mounts_containing

STEP_SCRIPT = """
import sys
from lamina.runtime.spec import ProcessSpec
from lamina.runtime.step import run_in_snapshot
from lamina.store.store import Store
store = Store(sys.argv[1])
run_in_snapshot(store, sys.argv[2:], ProcessSpec(args=["/bin/sleep", "60"]))
"""


def _start_step(store: Store, layers: list[str]) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", STEP_SCRIPT, str(store.root), *layers])
    ephemeral = str(Path(store.root) / "runtime" / "ephemeral")
    runc = runc_for(Path(store.root))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if mounts_containing(ephemeral) and any(c.get("status") == "running" for c in runc.list()):
            return process
        assert process.poll() is None, "the step ended before it was running"
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the step's container never started")


def _leftovers(store: Store) -> tuple[list[str], list[dict], list[str]]:
    ephemeral = Path(store.root) / "runtime" / "ephemeral"
    dirs = sorted(os.listdir(ephemeral)) if ephemeral.exists() else []
    return mounts_containing(str(ephemeral)), runc_for(Path(store.root)).list(), dirs


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_step_removes_its_container_and_mount(store: Store, base_layers: list[str], signum: int):
    process = _start_step(store, base_layers)
    process.send_signal(signum)
    assert process.wait(20) != 0
    assert _leftovers(store) == ([], [], [])


def test_a_killed_steps_leftovers_are_cleaned_by_the_next_run(store: Store, base_layers: list[str]):
    process = _start_step(store, base_layers)
    process.kill()
    process.wait(20)
    mounted, containers, dirs = _leftovers(store)
    assert mounted and containers and dirs  # SIGKILL gave it no chance
    assert cleanup_stale(Path(store.root)) == 1
    assert _leftovers(store) == ([], [], [])


def test_cleanup_leaves_a_running_step_alone(store: Store, base_layers: list[str]):
    process = _start_step(store, base_layers)
    try:
        assert cleanup_stale(Path(store.root)) == 0
        mounted, containers, dirs = _leftovers(store)
        assert mounted and containers and dirs
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(20)
    assert _leftovers(store) == ([], [], [])
