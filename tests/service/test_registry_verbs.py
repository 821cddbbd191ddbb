"""push and pull through the socket, to a docker-registry on loopback: docker's CLIs and
docker-py see docker's progress stream and errors."""

from __future__ import annotations

import uuid

import pytest

from tests.registry.servers import RegistryServer
from tests.service.test_docker_cli import cli  # noqa: F401 - the two-CLI fixture


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    server = RegistryServer(tmp_path_factory.mktemp("svc-registry")).start()
    yield server
    server.stop()


@pytest.mark.slow
def test_push_rmi_pull_run(cli, registry):  # noqa: F811
    name = f"{registry.host}/pushed-{uuid.uuid4().hex[:6]}:v1"
    cli("tag", "busybox", name)
    pushed = cli("push", name).stdout.decode()
    assert "The push refers to repository" in pushed and "v1: digest: sha256:" in pushed
    digest = pushed.split("digest: ")[1].split()[0]
    cli("rmi", name)
    pulled = cli("pull", name).stdout.decode()
    assert f"Digest: {digest}" in pulled
    assert cli("run", "--rm", name, "echo", "pulled").stdout == b"pulled\n"
    assert digest in cli("inspect", "--format", "{{json .RepoDigests}}", name).stdout.decode()
    cli("rmi", name)


def test_pulling_a_missing_image_fails_like_dockerd(cli, registry, docker_client):  # noqa: F811
    result = cli("pull", f"{registry.host}/nosuch:v1", check=False)
    assert result.returncode == 1
    assert b"manifest unknown" in result.stderr or b"not found" in result.stderr
    import docker.errors

    with pytest.raises(docker.errors.NotFound):
        docker_client.images.pull(f"{registry.host}/nosuch", tag="v1")
