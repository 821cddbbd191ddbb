"""A loopback distribution registry for tests outside tests/registry (its own RegistryServer).

Not a conftest: tests/store and tests/archive are not packages, and a second ``conftest``
module there would shadow tests/conftest.py for modules that import it by that name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.registry.servers import RegistryServer


def loopback_registry_server(workdir: Path) -> Iterator[RegistryServer]:
    """Start ``docker-registry`` on a free 127.0.0.1 port for as long as the generator lives."""
    if not Path("/usr/bin/docker-registry").exists():
        pytest.fail("docker-registry is not installed: run 'make test' as root (it installs Debian's docker-registry)")
    server = RegistryServer(workdir).start()
    yield server
    server.stop()
