"""port, top, pause/unpause, rename and stats: docker's output shapes and error wording; every
bad input fails in one line and changes nothing."""

from __future__ import annotations

import json
import socket
import time


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _one_error_line(result, message: str) -> None:
    stderr = result.stderr.decode()
    assert result.returncode == 1, (result.returncode, stderr)
    assert stderr.count("\n") == 1 and stderr.startswith("lamina: error: "), stderr
    assert message in stderr, stderr


def test_port_lists_the_published_bindings(ctr):
    tcp, udp = _free_port(), _free_port()
    ctr.run("run", "-d", "--name", "ported", "-p", f"127.0.0.1:{tcp}:80", "-p", f"{udp}:81/udp",
            "busybox", "sleep", "300")
    assert ctr.out("port", "ported") == f"80/tcp -> 127.0.0.1:{tcp}\n81/udp -> 0.0.0.0:{udp}\n"
    assert ctr.out("port", "ported", "80") == f"127.0.0.1:{tcp}\n"
    assert ctr.out("port", "ported", "81/udp") == f"0.0.0.0:{udp}\n"
    _one_error_line(ctr.run("port", "ported", "82", check=False), "No public port '82' published for ported")
    _one_error_line(ctr.run("port", "nosuch", check=False), "No such container: nosuch")
    ctr.run("stop", "-t", "0", "ported")
    assert ctr.out("port", "ported") == ""  # docker shows nothing for a stopped container


def test_top_shows_the_containers_processes_only(ctr, oracle):
    ctr.run("run", "-d", "--name", "busy", "busybox", "sh", "-c", "sleep 301 & sleep 302; true")
    ctr.wait_for(lambda: "sleep 302" in ctr.out("top", "busy"), what="both sleeps")
    lines = ctr.out("top", "busy").splitlines()
    oracle.run("run", "-d", "--name", "busy", "--network", "none", "busybox", "sleep", "303")
    try:
        theirs = oracle.out("top", "busy").splitlines()
    finally:
        oracle.run("rm", "-f", "busy", check=False)
    assert lines[0] == theirs[0]  # the same titles, laid out the same way
    commands = sorted(line.split(None, 7)[7] for line in lines[1:])
    assert commands == ["sh -c sleep 301 & sleep 302; true", "sleep 301", "sleep 302"]
    pid = ctr.out("inspect", "--format", "{{.State.Pid}}", "busy").strip()
    custom = ctr.out("top", "busy", "-o", "pid,comm").splitlines()
    assert custom[0].split() == ["PID", "COMMAND"] and any(row.split()[0] == pid for row in custom[1:])
    ctr.run("stop", "-t", "0", "busy")
    _one_error_line(ctr.run("top", "busy", check=False), "is not running")


def test_pause_freezes_and_unpause_thaws(ctr):
    ctr.run("run", "-d", "--name", "ticker", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.05; done")
    ctr.wait_for(lambda: "tick" in ctr.out("logs", "ticker"), what="ticks")
    assert ctr.out("pause", "ticker") == "ticker\n"
    assert ctr.state("ticker") == "paused"
    assert ctr.out("ps", "--filter", "name=ticker", "--format", "{{.Status}}").endswith("(Paused)\n")
    frozen = ctr.out("logs", "ticker").count("tick")
    time.sleep(0.5)
    assert ctr.out("logs", "ticker").count("tick") == frozen
    container_id = ctr.out("inspect", "--format", "{{.Id}}", "ticker").strip()
    _one_error_line(ctr.run("pause", "ticker", check=False), f"Container {container_id} is already paused")
    _one_error_line(ctr.run("exec", "ticker", "true", check=False),
                    "Container ticker is paused, unpause the container before exec")
    assert ctr.out("unpause", "ticker") == "ticker\n"
    ctr.wait_for(lambda: ctr.out("logs", "ticker").count("tick") > frozen + 2, what="ticking again")
    _one_error_line(ctr.run("unpause", "ticker", check=False), f"Container {container_id} is not paused")
    ctr.run("pause", "ticker")
    ctr.run("stop", "-t", "1", "ticker")  # a paused container is thawed to receive its signals
    assert ctr.state("ticker") == "exited"


def test_rename_and_its_refusals(ctr):
    ctr.run("create", "--name", "first", "busybox", "true")
    ctr.run("create", "--name", "other", "busybox", "true")
    assert ctr.out("rename", "first", "second") == ""
    assert ctr.out("ps", "-a", "--filter", "name=second", "--format", "{{.Names}}") == "second\n"
    other_id = ctr.out("inspect", "--format", "{{.Id}}", "other").strip()
    _one_error_line(ctr.run("rename", "second", "second", check=False),
                    "Renaming a container with the same name as its current name")
    _one_error_line(ctr.run("rename", "second", "bad name", check=False),
                    "Invalid container name (/bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    _one_error_line(ctr.run("rename", "second", "other", check=False),
                    f'The container name "/other" is already in use by container "{other_id}"')
    _one_error_line(ctr.run("rename", "nosuch", "x", check=False), "No such container: nosuch")
    assert ctr.out("run", "--name", "first", "--rm", "busybox", "echo", "reused") == "reused\n"


def test_stats_reports_limits_and_counters(ctr):
    ctr.run("run", "-d", "--name", "measured", "--memory", "64m", "busybox", "sh", "-c", "sleep 301 & sleep 302; true")
    ctr.wait_for(lambda: "sleep 302" in ctr.out("top", "measured"), what="both sleeps")
    row = json.loads(ctr.out("stats", "--no-stream", "--format", "{{json .}}", "measured"))
    assert set(row) == {"BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"}
    assert row["Name"] == "measured" and row["Container"] == "measured" and len(row["ID"]) == 12
    assert row["MemUsage"].endswith(" / 64MiB") and row["PIDs"] == "3"
    assert row["CPUPerc"].endswith("%") and float(row["CPUPerc"][:-1]) >= 0
    table = ctr.out("stats", "--no-stream", "measured").splitlines()
    assert [title.strip() for title in table[0].split("   ") if title.strip()] == [
        "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]
    assert len(table) == 2 and " measured " in table[1]
    _one_error_line(ctr.run("stats", "--no-stream", "nosuch", check=False), "No such container: nosuch")


DIFF_SCRIPT = ("echo x > /etc/newfile; rm /bin/ls; mkdir -p /a/b; echo y > /a/b/c; echo more >> /etc/passwd; "
               "rm -rf /home/alice; mkdir /home/alice; touch /home/alice/new; chmod 700 /www; "
               "echo t > /tmp/scratch; ln -s /etc/passwd /etc/pw")


def test_diff_lists_changes_like_docker(ctr, oracle):
    ctr.run("run", "--name", "changer", "--network", "none", "busybox", "sh", "-c", DIFF_SCRIPT)
    mine = ctr.out("diff", "changer")
    theirs = ""
    for _attempt in range(2):  # dockerd 20.10 here now and then runs on a rootfs it cannot see
        oracle.run("run", "--name", "changer", "--network", "none", "busybox", "sh", "-c", DIFF_SCRIPT, check=False)
        try:
            theirs = oracle.out("diff", "changer")
        finally:
            oracle.run("rm", "-f", "changer", check=False)
        if _by_path(theirs) == mine.splitlines():
            break
    assert mine.splitlines() == _by_path(theirs)  # docker's order is its tree walk's; lamina sorts by path
    assert "D /bin/ls\n" in mine and "A /a/b/c\n" in mine and "C /etc/passwd\n" in mine
    assert ctr.out("diff", "changer") == mine  # a stopped container keeps its changes
    _one_error_line(ctr.run("diff", "nosuch", check=False), "No such container: nosuch")


def _by_path(listing: str) -> list[str]:
    return sorted(listing.splitlines(), key=lambda line: line[2:])
