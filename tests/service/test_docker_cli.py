"""docker's own CLIs (20.10 and 28) with DOCKER_HOST on lamina's socket: the commands users
type, their output and exit codes as against dockerd."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.service.conftest import DOCKER_CLIS, docker_cli

CLIS = list(DOCKER_CLIS)


@pytest.fixture(params=CLIS)
def cli(request, service):
    path = docker_cli(request.param)
    return lambda *args, **kwargs: service.docker(path, *args, **kwargs)


def test_version_names_the_negotiated_api(cli):
    document = json.loads(cli("version", "--format", "{{json .Server}}").stdout)
    assert document["ApiVersion"] == "1.41"
    assert document["Os"] == "linux"


def test_images_lists_the_store(cli, service):
    lines = cli("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.decode().split("\n")
    image_id = service.lamina("images", "-q", "busybox").stdout.decode().strip()
    assert f"busybox:latest {image_id}" in lines


def test_run_rm_prints_and_exits_with_the_containers_code(cli):
    result = cli("run", "--rm", "busybox", "echo", "hi")
    assert result.stdout == b"hi\n"
    result = cli("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert result.returncode == 3
    assert result.stdout == b"out\n" and result.stderr == b"err\n"
    names = cli("ps", "-a", "--format", "{{.Image}} {{.Command}}").stdout.decode()
    assert "exit 3" not in names  # --rm removed it


def test_run_interactive_passes_stdin(cli):
    assert cli("run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z", input=b"shout\n").stdout == b"SHOUT\n"


def test_run_detached_logs_exec_stop_rm(cli):
    name = "web-" + uuid.uuid4().hex[:8]
    container_id = cli("run", "-d", "--name", name, "busybox", "sh", "-c",
                       "echo started; while true; do sleep 0.2; done").stdout.decode().strip()
    assert len(container_id) == 64
    try:
        assert name in cli("ps", "--format", "{{.Names}}").stdout.decode().split()
        assert cli("logs", name).stdout == b"started\n"
        assert cli("exec", name, "cat", "/proc/1/cmdline").stdout.startswith(b"sh\0-c\0")
        assert cli("exec", name, "sh", "-c", "exit 7", check=False).returncode == 7
        assert cli("exec", "-i", name, "cat", input=b"through exec\n").stdout == b"through exec\n"
        assert cli("exec", "-t", name, "tty").stdout.startswith(b"/dev/pts/")
        assert cli("stop", "-t", "1", name).stdout.decode().strip() == name
        state = json.loads(cli("inspect", "--format", "{{json .State}}", name).stdout)
        assert state["Running"] is False
    finally:
        cli("rm", "-f", name, check=False)
    assert name not in cli("ps", "-a", "--format", "{{.Names}}").stdout.decode().split()


def test_errors_read_as_against_dockerd(cli):
    result = cli("rm", "nosuch-container", check=False)
    assert result.returncode == 1 and b"No such container: nosuch-container" in result.stderr
    result = cli("rmi", "nosuch-image", check=False)
    assert result.returncode == 1 and b"No such image: nosuch-image" in result.stderr
    result = cli("run", "--rm", "busybox", "/no/such/binary", check=False)
    assert result.returncode != 0


def test_tag_and_rmi(cli):
    tag = "retagged-" + uuid.uuid4().hex[:6] + ":v1"
    cli("tag", "busybox", tag)
    listed = cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.decode().split()
    assert tag in listed
    assert f"Untagged: {tag}" in cli("rmi", tag).stdout.decode()
    assert tag not in cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.decode().split()


@pytest.mark.slow
def test_build_then_run_the_image(cli, tmp_path):
    (tmp_path / "Dockerfile").write_text('FROM busybox\nARG WORD=no\nRUN echo "built $WORD" > /f\n'
                                         'LABEL purpose=test\nCMD ["cat", "/f"]\n')
    tag = "built-" + uuid.uuid4().hex[:6]
    result = cli("build", "--build-arg", "WORD=yes", "-t", tag, str(tmp_path))
    out = result.stdout.decode()
    assert "Step 5/5 : CMD" in out and f"Successfully tagged {tag}:latest" in out
    assert cli("run", "--rm", tag).stdout == b"built yes\n"
    assert cli("inspect", "--format", "{{.Config.Labels.purpose}}", tag).stdout == b"test\n"
    failing = tmp_path / "bad"
    failing.mkdir()
    (failing / "Dockerfile").write_text("FROM busybox\nRUN exit 4\n")
    result = cli("build", str(failing), check=False)
    assert result.returncode != 0 and b"exit 4" not in result.stdout.split(b"\n")[-1]
    cli("rmi", tag)


@pytest.mark.slow
def test_save_pipes_into_load(cli, service):
    tag = "saved-" + uuid.uuid4().hex[:6] + ":v1"
    cli("tag", "busybox", tag)
    archive = cli("save", tag).stdout
    cli("rmi", tag)
    assert "Loaded image: " + tag in cli("load", input=archive).stdout.decode()
    assert cli("run", "--rm", tag, "echo", "loaded").stdout == b"loaded\n"
    cli("rmi", tag)
