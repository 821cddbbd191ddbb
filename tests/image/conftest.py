"""Image-seam fixtures: a loopback distribution registry (tests/registry's RegistryServer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.registry.servers import RegistryServer


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An anonymous ``docker-registry`` on a free 127.0.0.1 port, for the session."""
    if not Path("/usr/bin/docker-registry").exists():
        require_tool("docker-registry", "docker-registry")
    server = RegistryServer(tmp_path_factory.mktemp("image-registry")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def skopeo() -> str:
    return require_tool("skopeo", "skopeo")


@pytest.fixture(scope="session")
def umoci() -> str:
    return require_tool("umoci", "umoci")
