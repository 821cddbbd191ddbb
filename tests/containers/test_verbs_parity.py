"""stop/kill/rm/start/logs/exec/inspect against docker: their refusals (words and exit
statuses), exec's environment and pty, and the few options a docker user reaches for."""

from __future__ import annotations

import io
import tarfile
import time

from tests.containers.conftest import refusal

EXEC_CASES = [
    ["-w", "/nonexist", "box", "pwd"],
    ["-w", "relative", "box", "pwd"],
    ["box", "nosuchcommand"],
    ["box", "/etc/passwd"],
    ["box", "/no/such/file"],
    ["box", "./relative"],
    ["-u", "nosuchuser", "box", "id"],
    ["box", "sh", "-c", "exit 9"],
    ["-e", "GREETING", "-e", "EXTRA=1", "-e", "FROM_HOST", "box", "env"],
    ["-t", "box", "env"],
    ["-u", "root", "-w", "/data", "box", "sh", "-c", "pwd; ls"],
]


def _error_line(result) -> str:
    """docker's refusal (the 20.10 client prints an exec's on stdout) without its prefix."""
    text = (result.stderr or result.stdout).decode().strip()
    return text.removeprefix("Error response from daemon: ").rstrip(".")


def test_exec_matches_docker(ctr, oracle, monkeypatch):
    monkeypatch.setenv("FROM_HOST", "host-value")
    args = ["run", "-d", "--name", "box", "--network", "none", "-e", "FOO=1", "-w", "/tmp", "cfgimage", "sleep 300"]
    ctr.run(*args)
    oracle.run(*args)
    problems = []
    try:
        for case in EXEC_CASES:
            mine, theirs = ctr.run("exec", *case, check=False), _docker_exec(oracle, args, case)
            if theirs.returncode == 126:
                expected = f"lamina: error: {_error_line(theirs)}\n"
                if (mine.returncode, mine.stdout, mine.stderr.decode()) != (126, b"", expected):
                    problems.append(f"{case}: {mine.returncode} {mine.stderr.decode()!r} != {expected!r}")
                continue
            mine_out = [line for line in mine.stdout.splitlines() if not line.startswith(b"HOSTNAME=")]
            their_out = [line for line in theirs.stdout.splitlines() if not line.startswith(b"HOSTNAME=")]
            if (mine.returncode, mine_out) != (theirs.returncode, their_out):
                problems.append(f"{case}: {mine.returncode} {mine_out} != {theirs.returncode} {their_out}")
    finally:
        oracle.run("rm", "-f", "box", check=False)
    assert not problems, "\n".join(problems)


def _docker_exec(oracle, run_args: list[str], case: list[str]):
    """The oracle's exec; dockerd 20.10 under load sometimes loses a container's rootfs (every
    exec then says ``unable to find user``): the container is made again and asked again."""
    for _attempt in range(3):
        result = oracle.run("exec", *case, check=False)
        if b"unable to find user" not in result.stdout + result.stderr or "nosuchuser" in case:
            return result
        oracle.run("rm", "-f", "box", check=False)
        oracle.run(*run_args)
    return result


def test_exec_with_a_pty_needs_no_terminal_here(ctr):
    ctr.run("run", "-d", "--name", "ptybox", "busybox", "sleep", "300")
    assert ctr.out("exec", "-t", "ptybox", "sh", "-c", "test -t 1 && echo tty; exit 0") == "tty\r\n"
    assert ctr.run("exec", "-t", "ptybox", "sh", "-c", "exit 4", check=False).returncode == 4
    piped = ctr.run("exec", "-i", "-t", "ptybox", "cat", input=b"x\n", check=False)
    assert (piped.returncode, piped.stderr) == (1, b"lamina: error: the input device is not a TTY\n")


def _started_target(tool) -> tuple[str, ...]:
    tool.run("run", "-d", "--name", "target", "--network", "none", "busybox", "sh", "-c",
             'trap "echo got USR1; exit 5" USR1; echo ready; while true; do sleep 0.1; done')
    deadline = time.monotonic() + 20
    while "ready" not in tool.out("logs", "target"):
        assert time.monotonic() < deadline, "the trap was not set"
        time.sleep(0.1)
    return (tool.out("inspect", "--format", "{{.Id}}", "target").strip(),)


def _kill_rm_start(tool) -> list:
    """The refusals of kill/rm/start on a running, then an exited container, and on no container."""
    ids = _started_target(tool)
    seen = [refusal(tool.run("kill", "-s", signal_text, "target", check=False), ids)
            for signal_text in ("BOGUS", "0", "99")]
    seen.append(tool.out("inspect", "--format", "{{.State.Status}}", "target"))
    seen.append(tool.out("kill", "-s", "USR1", "target"))
    seen.append(tool.out("wait", "target"))
    seen.append(tool.out("logs", "target"))
    seen.append(refusal(tool.run("kill", "target", check=False), ids))
    seen.append(refusal(tool.run("rm", "-f", "nosuch", check=False), ids))
    seen.append(refusal(tool.run("rm", "nosuch", check=False), ids))
    seen.append(refusal(tool.run("start", "-a", "target", "target", check=False), ids))
    tool.run("rm", "-f", "target", check=False)
    return seen


def test_kill_rm_and_start_refusals_like_docker(ctr, oracle28):
    """Compared with docker 28's client on the private dockerd: same statuses, same words."""
    ours, theirs = _kill_rm_start(ctr), _kill_rm_start(oracle28)
    assert ours == theirs
    assert ours[0] == (1, "Invalid signal: BOGUS") and ours[3] == "running\n" and ours[5] == "5\n"
    assert ours[7] == (1, "Cannot kill container: target: Container <id> is not running")


def test_stop_signal_refusal_and_choice(ctr):
    """Specification, not compared: ``stop --signal`` needs API 1.42 (docker 23+), and the private
    dockerd is 20.10, which ignores the flag. Source: docs.docker.com/reference/cli/docker/container/stop/
    (``--signal``) and moby's daemon/stop.go, which refuses an unknown signal as 'Invalid signal: X'."""
    _started_target(ctr)
    result = ctr.run("stop", "-s", "BOGUS", "target", check=False)
    assert (result.returncode, result.stderr.decode()) == (1, "lamina: error: Invalid signal: BOGUS\n")
    assert ctr.state("target") == "running"
    assert ctr.out("stop", "--signal", "USR1", "--timeout", "5", "target") == "target\n"
    assert "got USR1" in ctr.out("logs", "target")
    assert ctr.out("inspect", "--format", "{{.State.ExitCode}}", "target") == "5\n"


def test_logs_options_like_docker(ctr, oracle):
    script = "echo a; echo b >&2; sleep 0.3; echo c"  # the streams are read apart: let b land first
    for tool in (ctr, oracle):
        tool.run("run", "--name", "talky", "--network", "none", "busybox", "sh", "-c", script)
    try:
        for flags in (["--details"], ["--tail", "x"], ["--tail", "1"], ["-n", "0"]):
            mine, theirs = ctr.run("logs", *flags, "talky"), oracle.run("logs", *flags, "talky")
            assert (mine.stdout, mine.stderr) == (theirs.stdout, theirs.stderr), flags
    finally:
        oracle.run("rm", "-f", "talky", check=False)
    bad = ctr.run("logs", "--since", "yesterday", "talky", check=False)
    assert (bad.returncode, bad.stderr.decode()) == (
        1, 'lamina: error: invalid value for "since": failed to parse value as time or duration: "yesterday"\n')


def test_inspect_prefers_a_container_to_an_image_like_docker(ctr, oracle):
    seen = {}
    for label, tool in (("lamina", ctr), ("docker", oracle)):
        tool.run("create", "--name", "busybox", "--network", "none", "busybox")
        try:
            seen[label] = (tool.out("inspect", "--format", "{{.Name}}", "busybox"),
                           tool.out("inspect", "--type", "image", "--format", "{{.Os}}", "busybox"))
        finally:
            tool.run("rm", "-f", "busybox", check=False)
    assert seen["lamina"] == seen["docker"] == ("/busybox\n", "linux\n")


def test_no_container_env_leaks_into_exec_from_lamina(ctr):
    ctr.run("run", "-d", "--name", "plain", "busybox", "sleep", "300")
    assert "LAMINA_ROOT" not in ctr.out("exec", "plain", "env")  # the CLI's environment is not the container's


def test_cp_refusals_name_paths_like_docker(ctr, oracle28, tmp_path):
    (tmp_path / "file").write_text("host\n")
    cases = [
        ["files:/nonexist", str(tmp_path)],
        ["files:/d/f", str(tmp_path / "nodir" / "x")],
        ["files:/d/f", str(tmp_path / "file" / "x")],
        ["files:/d/f", f"{tmp_path / 'file'}/"],
        [str(tmp_path), "files:/nonexist/dir"],
        ["-", "files:/d/f"],
    ]
    seen = {}
    for label, tool in (("docker", oracle28), ("lamina", ctr)):
        tool.run("run", "--name", "files", "--network", "none", "busybox", "sh", "-c", "mkdir /d && echo f > /d/f")
        seen[label] = [refusal(tool.run("cp", *args, check=False, input=b"")) for args in cases]
        if label == "docker":
            tool.run("rm", "-f", "files")
    assert seen["lamina"] == seen["docker"]
    assert seen["lamina"][0] == (1, "Could not find the file /nonexist in container files")
    assert (tmp_path / "file").read_text() == "host\n"  # a file is never taken for the directory asked for
    before = _tar_names(ctr.run("cp", "files:/d", "-").stdout)
    ctr.run("cp", "-", "files:/d", input=b"")  # an empty stream copies nothing, as in docker
    assert _tar_names(ctr.run("cp", "files:/d", "-").stdout) == before == ["d", "d/f"]


def _tar_names(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return sorted(name.rstrip("/") for name in tar.getnames())


def test_export_lists_what_dockers_lists(ctr, oracle):
    for tool in (ctr, oracle):
        tool.run("run", "--name", "exported", "--network", "none", "busybox", "sh", "-c", "echo x > /new; rm /bin/ls")
    try:
        theirs = _tar_listing(oracle.run("export", "exported").stdout)
    finally:
        oracle.run("rm", "-f", "exported", check=False)
    mine = _tar_listing(ctr.run("export", "exported").stdout)
    assert mine == theirs
    nowhere = ctr.run("export", "-o", "/no/such/dir/out.tar", "exported", check=False)
    assert (nowhere.returncode, nowhere.stderr) == (1, b"lamina: error: failed to export container: invalid output "
                                                       b"path: stat /no/such/dir: no such file or directory\n")
    assert ("dev/console", "-rwxr-xr-x") in mine and ("new", "-rw-r--r--") in mine


def _tar_listing(data: bytes) -> list[tuple[str, str]]:
    import io
    import stat
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return sorted((m.name.rstrip("/"), stat.filemode(m.mode | _TYPE_BITS[m.type])) for m in tar)


_TYPE_BITS = {b"0": 0o100000, b"5": 0o040000, b"2": 0o120000, b"1": 0o100000, b"3": 0o020000, b"4": 0o060000,
              b"6": 0o010000}


def test_commit_refuses_a_bad_change_with_status_1(ctr, oracle28):
    seen = {}
    for label, tool in (("lamina", ctr), ("docker", oracle28)):
        tool.run("run", "--name", "committed", "--network", "none", "busybox", "true")
        try:
            seen[label] = refusal(tool.run("commit", "-c", "RUN true", "committed", check=False))
        finally:
            tool.run("rm", "-f", "committed", check=False)
    assert seen["lamina"] == seen["docker"] == (1, "run is not a valid change command")


def test_usage_errors_exit_like_dockers_client(ctr, oracle28):
    for args, code in ((["stop"], 1), (["ps", "extra"], 1), (["logs"], 1), (["ps", "--bogus"], 125),
                       (["stop", "--bogus", "x"], 125)):
        result = ctr.run(*args, check=False)
        assert result.returncode == oracle28.run(*args, check=False).returncode == code, (args, result.stderr)
        assert result.stderr.startswith(b"lamina: error: "), args


def test_a_piped_stdin_ending_ends_an_interactive_runs_input(ctr):
    result = ctr.run("run", "--rm", "-i", "busybox", "cat", input=b"hi\n", timeout=30)
    assert (result.returncode, result.stdout) == (0, b"hi\n")
    refused = ctr.run("run", "--rm", "-i", "-t", "busybox", "cat", input=b"hi\n", timeout=30, check=False)
    assert (refused.returncode, refused.stderr) == (1, b"lamina: error: the input device is not a TTY\n")  # as docker


def test_exec_reads_an_env_file_like_docker(ctr, oracle, tmp_path):
    (tmp_path / "exec.env").write_text("# comment\nFROM_FILE=1\nBOTH=file\n")
    seen = {}
    for label, tool in (("lamina", ctr), ("docker", oracle)):
        tool.run("run", "-d", "--name", "envbox", "--network", "none", "busybox", "sleep", "300")
        try:
            seen[label] = tool.out("exec", "--env-file", str(tmp_path / "exec.env"), "-e", "BOTH=flag", "envbox",
                                   "sh", "-c", "echo $FROM_FILE $BOTH")
        finally:
            tool.run("rm", "-f", "envbox", check=False)
    assert seen["lamina"] == seen["docker"] == "1 flag\n"


def _paused_refusals(tool) -> list:
    ids = (tool.out("run", "-d", "--name", "frozen", "--network", "none", "busybox", "sleep", "300").strip(),)
    try:
        tool.run("pause", "frozen")
        return [refusal(tool.run(*args, "frozen", check=False), ids) for args in (["rm"], ["start"], ["start", "-a"])]
    finally:
        tool.run("rm", "-f", "frozen", check=False)


def test_rm_refuses_a_paused_or_restarting_container_in_dockers_words(ctr, oracle28):
    ours, theirs = _paused_refusals(ctr), _paused_refusals(oracle28)  # docker 28's client on the private dockerd
    assert ours[:2] == theirs[:2]
    assert ours[0] == (1, "You cannot remove a paused container <id>. Unpause and then stop the container "
                          "before attempting removal or force remove")
    assert ours[1] == (1, "cannot start a paused container, try unpause instead")
    # start -a differs on purpose: docker's client attaches first and the daemon refuses the
    # attach (docker 28 prints "unable to upgrade to tcp, received 409"); lamina says why instead
    assert theirs[2] == (1, "unable to upgrade to tcp, received 409")
    assert ours[2] == ours[1]
    looping = ctr.out("run", "-d", "--name", "looping", "--restart", "always", "busybox", "sh", "-c", "exit 1").strip()
    # after 5 restarts docker's back-off keeps it 'restarting' for 3.2 s: rm meets that state, not a
    # run between two restarts (the race this wait removes)
    def in_a_long_back_off() -> bool:
        count, status = ctr.out("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", "looping").split()
        return status == "restarting" and int(count) >= 5

    ctr.wait_for(in_a_long_back_off, timeout=30, what="a long back-off")
    refused = ctr.run("rm", "looping", check=False)
    assert refused.returncode == 1 and \
        f"You cannot remove a restarting container {looping}. Stop the container" in refused.stderr.decode()
    ctr.run("rm", "-f", "looping")
