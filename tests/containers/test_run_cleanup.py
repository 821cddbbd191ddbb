"""What a foreground ``run --rm`` leaves once it has returned: nothing, even though part of the
teardown (``runc delete``) finishes after the exit code is reported."""

from __future__ import annotations

import glob
import os
import socket
import time

from tests.containers.conftest import mounts_under


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _slirp_processes() -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if b"slirp4netns" in cmdline.read():
                        found.append(entry)
            except OSError:
                continue
    return found


def test_run_rm_leaves_no_row_mount_runtime_state_cgroup_or_port(ctr):
    port = _free_port()
    before_slirp = set(_slirp_processes())
    result = ctr.run("run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c",
                     "cat /proc/self/cgroup | grep -o 'lamina/[0-9a-f]*' | head -1; exit 3", check=False)
    assert result.returncode == 3
    container_id = result.stdout.decode().strip().split("/")[-1]
    assert len(container_id) == 64
    assert container_id not in ctr.ids()
    assert not (ctr.root / "containers" / container_id).exists()
    assert not mounts_under(ctr.root)
    with socket.socket() as again:  # the published port is free as soon as run returned
        again.bind(("127.0.0.1", port))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        runc_state = ctr.root / "runtime" / "runc" / container_id
        leftovers = ([str(runc_state)] if runc_state.exists() else []) + sorted(set(_slirp_processes()) - before_slirp)
        leftovers += glob.glob(f"/sys/fs/cgroup/*/lamina/{container_id}")  # v1, one per controller
        leftovers += glob.glob(f"/sys/fs/cgroup/lamina/{container_id}")  # v2
        if not leftovers:
            break
        time.sleep(0.05)
    assert not leftovers
