"""A loopback distribution registry for the archive tests (the registry tests' own server)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "registry"))
from servers import RegistryServer  # noqa: E402  (tests/registry/servers.py, not a package)


@pytest.fixture(scope="session")
def loopback_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    if not Path("/usr/bin/docker-registry").exists():
        pytest.fail("docker-registry is not installed: run 'make test' as root (it installs Debian's docker-registry)")
    server = RegistryServer(tmp_path_factory.mktemp("registry")).start()
    yield server
    server.stop()
