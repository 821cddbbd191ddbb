"""A lamina service on a unix socket in a temp dir, over a store holding busybox:latest (every
applet linked), for docker's own clients to drive."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import require_tool

DOCKER_CLIS = {"docker 20.10": "/usr/bin/docker", "docker 28": "/usr/local/bin/docker"}


class LaminaService:
    """``lamina system service`` in a child process; ``docker(...)`` runs a docker CLI against it."""

    def __init__(self, base: Path):
        self.base = base
        self.root = base / "store"
        self.socket = base / "lamina.sock"
        self.uri = f"unix://{self.socket}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lamina", "--root", str(self.root), "system", "service", "--time", "0", self.uri],
            stdout=subprocess.DEVNULL, stderr=open(self.base / "service.log", "wb"))  # noqa: SIM115
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the service did not start: {(self.base / 'service.log').read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def lamina(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lamina", "--root", str(self.root), *args], input=input,
                              capture_output=True, timeout=300, check=True)

    def docker(self, cli: str, *args: str, input: bytes | None = None, check: bool = True,
               timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, "DOCKER_HOST": self.uri, "DOCKER_CONFIG": str(self.base / "docker-config"),
               "DOCKER_BUILDKIT": "0", "DOCKER_CLI_HINTS": "false"}
        result = subprocess.run([cli, *args], input=input, capture_output=True, env=env, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{cli} {' '.join(args)} failed ({result.returncode}): {result.stderr.decode()}")
        return result


def make_busybox_tar(base: Path) -> Path:
    """busybox-static with every applet linked (``busybox --install -s``), /etc/passwd, /tmp 1777."""
    busybox = require_tool("busybox", "busybox-static")
    root = base / "rootfs"
    for directory in ("bin", "etc", "tmp", "root", "var"):
        (root / directory).mkdir(parents=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(busybox, root / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    out = base / "busybox.tar"
    subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(out), "."], check=True)
    return out


@pytest.fixture(scope="session")
def busybox_applets_tar(tmp_path_factory) -> Path:
    return make_busybox_tar(tmp_path_factory.mktemp("svc-busybox"))


@pytest.fixture(scope="module")
def service(tmp_path_factory, busybox_applets_tar: Path) -> LaminaService:
    base = Path(tmp_path_factory.mktemp("svc"))
    served = LaminaService(base)
    served.lamina("import", str(busybox_applets_tar), "busybox:latest", "-c", 'CMD ["sh"]')
    served.start()
    yield served
    served.stop()
    # containers the tests left behind (running ones too) go with the store
    left = subprocess.run([sys.executable, "-m", "lamina", "--root", str(served.root), "ps", "-aq"],
                          capture_output=True, check=False).stdout.decode().split()
    if left:
        subprocess.run([sys.executable, "-m", "lamina", "--root", str(served.root), "rm", "-f", *left],
                       capture_output=True, check=False)


@pytest.fixture
def docker_client(service: LaminaService):
    """docker-py (PyPI ``docker``) against the service, API 1.41 as its integration suite runs."""
    try:
        import docker
    except ImportError:
        pytest.fail("docker-py is missing: pip install -e '.[dev]' (it installs docker>=7.2)")
    client = docker.DockerClient(base_url=service.uri, version="1.41", timeout=120)
    yield client
    client.close()


def docker_cli(name: str) -> str:
    path = DOCKER_CLIS[name]
    if not os.path.exists(path):
        pytest.fail(f"{name} CLI missing at {path}: apt-get install docker.io (20.10) / the docker 28 static client")
    return path
