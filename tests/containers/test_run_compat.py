"""``lamina run`` against ``docker run --network none`` of the same image: exit codes, output,
environment, user, working dir, entrypoint/cmd combinations."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

CASES = [
    ("exit code", ["busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]),
    ("true", ["busybox", "true"]),
    ("not found", ["busybox", "nosuchcommand"]),
    ("not executable", ["busybox", "/etc/passwd"]),
    ("environment", ["-e", "A=1", "-e", "UNSET_ON_HOST_XYZ", "busybox", "sh", "-c", "env | grep -v ^HOSTNAME= | sort"]),
    ("env file style", ["-e", "PATH=/bin", "-e", "X=y z", "busybox", "sh", "-c", "echo $PATH $X $HOME"]),
    ("user by name", ["-u", "alice", "busybox", "id"]),
    ("user by uid:gid", ["-u", "1234:50", "busybox", "sh", "-c", "id; echo $HOME"]),
    ("workdir created", ["-w", "/new/dir", "busybox", "pwd"]),
    ("image config", ["cfgimage"]),
    ("cmd replaces image cmd", ["cfgimage", "echo replaced"]),
    ("entrypoint replaces both", ["--entrypoint", "id", "cfgimage"]),
    ("entrypoint with args", ["--entrypoint", "echo", "cfgimage", "a", "b"]),
    ("user flag over image user", ["-u", "root", "cfgimage", "id -u"]),
    ("hostname flag", ["-h", "myhost", "busybox", "hostname"]),
    ("env order", ["-e", "GREETING=bye", "cfgimage", "env | grep -v HOSTNAME | sort"]),
    ("signal exit", ["busybox", "sh", "-c", "kill -TERM $$; sleep 1"]),
    ("read only rootfs", ["--read-only", "busybox", "sh", "-c", "touch /x; echo $?"]),
]


def test_run_matches_docker(ctr, oracle):
    """Every case runs in both; lamina's runs go concurrently, docker's one at a time (dockerd
    20.10's overlay driver races with itself under load: ``Stat …-init/merged/dev: no such
    file``, or an image file reported missing)."""
    docker_lock = threading.Lock()

    def compare(case):
        label, args = case
        mine = ctr.run("run", "--rm", "--network", "none", *args, check=False)
        with docker_lock:
            theirs = oracle.run("run", "--rm", "--network", "none", *args, check=False)
            if (mine.returncode, mine.stdout) != (theirs.returncode, theirs.stdout):
                # dockerd 20.10 sometimes fails a run under load (a layer not yet mounted): ask twice
                theirs = oracle.run("run", "--rm", "--network", "none", *args, check=False)
        problems = []
        if (mine.returncode, mine.stdout) != (theirs.returncode, theirs.stdout):
            problems.append(f"{label}: lamina rc={mine.returncode} {mine.stdout!r} {mine.stderr!r}, "
                            f"docker rc={theirs.returncode} {theirs.stdout!r} {theirs.stderr!r}")
        if mine.returncode in (125, 126, 127):
            lines = mine.stderr.decode().splitlines()
            if len(lines) != 1 or not lines[0].startswith("lamina: error: "):
                problems.append(f"{label}: error is not one line: {lines}")
        return problems

    with ThreadPoolExecutor(max_workers=6) as pool:
        problems = [p for result in pool.map(compare, CASES) for p in result]
    assert not problems, "\n".join(problems)


def test_missing_command_leaves_created_container_like_docker(ctr):
    result = ctr.run("run", "--name", "broken", "busybox", "nosuchcommand", check=False)
    assert result.returncode == 127
    assert 'executable file not found' in result.stderr.decode()
    assert ctr.state("broken") == "created"
    assert ctr.out("inspect", "--format", "{{.State.ExitCode}}", "broken").strip() == "127"
    ctr.run("rm", "broken")


def test_stdin_is_passed_with_interactive(ctr):
    result = ctr.run("run", "--rm", "-i", "busybox", "wc", "-l", input=b"a\nb\nc\n")
    assert result.stdout.decode().strip() == "3"
    result = ctr.run("run", "--rm", "busybox", "wc", "-l", input=b"a\nb\n")
    assert result.stdout.decode().strip() == "0"  # no -i: stdin is empty, as in docker


def test_init_reaps_and_forwards(ctr):
    out = ctr.out("run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '")
    assert out.startswith("/sbin/docker-init -- sh -c")


def test_tty_output_uses_crlf(ctr):
    out = ctr.out("run", "--rm", "-t", "busybox", "echo", "tty")
    assert out == "tty\r\n"
