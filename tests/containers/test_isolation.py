"""What a container may not do or see, and the cgroup limits."""

from __future__ import annotations

import pytest


def test_container_sees_only_its_own_processes(ctr):
    out = ctr.out("run", "--rm", "busybox", "sh", "-c", "ps -o pid,comm | tail -n +2; ls /proc | grep -c '^[0-9]'")
    lines = out.splitlines()
    assert lines[0].split() == ["1", "sh"]
    assert int(lines[-1]) <= 3  # sh, ps/ls and grep: no host process


def test_container_cannot_mount_or_escape(ctr):
    script = ("mount -t tmpfs none /mnt 2>/dev/null && echo mounted; "
              "unshare -U true 2>/dev/null && echo userns; "
              "echo 1 > /proc/sys/kernel/panic 2>/dev/null && echo sysctl; "
              "cat /proc/kcore 2>/dev/null | head -c 1 | wc -c; "
              "grep -c . /proc/keys 2>/dev/null || true; "
              "grep NoNewPrivs /proc/self/status; grep Seccomp: /proc/self/status; grep CapEff /proc/self/status")
    out = ctr.out("run", "--rm", "busybox", "sh", "-c", script)
    assert "mounted" not in out and "userns" not in out and "sysctl" not in out
    assert "NoNewPrivs:\t1" in out
    assert "Seccomp:\t2" in out
    assert "CapEff:\t00000000a80425fb" in out  # docker's default capability set
    assert out.splitlines()[0] == "0"  # /proc/kcore is masked


def test_pids_and_cpu_limits(ctr):
    result = ctr.run("run", "--rm", "--pids-limit", "8", "--cpus", "0.5", "busybox", "sh", "-c",
                     "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us; "
                     "for i in $(seq 1 20); do sleep 5 & done", check=False)
    assert result.stdout.split() == [b"8", b"50000"]
    assert b"can't fork" in result.stderr


@pytest.mark.slow
def test_memory_limit_kills_an_allocating_process_and_inspect_says_oom(ctr):
    result = ctr.run("run", "--name", "hog", "--memory", "16m", "busybox", "sh", "-c",
                     "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived", check=False)
    assert result.returncode == 137
    assert b"survived" not in result.stdout
    assert ctr.out("inspect", "--format", "{{.State.OOMKilled}} {{.State.ExitCode}} {{.HostConfig.Memory}}",
                   "hog") == "true 137 16777216\n"
    assert ctr.out("inspect", "--format", "{{.State.OOMKilled}}", ctr.out("run", "-d", "busybox", "true").strip()
                   ) in ("false\n",)
