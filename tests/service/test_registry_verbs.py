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


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory):
    from tests.registry.servers import PASSWORD, USER, bcrypt_line, htpasswd_auth_yaml

    workdir = tmp_path_factory.mktemp("svc-basic")
    (workdir / "htpasswd").write_text(bcrypt_line(USER, PASSWORD) + "\n")
    server = RegistryServer(workdir, auth_yaml=htpasswd_auth_yaml(workdir / "htpasswd")).start()
    yield server
    server.stop()


def test_push_and_pull_use_the_x_registry_auth_header(basic_registry, docker_client):
    """docker-py's auth_config travels as X-Registry-Auth; with it the push and pull pass the
    registry's Basic auth, without it (and nothing stored) the registry refuses them."""
    from tests.registry.servers import PASSWORD, USER

    name = f"{basic_registry.host}/authed-{uuid.uuid4().hex[:6]}"
    docker_client.images.get("busybox").tag(name, "v1")
    refused = docker_client.images.push(name, tag="v1")
    assert "authentication required" in refused or "unauthorized" in refused.lower(), refused
    auth = {"username": USER, "password": PASSWORD, "serveraddress": basic_registry.host}
    pushed = docker_client.images.push(name, tag="v1", auth_config=auth)
    assert "v1: digest: sha256:" in pushed, pushed
    docker_client.images.remove(f"{name}:v1")
    import docker.errors

    with pytest.raises(docker.errors.APIError):
        docker_client.images.pull(name, tag="v1")
    pulled = docker_client.images.pull(name, tag="v1", auth_config=auth)
    assert f"{name}:v1" in pulled.tags
