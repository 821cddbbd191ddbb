"""docker-py on the rest of the container verbs: top, diff, export, archives, rename,
pause/unpause, restart, kill with a signal, ports, prune."""

from __future__ import annotations

import io
import tarfile
import uuid

import pytest


@pytest.fixture
def sleeper(docker_client):
    container = docker_client.containers.run("busybox", ["sh", "-c", "echo made > /made; sleep 60"], detach=True,
                                             name="sleeper-" + uuid.uuid4().hex[:6])
    yield container
    container.remove(force=True)


def test_top_diff_and_archives(sleeper):
    processes = sleeper.top()
    assert "PID" in processes["Titles"]
    assert any("sleep 60" in " ".join(row) for row in processes["Processes"])
    for _ in range(50):
        if {"Path": "/made", "Kind": 1} in (sleeper.diff() or []):
            break
    assert {"Path": "/made", "Kind": 1} in sleeper.diff()
    stream, stat = sleeper.get_archive("/made")
    assert stat["name"] == "made" and stat["size"] == 5
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        assert tar.extractfile("made").read() == b"made\n"
    upload = io.BytesIO()
    with tarfile.open(fileobj=upload, mode="w") as tar:
        info = tarfile.TarInfo("put.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"put\n"))
    assert sleeper.put_archive("/tmp", upload.getvalue())
    assert sleeper.exec_run(["cat", "/tmp/put.txt"]).output == b"put\n"
    exported = b"".join(sleeper.export())
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        names = {name.lstrip("./") for name in tar.getnames()}
    assert {"bin/busybox", "made", "tmp/put.txt"} <= names


def test_rename_pause_restart_kill(docker_client, sleeper):
    new_name = "renamed-" + uuid.uuid4().hex[:6]
    sleeper.rename(new_name)
    assert docker_client.containers.get(new_name).id == sleeper.id
    sleeper.pause()
    sleeper.reload()
    assert sleeper.status == "paused"
    sleeper.unpause()
    sleeper.reload()
    assert sleeper.status == "running"
    started = sleeper.attrs["State"]["StartedAt"]
    sleeper.restart(timeout=1)
    sleeper.reload()
    assert sleeper.status == "running" and sleeper.attrs["State"]["StartedAt"] != started
    sleeper.kill(signal="SIGKILL")
    assert sleeper.wait(timeout=30)["StatusCode"] == 137
    import docker.errors

    with pytest.raises(docker.errors.APIError) as caught:
        sleeper.kill()
    assert caught.value.status_code == 409


def test_prune_removes_stopped_containers_only(docker_client, sleeper):
    stopped = docker_client.containers.run("busybox", ["true"], detach=True)
    stopped.wait(timeout=30)
    report = docker_client.containers.prune()
    assert stopped.id in report["ContainersDeleted"]
    assert sleeper.id not in report["ContainersDeleted"]
    assert sleeper.id in [c.id for c in docker_client.containers.list()]


def test_auto_remove_keeps_the_exit_code_for_wait(docker_client):
    import docker.errors

    with pytest.raises(docker.errors.ContainerError) as caught:
        docker_client.containers.run("busybox", ["sh", "-c", "exit 4"], auto_remove=True)
    assert caught.value.exit_status == 4


def test_attach_without_stream_replays_the_log(docker_client):
    created = docker_client.api.create_container("busybox", "echo hello")
    try:
        docker_client.api.start(created)
        assert docker_client.api.wait(created, condition="not-running")["StatusCode"] == 0
        assert docker_client.api.attach(created, stream=False, logs=True) == b"hello\n"
    finally:
        docker_client.api.remove_container(created, force=True)


def test_wait_returns_when_a_restarting_container_exits(docker_client):
    container = docker_client.containers.run("busybox", ["sleep", "0.5"], detach=True,
                                             restart_policy={"Name": "always"})
    try:
        assert container.wait(timeout=30)["StatusCode"] == 0
        import docker.errors

        with pytest.raises(docker.errors.APIError) as caught:
            container.remove()
        assert caught.value.status_code == 409
    finally:
        container.remove(force=True)


def test_archive_of_a_volume_path_on_a_stopped_container(docker_client):
    container = docker_client.containers.run("busybox", ["sh", "-c", "echo in-volume > /vol1/data.txt"],
                                             volumes=["/vol1"], detach=True)
    try:
        assert container.wait(timeout=30)["StatusCode"] == 0
        stream, stat = container.get_archive("/vol1/data.txt")
        assert (stat["name"], stat["size"]) == ("data.txt", 10)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            assert tar.extractfile("data.txt").read() == b"in-volume\n"
        import docker.errors

        with pytest.raises(docker.errors.NotFound):
            container.get_archive("/vol1/nothing-here")
    finally:
        container.remove(force=True, v=True)
