"""Fixtures of the analysis tests (dive's helpers are in oracle.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def dive_workdir(tmp_path: Path) -> Path:
    """An empty working directory, so that neither tool finds a stray .dive-ci."""
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.fixture(scope="session")
def experimental_docker():
    """A private dockerd started with ``--experimental``: its classic builder's ``--squash`` is the
    oracle for lamina's squash (the session's plain ``docker`` fixture refuses the flag)."""
    import os
    import shutil
    import subprocess
    import tempfile
    import time

    from tests.conftest import Docker, require_tool

    if os.geteuid() != 0:
        pytest.fail("the squash oracle needs root (dockerd on a private socket)")
    base = Path(tempfile.mkdtemp(prefix="lx-", dir="/tmp"))
    daemon = Docker(base)
    log = open(base / "dockerd.log", "wb")
    daemon.process = subprocess.Popen(
        [require_tool("dockerd", "docker.io"), "--experimental", "--host", f"unix://{daemon.socket}",
         "--data-root", str(base / "data"), "--exec-root", str(base / "exec"), "--pidfile", str(base / "docker.pid"),
         "--iptables=false", "--ip-masq=false", "--bridge=none", "--storage-driver=overlay2"],
        stdout=log, stderr=log)
    deadline = time.time() + 60
    while daemon.run("info", check=False).returncode != 0:
        if time.time() > deadline or daemon.process.poll() is not None:
            daemon.stop()
            pytest.fail("dockerd --experimental did not start: " + (base / "dockerd.log").read_text()[-2000:])
        time.sleep(0.3)
    yield daemon
    daemon.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory):
    """An anonymous ``docker-registry`` on a free 127.0.0.1 port (tests/registry's RegistryServer)."""
    from tests.conftest import require_tool
    from tests.registry.servers import RegistryServer

    if not Path("/usr/bin/docker-registry").exists():
        require_tool("docker-registry", "docker-registry")
    server = RegistryServer(tmp_path_factory.mktemp("analysis-registry")).start()
    yield server
    server.stop()
