"""Fixtures for container tests: a full busybox image (every applet, a few users) in one store
shared by the module's tests, real runc, and docker as the oracle where behaviour is compared.

Containers a test leaves behind are force-removed after it, and no test may leave a mount.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Lamina, require_tool

PASSWD = ("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
          "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n")
GROUP = "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\nstaff:x:50:alice\n"


class Containers(Lamina):
    """The CLI with bytecode caching on (as users have it), so each call starts fast."""

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def ids(self) -> list[str]:
        return self.out("ps", "-aq", "--no-trunc").split()

    def state(self, name: str) -> str:
        return self.out("inspect", "--type", "container", "--format", "{{.State.Status}}", name).strip()

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session", autouse=True)
def _root_runc() -> None:
    if os.geteuid() != 0:
        pytest.fail("container tests need root (overlayfs, runc, cgroups)")
    require_tool("runc", "runc")


@pytest.fixture(scope="session")
def full_busybox_tar(tmp_path_factory) -> Path:
    """A busybox rootfs with every applet linked, users, and /data content for VOLUME tests."""
    busybox = require_tool("busybox", "busybox-static")
    root = tmp_path_factory.mktemp("ctr-rootfs") / "root"
    for directory in ("bin", "etc", "tmp", "root", "home/alice", "data", "www"):
        (root / directory).mkdir(parents=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(busybox, root / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    (root / "data" / "seed.txt").write_text("from the image\n")
    os.chown(root / "data", 1000, 1000)
    os.chmod(root / "data", 0o750)
    (root / "www" / "index.html").write_text("hello from lamina\n")
    os.chown(root / "home" / "alice", 1000, 1000)
    out = tmp_path_factory.mktemp("ctr-tars") / "busybox.tar"
    subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(out), "."], check=True)
    return out


@pytest.fixture(scope="module")
def shared(tmp_path_factory, full_busybox_tar: Path) -> Containers:
    """One store per test module with ``busybox`` and ``cfgimage`` (ENTRYPOINT, ENV, WORKDIR,
    USER, STOPSIGNAL, VOLUME set)."""
    lamina = Containers(tmp_path_factory.mktemp("ctr-store") / "store")
    lamina.run("import", str(full_busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]')
    lamina.run("import", str(full_busybox_tar), "cfgimage:latest",
               "-c", 'ENTRYPOINT ["/bin/sh", "-c"]', "-c", 'CMD ["echo $GREETING from $(pwd) as $(id -un)"]',
               "-c", "ENV GREETING=hello", "-c", "WORKDIR /home/alice", "-c", "USER alice",
               "-c", "STOPSIGNAL SIGUSR1", "-c", "VOLUME /data")
    yield lamina
    for container_id in lamina.ids():
        lamina.run("rm", "-f", "-v", container_id, check=False)
    assert not _mounts_under(lamina.root), "containers left mounts behind"


@pytest.fixture
def ctr(shared: Containers) -> Containers:
    """The shared store; containers the test made are removed after it."""
    before = set(shared.ids())
    yield shared
    for container_id in set(shared.ids()) - before:
        shared.run("rm", "-f", "-v", container_id, check=False)


@pytest.fixture(scope="module")
def oracle(shared: Containers, docker) -> object:
    """The private dockerd with the same busybox images (``lamina save | docker load``)."""
    archive = subprocess.run([sys.executable, "-m", "lamina", "save", "busybox:latest", "cfgimage:latest"],
                             env=shared.env(), capture_output=True, check=True).stdout
    docker.run("load", input=archive)
    return docker


@pytest.fixture(scope="module")
def oracle28(oracle) -> object:
    """The same private dockerd driven by docker 28's client, for tests about docker 28's words
    (the ``oracle``'s client is docker 20.10's, /usr/bin/docker)."""
    client = shutil.which("docker", path="/usr/local/bin")
    if client is None:
        pytest.fail("docker 28's client is not at /usr/local/bin/docker: put the docker 28 static client there "
                    "(the machine image ships it)")
    newer = copy.copy(oracle)
    newer.client = client
    return newer


def refusal(result: subprocess.CompletedProcess, ids: tuple[str, ...] = ()) -> tuple[int, str]:
    """(exit status, first error line) without the tool's prefix (``lamina: error:``, docker's
    ``Error response from daemon:``/``Error:``), container ids in ``ids`` written ``<id>``."""
    lines = result.stderr.decode().strip().splitlines()
    line = lines[0] if lines else ""
    stripped = None
    while stripped != line:
        stripped = line
        for prefix in ("lamina: error: ", "docker: ", "Error response from daemon: ", "Error: "):
            line = line.removeprefix(prefix)
    for container_id in ids:
        line = line.replace(container_id, "<id>")
    return result.returncode, line


def _mounts_under(root: Path) -> list[str]:
    prefix = os.path.abspath(root)
    with open("/proc/self/mountinfo") as mountinfo:
        return [line.split()[4] for line in mountinfo if line.split()[4].startswith(prefix)]


def mounts_under(root: Path) -> list[str]:
    return _mounts_under(root)
