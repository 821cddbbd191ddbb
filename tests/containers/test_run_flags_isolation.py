"""``run``/``create`` flags tutorials use beyond the basics: --pid, --ipc, --sysctl, --device,
--log-driver/--log-opt, --health-*/--no-healthcheck, --platform. What the process sees, what
``inspect`` and ``ps`` show, and the refusals — against docker's private daemon where it can run
the same thing (its 20.10 client and daemon; docker refuses some only at start, lamina at create)."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

pytestmark = pytest.mark.docker

SAME_AS_DOCKER = [
    ("sysctl kernel.shmmax", ["--sysctl", "kernel.shmmax=123456"], ["cat", "/proc/sys/kernel/shmmax"]),
    ("sysctl net in a private netns", ["--sysctl", "net.ipv4.ip_forward=1"], ["cat", "/proc/sys/net/ipv4/ip_forward"]),
    ("device renamed", ["--device", "/dev/null:/dev/mynull"], ["sh", "-c", "stat -c '%F %t %T %a' /dev/mynull"]),
    ("device with permissions", ["--device", "/dev/zero:r"], ["sh", "-c", "stat -c '%F %t %T' /dev/zero"]),
    ("ipc none has no /dev/shm", ["--ipc", "none"], ["sh", "-c", "grep -c ' /dev/shm ' /proc/mounts"]),
    ("ipc host shares /dev/shm", ["--ipc", "host"], ["sh", "-c", "grep ' /dev/shm ' /proc/mounts | cut -d' ' -f3"]),
    ("ipc private", ["--ipc", "private"], ["sh", "-c", "grep -c ' /dev/shm ' /proc/mounts"]),
    ("pid host: pid 1 is the host's init", ["--pid", "host"], ["sh", "-c", "test $$ != 1 && echo not-pid-1"]),
    ("own pid namespace", [], ["sh", "-c", "echo $$"]),
]


@pytest.mark.parametrize(("label", "flags", "command"), SAME_AS_DOCKER, ids=[case[0] for case in SAME_AS_DOCKER])
def test_flag_seen_inside_as_in_docker(ctr, oracle, label, flags, command):
    mine = ctr.run("run", "--rm", "--network", "none", *flags, "busybox", *command, check=False)
    theirs = oracle.run("run", "--rm", "--network", "none", *flags, "busybox", *command, check=False)
    assert (mine.returncode, mine.stdout.decode()) == (theirs.returncode, theirs.stdout.decode()), \
        (mine.stderr, theirs.stderr)


def test_pid_host_sees_the_hosts_processes(ctr):
    count = int(ctr.out("run", "--rm", "--network", "none", "--pid", "host", "busybox", "sh", "-c",
                        "ls /proc | grep -c '^[0-9]'"))
    own = int(ctr.out("run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /proc | grep -c '^[0-9]'"))
    assert own <= 3 and count > 10, (own, count)


def test_inspect_shows_the_flags_as_docker(ctr, oracle):
    flags = ["--network", "none", "--pid", "host", "--ipc", "host", "--sysctl", "kernel.shmmax=123456",
             "--sysctl", "net.core.somaxconn=100", "--device", "/dev/null:/dev/mynull:r", "--device", "/dev/zero",
             "--log-driver", "json-file", "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
             "--health-cmd", "true", "--health-interval", "2s", "--health-retries", "4", "--health-timeout", "1m30s",
             "--health-start-period", "500ms", "busybox", "true"]

    def document(tool, *given: str) -> dict:
        container = tool.out("create", *given).strip()
        found = json.loads(tool.out("inspect", container))[0]
        tool.run("rm", container)
        host = found["HostConfig"]
        return {"host": {key: host.get(key) for key in ("PidMode", "IpcMode", "Sysctls", "Devices", "LogConfig")},
                "health": found["Config"].get("Healthcheck")}

    assert document(ctr, *flags) == document(oracle, *flags)
    plain = ["--network", "none", "busybox", "true"]
    mine, theirs = document(ctr, *plain), document(oracle, *plain)
    assert (mine["host"]["PidMode"], mine["host"]["IpcMode"], mine["host"]["LogConfig"], mine["health"]) == \
        (theirs["host"]["PidMode"], theirs["host"]["IpcMode"], theirs["host"]["LogConfig"], theirs["health"])


def test_no_healthcheck_and_partial_flags_merge_with_the_images_as_docker(ctr, oracle, tmp_path):
    for tool in (ctr, oracle):
        (tmp_path / "Dockerfile").write_text(
            "FROM busybox\nHEALTHCHECK --interval=7s --retries=5 CMD echo image\n")
        tool.run("build", "-q", "-t", "healthy:latest", str(tmp_path))

    def health(tool, *flags: str):
        container = tool.out("create", "--network", "none", *flags, "healthy", "true").strip()
        found = json.loads(tool.out("inspect", container))[0]["Config"].get("Healthcheck")
        tool.run("rm", container)
        return found

    for flags in ([], ["--no-healthcheck"], ["--health-interval", "3s"], ["--health-cmd", "exit 0"],
                  ["--health-retries", "2", "--health-timeout", "2s"]):
        assert health(ctr, *flags) == health(oracle, *flags), flags


REFUSED_LIKE_DOCKER = [
    (["--pid", "foo"], "--pid: invalid PID mode"),
    # docker 20.10's client ends "is not whitelisted", docker 28's (lamina's model) "is not allowed"
    (["--sysctl", "kernel.foo=1"], 'invalid argument "kernel.foo=1" for "--sysctl" flag: sysctl \'kernel.foo=1\' is not'),
    (["--device", "/dev/null:rel"], "rel is not an absolute path"),
    (["--log-opt", "foo=1"], "unknown log opt 'foo' for json-file log driver"),
    (["--log-driver", "none", "--log-opt", "max-size=1m"], "invalid logging opts for driver none"),
    (["--health-interval", "5"], 'time: missing unit in duration "5"'),
    (["--health-interval", "100us"], "Interval in Healthcheck cannot be less than 1ms"),
    (["--health-retries", "-1"], "--health-retries cannot be negative"),
    (["--health-cmd", "true", "--no-healthcheck"], "--no-healthcheck conflicts with --health-* options"),
    # docker's daemon takes these at create and refuses them at start: lamina refuses them first
    (["--ipc", "foo"], "Invalid IPC mode: foo"),
    (["--device", "/dev/nonexistent-device"],
     'error gathering device information while adding custom device "/dev/nonexistent-device": '
     "no such file or directory"),
    (["--log-opt", "max-size=1x"], "failed to initialize logging driver: invalid size: '1x'"),
    (["--log-driver", "nosuchdriver"], 'plugin "nosuchdriver" not found'),
]


@pytest.mark.parametrize(("flags", "message"), REFUSED_LIKE_DOCKER, ids=[" ".join(f) for f, _m in REFUSED_LIKE_DOCKER])
def test_refused_in_dockers_words(ctr, oracle, flags, message):
    theirs = oracle.run("run", "--rm", "--network", "none", *flags, "busybox", "true", check=False)
    assert theirs.returncode != 0 and message in theirs.stderr.decode(), theirs.stderr
    mine = ctr.run("run", "--rm", "--network", "none", *flags, "busybox", "true", check=False)
    stderr = mine.stderr.decode()
    assert mine.returncode == 125 and stderr.startswith("lamina: error: ") and message in stderr, stderr
    assert "Traceback" not in stderr


def test_log_driver_none_keeps_nothing_and_logs_refuses_as_docker(ctr, oracle):
    for tool in (ctr, oracle):
        tool.run("run", "--name", "quiet", "--network", "none", "--log-driver", "none", "busybox", "echo", "hi")
    theirs = oracle.run("logs", "quiet", check=False)
    mine = ctr.run("logs", "quiet", check=False)
    oracle.run("rm", "quiet")
    assert theirs.returncode != 0 and mine.returncode != 0
    assert "configured logging driver does not support reading" in theirs.stderr.decode()
    assert "configured logging driver does not support reading" in mine.stderr.decode()
    container_dir = ctr.root / "containers" / ctr.out("inspect", "-f", "{{.Id}}", "quiet").strip()
    assert not list(container_dir.glob("*-json.log*"))


def test_log_rotation_keeps_max_file_files_of_max_size(ctr):
    script = "i=0; while [ $i -lt 200 ]; do echo line-$i-of-the-rotation-test; i=$((i+1)); done"
    ctr.run("run", "--name", "chatty", "--network", "none", "--log-opt", "max-size=2k", "--log-opt", "max-file=3",
            "busybox", "sh", "-c", script)
    container_id = ctr.out("inspect", "-f", "{{.Id}}", "chatty").strip()
    logs = sorted((ctr.root / "containers" / container_id).glob("*-json.log*"))
    assert [path.name.rsplit("json.log", 1)[1] for path in logs] == ["", ".1", ".2"]
    assert all(path.stat().st_size <= 2048 for path in logs)
    lines = ctr.out("logs", "chatty").splitlines()
    assert lines[-1] == "line-199-of-the-rotation-test"
    first = int(lines[0].split("-")[1])
    assert lines == [f"line-{n}-of-the-rotation-test" for n in range(first, 200)] and first > 0
    assert ctr.out("logs", "--tail", "3", "chatty").splitlines() == lines[-3:]
    assert ctr.out("logs", "--tail", str(len(lines) - 2), "chatty").splitlines() == lines[2:]


def _health(tool, name: str) -> dict:
    return json.loads(tool.out("inspect", "-f", "{{json .State.Health}}", name))


def _wait_health(tool, name: str, status: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = _health(tool, name)
        if health and health["Status"] == status:
            return health
        time.sleep(0.2)
    raise AssertionError(f"{name} never became {status}: {_health(tool, name)}")


@pytest.mark.slow
def test_health_goes_starting_unhealthy_healthy_as_docker(ctr, oracle):
    flags = ["--network", "none", "--health-cmd", "test -e /tmp/ready && echo fine", "--health-interval", "1s",
             "--health-retries", "2"]
    script = "sleep 4; touch /tmp/ready; sleep 100"
    states = {}
    for tool in (ctr, oracle):
        tool.run("run", "-d", "--name", "probed", *flags, "busybox", "sh", "-c", script)
        assert _health(tool, "probed")["Status"] == "starting"
        unhealthy = _wait_health(tool, "probed", "unhealthy")
        assert "(unhealthy)" in tool.out("ps", "--format", "{{.Status}}", "--filter", "name=probed")
        healthy = _wait_health(tool, "probed", "healthy")
        assert "(healthy)" in tool.out("ps", "--format", "{{.Status}}", "--filter", "name=probed")
        tool.run("rm", "-f", "probed")
        states[tool is ctr] = (unhealthy, healthy)
    for unhealthy, healthy in states.values():
        assert unhealthy["FailingStreak"] >= 2 and unhealthy["Log"][-1]["ExitCode"] == 1
        assert healthy["FailingStreak"] == 0 and healthy["Log"][-1] == {**healthy["Log"][-1], "ExitCode": 0,
                                                                          "Output": "fine\n"}
        assert set(healthy) == {"Status", "FailingStreak", "Log"}
        assert set(healthy["Log"][-1]) == {"Start", "End", "ExitCode", "Output"}


@pytest.mark.slow
def test_health_probe_past_its_timeout_fails_as_docker(ctr, oracle):
    outputs = []
    for tool in (ctr, oracle):
        tool.run("run", "-d", "--name", "slowprobe", "--network", "none", "--health-cmd", "sleep 5",
                 "--health-interval", "1s", "--health-timeout", "1s", "--health-retries", "1", "busybox",
                 "sleep", "100")
        health = _wait_health(tool, "slowprobe", "unhealthy")
        tool.run("rm", "-f", "slowprobe")
        outputs.append((health["Log"][-1]["ExitCode"], health["Log"][-1]["Output"]))
    assert outputs[0] == outputs[1]


def test_platform_of_another_architecture_is_refused_with_pull_never(ctr):
    arch = ctr.out("image", "inspect", "-f", "{{.Architecture}}", "busybox").strip()
    other = "arm64" if arch != "arm64" else "amd64"
    stderr = ctr.run("run", "--rm", "--pull", "never", "--platform", f"linux/{other}", "busybox", "true",
                     check=False).stderr.decode()
    assert stderr.startswith("lamina: error: image with reference busybox was found but does not match the "
                             f"specified platform: wanted linux/{other}, actual: linux/{arch}"), stderr
    assert ctr.out("run", "--rm", "--network", "none", "--platform", f"linux/{arch}", "busybox", "echo", "ok") == "ok\n"
    bad = ctr.run("run", "--rm", "--platform", "a/b/c/d", "busybox", "true", check=False)
    assert bad.returncode == 125 and 'error parsing specified platform: "a/b/c/d"' in bad.stderr.decode()


def test_help_lists_every_new_flag(ctr):
    text = ctr.out("run", "--help")
    for flag in ("--platform", "--health-cmd", "--health-interval", "--health-retries", "--health-timeout",
                 "--health-start-period", "--no-healthcheck", "--device", "--sysctl", "--pid", "--ipc",
                 "--log-driver", "--log-opt", "--init"):
        assert re.search(rf"(^|\s){re.escape(flag)}\b", text), flag


def test_devices_node_matches_the_hosts_numbers(ctr):
    st = os.stat("/dev/zero")
    out = ctr.out("run", "--rm", "--network", "none", "--device", "/dev/zero:/dev/z", "busybox", "stat", "-c",
                  "%t %T", "/dev/z").split()
    assert [int(n, 16) for n in out] == [os.major(st.st_rdev), os.minor(st.st_rdev)]
