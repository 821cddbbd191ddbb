"""Restart policies kept by the monitor (compared with docker), and ``attach``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def _settle(tool, name: str, timeout: float = 15.0) -> str:
    """Wait until the container has stopped for good; its 'RestartCount Status ExitCode'."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = tool.out("inspect", "--format", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}", name)
        if " exited " in state:
            time.sleep(1.5)  # docker's back-off: make sure no further restart comes
            again = tool.out("inspect", "--format", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}", name)
            if again == state:
                return state.strip()
        time.sleep(0.1)
    raise AssertionError(f"{name} did not settle")


def test_on_failure_restarts_up_to_the_limit_like_docker(ctr, oracle):
    results = {label: _restarts(tool) for label, tool in (("lamina", ctr), ("docker", oracle))}
    if results["lamina"] != results["docker"]:  # dockerd 20.10 is flaky here: ask it again
        results["docker"] = _restarts(oracle)
    assert results["lamina"] == results["docker"]
    assert results["lamina"][0] == "2 exited 3"


def _restarts(tool) -> tuple:
    tool.run("run", "-d", "--name", "flaky", "--network", "none", "--restart", "on-failure:2", "busybox",
             "sh", "-c", "echo attempt; exit 3")
    try:
        return (_settle(tool, "flaky"), tool.out("logs", "flaky"),
                tool.out("inspect", "--format", "{{json .HostConfig.RestartPolicy}}", "flaky"))
    finally:
        tool.run("rm", "-f", "flaky", check=False)


def test_on_failure_leaves_a_clean_exit_alone(ctr):
    ctr.run("run", "-d", "--name", "clean", "--restart", "on-failure", "busybox", "true")
    assert _settle(ctr, "clean") == "0 exited 0"


def test_always_restarts_until_stopped_and_start_resets_the_count(ctr, tmp_path):
    # /ctl/hold (a bind mount the test writes) makes the started container stay up: the count read
    # after `start` is then the reset one, not one that raced further restarts on a busy machine.
    control = tmp_path / "ctl"
    control.mkdir()
    ctr.run("run", "-d", "--name", "phoenix", "--restart", "always", "-v", f"{control}:/ctl", "busybox",
            "sh", "-c", "echo up; test -e /ctl/hold && exec sleep 1000; sleep 0.2")
    ctr.wait_for(lambda: int(ctr.out("inspect", "--format", "{{.RestartCount}}", "phoenix")) >= 2,
                 timeout=20, what="two restarts")
    assert ctr.out("stop", "-t", "1", "phoenix") == "phoenix\n"
    stopped = ctr.out("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", "phoenix").split()
    time.sleep(1.0)
    assert ctr.out("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", "phoenix").split() == stopped
    assert stopped[1] == "exited" and int(stopped[0]) >= 2
    (control / "hold").write_text("")
    ctr.run("start", "phoenix")
    ctr.wait_for(lambda: ctr.out("logs", "phoenix").count("up") == int(stopped[0]) + 2, what="the held start")
    assert ctr.out("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", "phoenix") == "0 running\n"
    ctr.run("rm", "-f", "phoenix")
    assert "phoenix" not in ctr.out("ps", "-a", "--format", "{{.Names}}")


def test_a_foreground_run_reports_its_code_and_hands_the_restart_over(ctr):
    result = ctr.run("run", "--name", "handover", "--restart", "on-failure:1", "busybox", "sh", "-c",
                     "echo try; exit 5", check=False)
    assert (result.returncode, result.stdout) == (5, b"try\n")
    assert _settle(ctr, "handover") == "1 exited 5"
    assert ctr.out("logs", "handover") == "try\ntry\n"


BAD_RESTART = [
    (["--restart", "sometimes"], "invalid restart policy 'sometimes'"),
    (["--restart", "on-failure:x"], "invalid restart policy format: maximum retry count must be an integer"),
    (["--restart", "always:3"], "maximum retry count cannot be used with restart policy 'always'"),
    (["--restart", "always", "--rm"], "conflicting options: cannot specify both --restart and --rm"),
]


def test_bad_restart_policies_are_refused_in_one_line(ctr):
    before = set(ctr.ids())
    for flags, message in BAD_RESTART:
        result = ctr.run("run", *flags, "busybox", "true", check=False)
        stderr = result.stderr.decode()
        assert result.returncode == 125 and stderr.count("\n") == 1 and message in stderr, (flags, stderr)
    assert set(ctr.ids()) == before


def test_attach_streams_new_output_and_forwards_signals(ctr):
    ctr.run("run", "-d", "--name", "talker", "busybox", "sh", "-c",
            'trap "echo got INT; exit 9" INT; echo before; while true; do sleep 0.1; done')
    ctr.wait_for(lambda: "before" in ctr.out("logs", "talker"), what="start")
    attached = subprocess.Popen([sys.executable, "-m", "lamina", "attach", "talker"], env=ctr.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)
    attached.send_signal(signal.SIGINT)
    out, err = attached.communicate(timeout=20)
    assert (attached.returncode, out) == (9, b"got INT\n"), err  # only what came after attaching
    result = ctr.run("attach", "talker", check=False)
    assert result.returncode == 1
    assert result.stderr.decode() == "lamina: error: You cannot attach to a stopped container, start it first\n"


def test_a_killed_monitor_ends_the_restarting_honestly(ctr):
    from tests.containers.conftest import mounts_under
    from tests.containers.test_crash_and_errors import _monitor_pid

    container_id = ctr.out("run", "-d", "--name", "looping", "--restart", "always", "busybox", "sh", "-c",
                           "exit 2").strip()
    ctr.wait_for(lambda: int(ctr.out("inspect", "--format", "{{.RestartCount}}", "looping")) >= 2,
                 timeout=20, what="restarts")
    os.kill(_monitor_pid(container_id), signal.SIGKILL)
    ctr.wait_for(lambda: ctr.state("looping") == "exited", what="exited")  # never 'restarting' for good
    assert ctr.out("ps", "-a", "--filter", "name=looping", "--format", "{{.Status}}").startswith("Exited (")
    ctr.run("rm", "-f", "looping")
    assert not mounts_under(ctr.root / "containers" / container_id)
    assert not (ctr.root / "containers" / container_id).exists()
