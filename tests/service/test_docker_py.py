"""docker-py (PyPI ``docker`` 7.2) against lamina's socket: images, containers, logs, exec,
wait, build, volumes, as its users call them."""

from __future__ import annotations

import io
import tarfile
import uuid

import pytest


def test_images_list_inspect_tag_remove(docker_client, service):
    image = docker_client.images.get("busybox")
    assert "busybox:latest" in image.tags
    assert image.id == service.lamina("images", "-q", "--no-trunc", "busybox").stdout.decode().strip()
    assert any(i.id == image.id for i in docker_client.images.list())
    tag = "pytagged-" + uuid.uuid4().hex[:6]
    assert image.tag(tag, "v2")
    assert f"{tag}:v2" in docker_client.images.get(image.id).tags
    assert [i.id for i in docker_client.images.list(name=tag)] == [image.id]
    docker_client.images.remove(f"{tag}:v2")
    import docker.errors

    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(f"{tag}:v2")
    assert docker_client.images.get("busybox").history()[0]["Id"] == image.id


def test_run_attached_returns_the_output_and_raises_on_failure(docker_client):
    assert docker_client.containers.run("busybox", ["echo", "hello"], remove=True) == b"hello\n"
    import docker.errors

    with pytest.raises(docker.errors.ContainerError) as caught:
        docker_client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 2"], remove=True, stderr=True)
    assert caught.value.exit_status == 2


def test_run_detached_logs_wait_remove(docker_client):
    container = docker_client.containers.run("busybox", ["sh", "-c", "echo one; echo two >&2; exit 5"], detach=True,
                                             labels={"suite": "docker-py"}, environment={"WHO": "py"})
    assert container.wait(timeout=60)["StatusCode"] == 5
    assert container.logs(stdout=True, stderr=False) == b"one\n"
    assert container.logs(stdout=False, stderr=True) == b"two\n"
    assert container.logs(tail=1) == b"two\n"
    container.reload()
    assert container.status == "exited"
    assert container.labels == {"suite": "docker-py"}
    assert "WHO=py" in container.attrs["Config"]["Env"]
    assert container.id in [c.id for c in docker_client.containers.list(all=True, filters={"label": "suite=docker-py"})]
    container.remove()
    import docker.errors

    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(container.id)


def test_exec_run_and_streaming_logs(docker_client):
    container = docker_client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done; "
                                                          "sleep 30"], detach=True)
    try:
        exit_code, output = container.exec_run(["sh", "-c", "echo $((6*7))"])
        assert (exit_code, output) == (0, b"42\n")
        exit_code, output = container.exec_run("sh -c 'exit 3'")
        assert exit_code == 3
        exit_code, (out, err) = container.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
        assert (out, err) == (b"o\n", b"e\n")
        exit_code, output = container.exec_run(["tty"], tty=True)
        assert output.startswith(b"/dev/pts/")
        lines = []
        for chunk in container.logs(stream=True, follow=True):
            lines.append(chunk)
            if b"".join(lines).count(b"\n") >= 3:
                break
        assert b"".join(lines) == b"1\n2\n3\n"
        container.kill()
        assert container.wait(timeout=30)["StatusCode"] == 137
    finally:
        container.remove(force=True)


def test_attach_socket_with_stdin(docker_client):
    container = docker_client.containers.create("busybox", ["sh", "-c", "read line; echo got $line"],
                                                stdin_open=True)
    try:
        sock = container.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
        container.start()
        sock._sock.sendall(b"ping\n")
        data = b""
        while b"got ping" not in data:
            chunk = sock._sock.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data[:1] == b"\x01" and data.endswith(b"got ping\n")
        assert container.wait(timeout=30)["StatusCode"] == 0
        sock.close()
    finally:
        container.remove(force=True)


@pytest.mark.slow
def test_build_from_a_tar_context(docker_client):
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text in (("Dockerfile", "FROM busybox AS base\nARG GREETING\nCOPY hello.txt /hello.txt\n"
                                          "RUN echo \"$GREETING\" >> /hello.txt\nFROM base AS final\nLABEL stage=final\n"),
                           ("hello.txt", "from the context\n")):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    context.seek(0)
    tag = "pybuilt-" + uuid.uuid4().hex[:6]
    image, log = docker_client.images.build(fileobj=context, custom_context=True, tag=tag,
                                            buildargs={"GREETING": "hi there"}, target="base",
                                            labels={"made-by": "docker-py"})
    assert any("Successfully built" in entry.get("stream", "") for entry in log)
    assert image.labels.get("made-by") == "docker-py" and "stage" not in image.labels
    output = docker_client.containers.run(tag, ["cat", "/hello.txt"], remove=True)
    assert output == b"from the context\nhi there\n"
    import docker.errors

    broken = io.BytesIO()
    with tarfile.open(fileobj=broken, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        body = b"FROM busybox\nRUN exit 9\n"
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    broken.seek(0)
    with pytest.raises(docker.errors.BuildError):
        docker_client.images.build(fileobj=broken, custom_context=True)
    docker_client.images.remove(tag)


def test_volumes(docker_client):
    name = "pyvol-" + uuid.uuid4().hex[:6]
    volume = docker_client.volumes.create(name, labels={"k": "v"})
    assert volume.name == name and volume.attrs["Labels"] == {"k": "v"}
    assert name in [v.name for v in docker_client.volumes.list()]
    assert docker_client.volumes.get(name).attrs["Mountpoint"]
    output = docker_client.containers.run("busybox", ["sh", "-c", "echo kept > /v/f; cat /v/f"], remove=True,
                                          volumes={name: {"bind": "/v", "mode": "rw"}})
    assert output == b"kept\n"
    volume.remove()
    import docker.errors

    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(name)


def test_system_calls(docker_client):
    assert docker_client.ping() is True
    assert docker_client.version()["ApiVersion"] == "1.41"
    info = docker_client.info()
    assert info["Images"] >= 1 and info["OSType"] == "linux"
    assert {n.name for n in docker_client.networks.list()} == {"bridge", "host", "none"}
    assert docker_client.df()["Images"]


@pytest.mark.slow
def test_build_with_a_dockerfile_outside_the_context(docker_client, tmp_path):
    """docker-py sends such a Dockerfile inside the tar and names it twice in the query
    (``dockerfile=<name in the tar>&dockerfile=<its text>``): the first value counts, as in Go."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "file.txt").write_text("hello")
    (context / ".dockerignore").write_text(".dockerignore\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "Dockerfile").write_text("FROM busybox\nCOPY . /src\nWORKDIR /src\n")
    tag = "outside-" + uuid.uuid4().hex[:6]
    docker_client.images.build(path=str(context), dockerfile=str(elsewhere / "Dockerfile"), tag=tag)
    assert sorted(docker_client.containers.run(tag, ["ls", "-a"], remove=True).split()) == [b".", b"..", b"file.txt"]
    docker_client.images.remove(tag)


def test_events_of_a_container_run(docker_client):
    import time

    since = time.time()
    label = "events-" + uuid.uuid4().hex[:6]
    container = docker_client.containers.run("busybox", ["sh", "-c", "exit 3"], detach=True, auto_remove=True,
                                             labels={"suite": label})
    assert container.wait(timeout=30)["StatusCode"] == 3
    docker_client.volumes.create("evvol-" + label).remove()
    events = list(docker_client.events(since=since, until=time.time() + 1, decode=True,
                                       filters={"label": f"suite={label}"}))
    actions = [e["Action"] for e in events]
    assert actions[:3] == ["create", "start", "die"], actions
    assert events[2]["Actor"]["Attributes"]["exitCode"] == "3"
    assert all(e["Actor"]["ID"] == container.id and e["Type"] == "container" for e in events)
    volume_events = list(docker_client.events(since=since, until=time.time(), decode=True,
                                              filters={"type": "volume"}))
    assert [e["Action"] for e in volume_events if e["Actor"]["ID"] == "evvol-" + label] == ["create", "destroy"]


def test_an_events_stream_stays_open_until_closed(docker_client):
    import threading
    import time

    stream = docker_client.events(decode=True, filters={"type": "volume"})
    seen = []

    def read() -> None:
        for event in stream:
            seen.append(event)
            return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.5)
    assert reader.is_alive() and not seen  # open, nothing yet
    name = "live-" + uuid.uuid4().hex[:6]
    docker_client.volumes.create(name).remove()
    reader.join(10)
    assert seen and seen[0]["Actor"]["ID"] == name and seen[0]["Action"] == "create"
    stream.close()
    assert docker_client.ping()
