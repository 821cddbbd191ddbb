"""Fixtures for the Python API: a real ``lamina.Client`` over a temp store with busybox
imported through the API itself, the CLI over the same store as the oracle (``lamina inspect``
prints the documents models carry as ``attrs``), and a loopback registry for pulls and pushes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import lamina
from tests.conftest import Lamina, require_tool


@pytest.fixture
def cli(tmp_path: Path) -> Lamina:
    """The CLI over the client's store."""
    return Lamina(tmp_path / "store")


@pytest.fixture
def client(cli: Lamina, busybox_tar: Path) -> Iterator[lamina.Client]:
    """A client of a fresh store holding ``busybox:latest`` (CMD sh), imported by the API."""
    with lamina.Client(root=cli.root) as handle:
        handle.images.import_image(busybox_tar, "busybox:latest", changes=['CMD ["sh"]'])
        yield handle


@pytest.fixture
def ctr_client(client: lamina.Client, cli: Lamina) -> Iterator[lamina.Client]:
    """The client, for tests that make containers (root and runc); whatever they leave is
    force-removed by the CLI afterwards."""
    if os.geteuid() != 0:
        pytest.fail("container tests need root (overlayfs, runc, cgroups)")
    require_tool("runc", "runc")
    yield client
    for container_id in cli.out("ps", "-aq", "--no-trunc").split():
        cli.run("rm", "-f", "-v", container_id, check=False)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory):
    """``docker-registry`` on a free loopback port (tests/registry/servers.py)."""
    if not Path("/usr/bin/docker-registry").exists():
        pytest.fail("docker-registry is not installed: run 'make test' as root (it installs docker-registry)")
    from tests.registry.servers import RegistryServer

    server = RegistryServer(tmp_path_factory.mktemp("client-registry")).start()
    yield server
    server.stop()


def inspect(cli: Lamina, kind: str, name: str) -> dict:
    """``lamina inspect --type KIND NAME``'s one document."""
    return json.loads(cli.out("inspect", "--type", kind, name))[0]
