"""Detached containers and their lifecycle: logs, stop, kill, wait, start, restart, rm, ps,
exec, names and ID prefixes."""

from __future__ import annotations

import json
import re
import subprocess
import time

RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def test_detached_container_outlives_lamina_and_logs_everything(ctr):
    container_id = ctr.out("run", "-d", "--name", "chatty", "busybox", "sh", "-c",
                           "for i in $(seq 1 300); do echo line $i; done; echo oops >&2; "
                           "printf partial; sleep 60").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", container_id)
    ctr.wait_for(lambda: "oops" in ctr.run("logs", "chatty").stderr.decode(), what="logs")
    assert ctr.state("chatty") == "running"
    logs = ctr.run("logs", "chatty")
    assert logs.stdout.decode().splitlines()[:300] == [f"line {i}" for i in range(1, 301)]
    assert logs.stderr.decode() == "oops\n"
    log_path = ctr.out("inspect", "--format", "{{.LogPath}}", "chatty").strip()
    ctr.run("stop", "-t", "0", "chatty")
    entries = [json.loads(line) for line in open(log_path)]
    assert set(entries[0]) == {"log", "stream", "time"}
    assert all(RFC3339_NANO.match(e["time"]) for e in entries)
    assert entries[0] == {**entries[0], "log": "line 1\n", "stream": "stdout"}
    assert entries[-1]["log"] == "partial"  # an unfinished line is kept when the stream ends
    tail = ctr.run("logs", "--tail", "3", "chatty")
    assert (tail.stdout, tail.stderr) == (b"line 300\npartial", b"oops\n")
    stamped = ctr.out("logs", "-t", "--tail", "1", "chatty")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z partial$", stamped)
    assert ctr.out("logs", "--since", "1h", "chatty").count("\n") == 300
    assert ctr.out("logs", "--until", "2000-01-01T00:00:00Z", "chatty") == ""


def test_stop_sends_the_image_stop_signal(ctr):
    ctr.run("run", "-d", "--name", "graceful", "--entrypoint", "sh", "cfgimage", "-c",
            'trap "echo got USR1; exit 7" USR1; echo ready; while true; do sleep 0.1; done')
    ctr.wait_for(lambda: "ready" in ctr.out("logs", "graceful"), what="trap")
    started = time.monotonic()
    assert ctr.out("stop", "graceful") == "graceful\n"
    assert time.monotonic() - started < 9  # not the 10 s stop timeout a TERM-ignoring wait would take
    assert "got USR1" in ctr.out("logs", "graceful")
    assert ctr.out("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "graceful") == "exited 7\n"


def test_stop_escalates_to_sigkill_after_the_timeout(ctr):
    ctr.run("run", "-d", "--name", "stubborn", "busybox", "sh", "-c",
            'trap "" TERM; echo ready; while true; do sleep 0.1; done')
    ctr.wait_for(lambda: "ready" in ctr.out("logs", "stubborn"), what="trap")
    started = time.monotonic()
    ctr.run("stop", "-t", "1", "stubborn")
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 9, elapsed  # waited the 1 s asked for, not the default 10 s
    assert ctr.out("ps", "-a", "--filter", "name=stubborn", "--format", "{{.Status}}").startswith("Exited (137)")


def test_kill_wait_start_restart(ctr):
    ctr.run("run", "-d", "--name", "cycle", "busybox", "sh", "-c",
            'echo run >> /runs; trap "exit 42" USR2; echo ready; while true; do sleep 0.1; done')
    ctr.wait_for(lambda: "ready" in ctr.out("logs", "cycle"), what="start")
    waiter = subprocess.Popen([*_cli(ctr), "wait", "cycle"], stdout=subprocess.PIPE, env=ctr.env())
    ctr.run("kill", "-s", "USR2", "cycle")
    assert waiter.communicate(timeout=20)[0] == b"42\n"
    assert ctr.run("kill", "cycle", check=False).returncode == 1  # not running
    assert ctr.out("start", "cycle") == "cycle\n"
    ctr.wait_for(lambda: ctr.out("logs", "cycle").count("ready") == 2, what="second start")
    assert ctr.out("exec", "cycle", "cat", "/runs") == "run\nrun\n"  # the filesystem survived the stop
    ctr.run("restart", "-t", "0", "cycle")
    ctr.wait_for(lambda: ctr.out("logs", "cycle").count("ready") == 3, what="restart")
    assert ctr.state("cycle") == "running"


def test_auto_remove(ctr):
    before = set(ctr.ids())
    assert ctr.out("run", "--rm", "busybox", "echo", "gone") == "gone\n"
    ctr.run("run", "-d", "--rm", "--name", "shortlived", "busybox", "sleep", "0.2")
    ctr.wait_for(lambda: set(ctr.ids()) == before, what="--rm removal")
    assert not (ctr.root / "containers").exists() or all(
        p.name in {i for i in before} for p in (ctr.root / "containers").iterdir())


def test_rm_refuses_running_container_unless_forced(ctr):
    container_id = ctr.out("run", "-d", "busybox", "sleep", "60").strip()
    error = ctr.fails("rm", container_id[:8])
    assert "You cannot remove a running container" in error
    assert ctr.out("rm", "-f", container_id[:8]) == container_id[:8] + "\n"
    assert container_id not in ctr.ids()
    assert not (ctr.root / "containers" / container_id).exists()


def test_ps_columns_statuses_and_filters(ctr):
    ctr.run("create", "--name", "ps-created", "busybox", "true")
    ctr.run("run", "--name", "ps-exited", "busybox", "sh", "-c", "exit 3", check=False)
    ctr.run("run", "-d", "--name", "ps-running", "busybox", "sleep", "60")
    table = ctr.out("ps", "-a", "--filter", "name=ps-")
    header, *rows = table.splitlines()
    assert re.split(r"\s{2,}", header) == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
                                           "NAMES"]
    by_name = {row.split()[-1]: row for row in rows}
    assert "Created" in by_name["ps-created"]
    assert re.search(r"Exited \(3\) (Less than a second|\d+ seconds?) ago", by_name["ps-exited"])
    assert re.search(r"Up (Less than a second|\d+ seconds?)", by_name["ps-running"])
    assert '"sleep 60"' in by_name["ps-running"]
    assert ctr.out("ps", "--filter", "name=ps-", "--format", "{{.Names}}") == "ps-running\n"
    assert ctr.out("ps", "--filter", "status=exited", "--filter", "name=ps-", "--format", "{{.Names}}") == \
        "ps-exited\n"
    assert ctr.out("ps", "-a", "--filter", "ancestor=busybox", "--filter", "name=ps-c", "--format",
                   "{{.Names}} {{.Image}} {{.State}}") == "ps-created busybox created\n"
    assert ctr.out("ps", "-a", "--filter", "ancestor=cfgimage", "--filter", "name=ps-").count("\n") == 1
    quiet = ctr.out("ps", "-q", "--filter", "name=ps-running").split()
    assert len(quiet) == 1 and len(quiet[0]) == 12
    assert ctr.fails("ps", "--filter", "colour=blue").startswith("lamina: error: Invalid filter 'colour'")


def test_exec_runs_in_the_container(ctr):
    ctr.run("run", "-d", "--name", "target", "-e", "FROM_RUN=1", "-w", "/tmp", "busybox", "sleep", "60")
    assert ctr.out("exec", "target", "pwd") == "/tmp\n"
    assert ctr.out("exec", "-u", "alice", "-w", "/", "-e", "EXTRA=2", "target", "sh", "-c",
                   "id -un; pwd; echo $FROM_RUN$EXTRA") == "alice\n/\n12\n"
    assert ctr.run("exec", "target", "sh", "-c", "exit 5", check=False).returncode == 5
    assert ctr.run("exec", "-i", "target", "wc", "-c", input=b"abcd").stdout.decode().strip() == "4"
    missing = ctr.run("exec", "target", "nosuchcommand", check=False)
    assert missing.returncode in (126, 127) and b"executable file not found" in missing.stderr
    ctr.run("stop", "-t", "0", "target")
    assert "is not running" in ctr.fails("exec", "target", "true")


def test_names_and_id_prefixes(ctr):
    container_id = ctr.out("create", "busybox", "true").strip()
    name = ctr.out("inspect", "--format", "{{.Name}}", container_id[:10]).strip()
    assert re.fullmatch(r"/[a-z]+_[a-z]+\d?", name)
    assert ctr.out("container", "inspect", "--format", "{{.Id}}", name.lstrip("/")) == container_id + "\n"
    ctr.run("create", "--name", "taken", "busybox", "true")
    error = ctr.fails("create", "--name", "taken", "busybox", "true")
    assert 'The container name "/taken" is already in use' in error
    assert ctr.fails("create", "--name", "bad name!", "busybox").count("\n") == 1
    assert "No such container: nosuch" in ctr.fails("stop", "nosuch")


def _cli(ctr) -> list[str]:
    import sys

    return [sys.executable, "-m", "lamina"]
