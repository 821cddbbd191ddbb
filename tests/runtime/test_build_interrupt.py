"""Interrupting a build mid-RUN leaves no mounts and no container, and the next build succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Lamina

pytestmark = pytest.mark.slow


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve())
    with open("/proc/self/mountinfo") as mountinfo:
        return [line.split()[4] for line in mountinfo if line.split()[4].startswith(prefix)]


def _start_slow_build(lamina: Lamina, context: Path) -> subprocess.Popen:
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo step-is-running && sleep 30\n")
    process = subprocess.Popen([sys.executable, "-m", "lamina", "build", "--no-cache", "--network", "none",
                                "--secret", "id=token,env=HOME", "-t", "slow:1", str(context)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=lamina.env())
    deadline = time.time() + 60
    seen = b""
    while time.time() < deadline and b"\nstep-is-running\n" not in seen:  # the output, not the step line
        seen += process.stdout.read1(4096)
    assert b"\nstep-is-running\n" in seen, seen
    return process


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_an_interrupted_build_cleans_up(lamina: Lamina, imported_busybox, tmp_path, sig):
    context = tmp_path / "ctx"
    context.mkdir()
    process = _start_slow_build(lamina, context)
    assert _mounts_under(lamina.root)  # the RUN step's overlay is mounted now
    assert list((lamina.root / "tmp").glob("build-*/secrets/*"))  # the secret from the environment, as a file
    os.kill(process.pid, sig)
    process.wait(timeout=60)
    assert process.returncode != 0
    if sig == signal.SIGINT:
        assert not _mounts_under(lamina.root)  # unwound at once
    # the next build cleans what a killed one left, then works
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo again > /again\n")
    lamina.out("build", "--network", "none", "-t", "next:1", str(context))
    assert not _mounts_under(lamina.root)
    assert not list((lamina.root / "tmp").iterdir())  # the killed build's scratch dir (secrets) is gone too
    assert lamina.out("run", "--rm", "--network", "none", "next:1", "cat", "/again") == "again\n"
    assert "0 problems, clean" in lamina.out("fsck")
    leftovers = subprocess.run(["pgrep", "-f", "sleep 30"], capture_output=True).stdout.split()
    assert all(not _in_store(int(pid), lamina.root) for pid in leftovers)


def _in_store(pid: int, root: Path) -> bool:
    """Whether a process runs inside one of this store's containers (its root is under the store)."""
    try:
        return os.readlink(f"/proc/{pid}/root").startswith(str(root.resolve()))
    except OSError:
        return False
