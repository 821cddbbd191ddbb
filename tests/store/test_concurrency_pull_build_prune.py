"""Pulls, builds and prunes at once on one store leave it consistent (``fsck`` clean), with every
pulled image the registry's and every built one runnable.

Beyond tests/store/test_concurrency.py (import/tag/rmi): pull writes blobs and metadata from the
network, build runs containers and commits layers, and prune deletes what becomes dangling while
the other two write, which is where a lock or a reference check that is missing would show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Lamina
from tests.registry.servers import RegistryServer
from tests.store.loopback import loopback_registry_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loopback_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from loopback_registry_server(tmp_path_factory.mktemp("registry"))


def _start(store: Lamina, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lamina", *args], env=store.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


PRUNER = """
import subprocess, sys
for _ in range(int(sys.argv[1])):
    for args in (["image", "prune", "-f"], ["container", "prune", "-f"]):
        result = subprocess.run([sys.executable, "-m", "lamina", *args], capture_output=True)
        if result.returncode:
            sys.exit(result.stderr.decode())
"""


def test_pull_build_and_prune_at_once(tmp_path: Path, busybox_tar: Path, loopback_registry: RegistryServer):
    source = Lamina(tmp_path / "source")
    pulled = {}
    for n in range(4):  # each with a layer of its own, so the pulls write blobs while the rest runs
        context = tmp_path / f"payload{n}"
        context.mkdir()
        (context / "payload.bin").write_bytes(os.urandom(2 * 1024 * 1024))
        layer = tmp_path / f"payload{n}.tar"
        subprocess.run(["tar", "-C", str(context), "-cf", str(layer), "."], check=True)
        ref = f"{loopback_registry.host}/concurrent/img{n}:{os.urandom(3).hex()}"
        source.out("import", str(layer), ref, "-c", f"ENV PULLED={n}")
        source.out("push", ref)
        pulled[ref] = source.out("inspect", "--format", "{{.Id}}", ref).strip()

    store = Lamina(tmp_path / "store")
    store.out("import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]')
    contexts = []
    for n in range(3):
        context = tmp_path / f"ctx{n}"
        context.mkdir()
        (context / "Dockerfile").write_text(
            "FROM busybox\nARG ROUND\n"
            f"RUN echo built {n} round $ROUND > /built && dd if=/dev/urandom of=/noise bs=64k count=8\n")
        contexts.append(context)

    processes = [(f"pull {ref}", _start(store, "pull", ref)) for ref in pulled]
    for n, context in enumerate(contexts):  # two rounds on one tag: the first image becomes dangling
        for round_ in (1, 2):
            processes.append((f"build {n}.{round_}", _start(store, "build", "-q", "--build-arg", f"ROUND={round_}",
                                                            "-t", f"built{n}:latest", str(context))))
    processes.append(("prune", subprocess.Popen([sys.executable, "-c", PRUNER, "6"], env=store.env(),
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
    for label, process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, f"{label}: {stderr.decode()}"

    check = store.run("fsck", check=False)
    assert check.returncode == 0 and "0 problems, clean" in check.stdout.decode(), check.stdout.decode()
    for ref, image_id in pulled.items():
        assert store.out("inspect", "--format", "{{.Id}}", ref).strip() == image_id
    for n in range(3):
        assert store.out("run", "--rm", "--network", "none", f"built{n}:latest", "cat", "/built").startswith(
            f"built {n} round ")
    store.out("image", "prune", "-f")  # what the races left dangling goes now, and the store stays clean
    assert "0 problems, clean" in store.out("fsck")
