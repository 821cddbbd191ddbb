"""``client.containers`` and ``Container`` with real runc, the CLI over the same store as oracle."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

import pytest

import lamina
from tests.client.conftest import inspect
from tests.conftest import Lamina

# pid 1 in a container ignores signals it has no handler for; this one answers USR1 and TERM
TRAPPING = "trap 'exit 7' USR1; trap 'exit 9' TERM; while :; do sleep 0.1; done"


def _wait_status(container: lamina.Container, status: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"container is {container.status}, wanted {status}")


def test_run_returns_stdout_as_the_cli_prints_it(ctr_client: lamina.Client, cli: Lamina):
    ours = ctr_client.containers.run("busybox", ["echo", "hello", "world"], remove=True)
    assert ours == cli.run("run", "--rm", "busybox", "echo", "hello", "world").stdout
    assert ctr_client.containers.list(all=True) == []


def test_run_with_auto_remove_still_returns_the_output(ctr_client: lamina.Client, cli: Lamina):
    assert ctr_client.containers.run("busybox", ["echo", "gone"], auto_remove=True) == b"gone\n"
    assert cli.out("ps", "-aq") == ""


def test_run_raises_container_error_with_stderr(ctr_client: lamina.Client):
    with pytest.raises(lamina.ContainerError) as failure:
        ctr_client.containers.run("busybox", "echo broken >&2; exit 3")
    assert failure.value.exit_status == 3
    assert failure.value.stderr == "broken\n"
    assert ctr_client.containers.get(failure.value.container_id).status == "exited"


def test_detached_run_attrs_are_the_inspect_document(ctr_client: lamina.Client, cli: Lamina):
    container = ctr_client.containers.run("busybox", ["sleep", "30"], detach=True, name="napper",
                                          labels=["role=test"])
    assert container.status == "running"
    assert container.name == "napper"
    assert container.labels == {"role": "test"}
    assert container.image == ctr_client.images.get("busybox")
    assert container.attrs == inspect(cli, "container", "napper")
    assert [c.id for c in ctr_client.containers.list()] == cli.out("ps", "-q", "--no-trunc").split()


def test_stop_sends_the_signal_given(ctr_client: lamina.Client, cli: Lamina):
    container = ctr_client.containers.run("busybox", TRAPPING, detach=True)
    container.stop(signal="USR1", timeout=10)
    container.reload()
    assert container.status == "exited"
    assert container.attrs["State"]["ExitCode"] == 7
    assert cli.out("inspect", "--format", "{{.State.ExitCode}}", container.id).strip() == "7"


def test_stop_without_signal_sends_term(ctr_client: lamina.Client):
    container = ctr_client.containers.run("busybox", TRAPPING, detach=True)
    container.stop(timeout=10)
    assert container.wait() == 9


def test_kill_and_wait(ctr_client: lamina.Client):
    container = ctr_client.containers.run("busybox", TRAPPING, detach=True)
    container.kill(signal="USR1")
    assert container.wait() == 7


def test_pause_unpause_restart(ctr_client: lamina.Client, cli: Lamina):
    container = ctr_client.containers.run("busybox", ["sleep", "30"], detach=True)
    container.pause()
    container.reload()
    assert container.status == "paused" == cli.out("inspect", "--format", "{{.State.Status}}", container.id).strip()
    container.unpause()
    container.reload()
    assert container.status == "running"
    started = container.attrs["State"]["StartedAt"]
    container.restart(timeout=0)
    _wait_status(container, "running")
    assert container.attrs["State"]["StartedAt"] != started


def test_rename(ctr_client: lamina.Client, cli: Lamina):
    container = ctr_client.containers.create("busybox", ["true"], name="before")
    container.rename("after")
    assert container.name == "after"
    assert cli.out("ps", "-a", "--format", "{{.Names}}").split() == ["after"]


def test_exec_run_changes_show_in_diff(ctr_client: lamina.Client, cli: Lamina):
    container = ctr_client.containers.run("busybox", ["sleep", "30"], detach=True)
    assert container.exec_run(["sh", "-c", "echo x > /made-by-exec"]) == 0
    assert container.exec_run("exit 4") == 4
    changes = container.diff()
    assert ("A", "/made-by-exec") in changes
    assert [f"{kind} {path}" for kind, path in changes] == cli.out("diff", container.id).splitlines()


def test_logs_tail_and_since(ctr_client: lamina.Client, cli: Lamina):
    container = ctr_client.containers.run("busybox", "echo one; echo two >&2; echo three", detach=True)
    assert container.wait() == 0
    entries = list(container.logs())
    # stdout and stderr are two pipes: their order against each other is not kept
    assert [e.text for e in entries if e.stream == "stdout"] == ["one\n", "three\n"]
    assert [e.text for e in entries if e.stream == "stderr"] == ["two\n"]
    assert list(container.logs(tail=1)) == entries[-1:]
    assert "".join(e.text for e in container.logs() if e.stream == "stdout") == cli.out("logs", container.id)


def test_top_and_stats_of_a_running_container(ctr_client: lamina.Client, cli: Lamina):
    container = ctr_client.containers.run("busybox", ["sleep", "30"], detach=True)
    titles, rows = container.top()
    assert titles == cli.out("top", container.id).splitlines()[0].split()
    assert any("sleep 30" in " ".join(row) for row in rows)
    usage = container.stats()
    assert usage.container_id == container.id
    assert usage.memory_usage > 0


def test_export_commit_and_archives(ctr_client: lamina.Client, tmp_path: Path, cli: Lamina):
    container = ctr_client.containers.run("busybox", "echo note > /note.txt", detach=True)
    assert container.wait() == 0
    container.export(tmp_path / "fs.tar")
    with tarfile.open(tmp_path / "fs.tar") as tar:
        assert tar.extractfile("note.txt").read() == b"note\n"
    image = container.commit("committed", "1", changes=["LABEL from=commit"])
    assert image.tags == ["committed:1"]
    assert image.labels == {"from": "commit"}
    assert image.attrs == inspect(cli, "image", "committed:1")
    buffer = io.BytesIO()
    container.get_archive("/note.txt", buffer)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        assert tar.extractfile("note.txt").read() == b"note\n"
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        info = tarfile.TarInfo("put.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"put\n"))
    payload.seek(0)
    container.put_archive("/tmp", payload)
    assert ("A", "/tmp/put.txt") in container.diff()


def test_remove_and_prune(ctr_client: lamina.Client, cli: Lamina):
    running = ctr_client.containers.run("busybox", ["sleep", "30"], detach=True)
    stopped = ctr_client.containers.create("busybox", ["true"])
    removed, _freed = ctr_client.containers.prune()
    assert removed == [stopped.id]
    with pytest.raises(lamina.ConflictError):
        running.remove()
    running.remove(force=True)
    assert cli.out("ps", "-aq") == ""
    with pytest.raises(lamina.LaminaError, match="No such container"):
        ctr_client.containers.get(running.id)


def test_list_filters_are_the_clis(ctr_client: lamina.Client, cli: Lamina):
    ctr_client.containers.create("busybox", ["true"], name="alpha", labels=["team=a"])
    ctr_client.containers.create("busybox", ["true"], name="beta")
    ours = [c.name for c in ctr_client.containers.list(all=True, filters=["label=team=a"])]
    assert ours == cli.out("ps", "-a", "--filter", "label=team=a", "--format", "{{.Names}}").split() == ["alpha"]
    assert [c.name for c in ctr_client.containers.list(all=True)] == \
        cli.out("ps", "-a", "--format", "{{.Names}}").split()
