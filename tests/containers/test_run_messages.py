"""What ``run`` prints around the container, compared with docker: the ID of a detached
container before its start fails, the TTY refusal, the host-network port warning, and the
name of an image that is not there."""

from __future__ import annotations

import re


def _ids(ctr) -> set[str]:
    return set(ctr.out("ps", "-aq", "--no-trunc").split())


def test_detached_run_prints_the_id_before_a_failed_start(ctr, oracle):
    before = _ids(ctr)
    mine = ctr.run("run", "-d", "--network", "none", "busybox", "/nonexistent", check=False)
    theirs = oracle.run("run", "-d", "--network", "none", "busybox", "/nonexistent", check=False)
    assert mine.returncode == theirs.returncode == 127
    assert re.fullmatch(r"[0-9a-f]{64}\n", mine.stdout.decode())
    assert re.fullmatch(r"[0-9a-f]{64}\n", theirs.stdout.decode())
    left = _ids(ctr) - before
    assert left == {mine.stdout.decode().strip()}
    assert ctr.out("inspect", "--format", "{{.State.Status}}", *left).strip() == "created"
    ctr.run("rm", *left)
    oracle.run("rm", theirs.stdout.decode().strip())


def test_interactive_tty_without_a_terminal_is_refused_before_anything_is_made(ctr, oracle):
    before = _ids(ctr)
    mine = ctr.run("run", "-it", "--network", "none", "busybox", "true", input=b"x", check=False)
    theirs = oracle.run("run", "-it", "--network", "none", "busybox", "true", input=b"x", check=False)
    assert mine.returncode == theirs.returncode == 1
    assert "the input device is not a TTY" in theirs.stderr.decode()
    assert mine.stderr.decode() == "lamina: error: the input device is not a TTY\n"
    assert _ids(ctr) == before


def test_published_ports_with_host_network_are_discarded_with_dockers_warning(ctr, oracle):
    args = ["run", "--rm", "--network", "host", "-p", "127.0.0.1:9:9", "busybox", "true"]
    mine, theirs = ctr.run(*args), oracle.run(*args)
    assert (mine.returncode, mine.stdout, mine.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)
    assert mine.stderr.decode() == "WARNING: Published ports are discarded when using host network mode\n"


def test_pull_never_names_the_normalised_reference(ctr, oracle):
    mine = ctr.run("run", "--pull", "never", "nosuchimage-here", check=False)
    theirs = oracle.run("run", "--pull", "never", "nosuchimage-here", check=False)
    assert mine.returncode == theirs.returncode == 125
    assert "No such image: nosuchimage-here:latest" in theirs.stderr.decode()
    assert mine.stderr.decode() == "lamina: error: No such image: nosuchimage-here:latest\n"


def test_inspect_names_neither_and_image_inspect_never_finds_a_container(ctr, oracle):
    created = ctr.out("create", "--network", "none", "busybox", "true").strip()
    theirs = oracle.run("inspect", "no-such-thing", check=False)
    assert theirs.returncode == 1 and "No such object: no-such-thing" in theirs.stderr.decode()
    assert ctr.fails("inspect", "no-such-thing") == "lamina: error: No such object: no-such-thing\n"
    assert "No such image" in ctr.fails("image", "inspect", created)
    assert ctr.out("inspect", "--format", "{{.Id}}", created).strip() == created
    ctr.run("rm", created)
