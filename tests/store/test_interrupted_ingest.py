"""What a killed writer leaves behind: reclaimable garbage that fsck does not count as a problem,
temp files the next writer sweeps, and blobs that are checked before any image may use them."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.store.store import Store
from tests.conftest import Lamina, tar_bytes
from tests.registry.servers import RegistryServer
from tests.store.loopback import loopback_registry_server


def test_an_unreferenced_blob_is_reclaimable_not_a_problem(lamina: Lamina, imported_busybox):
    store = Store(lamina.root)
    orphan = store.content.ingest_bytes(b"committed by a load that was killed before its metadata")
    store.close()
    check = lamina.run("fsck")  # exit 0
    out = check.stdout.decode()
    assert f"reclaimable: unreferenced-blob: {orphan}" in out
    assert "0 problems" in out and "clean" not in out
    assert "repaired" in lamina.out("fsck", "--repair")
    assert not (lamina.root / "blobs" / "sha256" / orphan.split(":")[1]).exists()
    assert "0 problems, clean" in lamina.out("fsck")


_WRITER = """
import sys, time
from lamina.store.store import Store
writer = Store(sys.argv[1]).content.writer()
writer.write(b"half a blob")
print(writer.temp_path, flush=True)
time.sleep(60)
"""


def _killed_writer(root: Path) -> Path:
    """A process that dies by SIGKILL in the middle of writing a blob; its temp file."""
    process = subprocess.Popen([sys.executable, "-c", _WRITER, str(root)], stdout=subprocess.PIPE)
    temp = Path(process.stdout.readline().decode().strip())
    process.send_signal(signal.SIGKILL)
    process.wait()
    old = time.time() - 60
    os.utime(temp, (old, old))  # past the grace a just-created file gets
    return temp


def test_a_killed_writers_temp_file_is_reclaimable_and_swept_by_the_next_writer(lamina: Lamina, busybox_tar):
    lamina.root.mkdir(parents=True)
    temp = _killed_writer(lamina.root)
    assert temp.exists() and temp.parent == lamina.root / "ingest"
    out = lamina.out("fsck")
    assert f"reclaimable: abandoned-ingest: {temp.name}" in out
    lamina.out("import", str(busybox_tar), "next:v1")
    assert not temp.exists()
    assert "0 problems, clean" in lamina.out("fsck")


def test_a_live_writers_temp_file_is_not_swept(lamina: Lamina, busybox_tar):
    store = Store(lamina.root)
    with store.content.writer() as writer:
        writer.write(b"still being written")
        old = time.time() - 3000
        os.utime(writer.temp_path, (old, old))
        lamina.out("import", str(busybox_tar), "next:v1")  # another writer, sweeping
        assert "abandoned-ingest" not in lamina.out("fsck")
        assert Path(writer.temp_path).exists()
        digest, _ = writer.commit()
    assert store.content.has(digest)
    store.close()


def test_load_checks_a_layer_blob_that_a_killed_load_left_unchecked(lamina: Lamina, tmp_path: Path):
    """A killed load may have committed a layer blob before checking it; the next load of the
    same archive finds the blob in place and must still check it before an image uses it."""
    escape = tarfile.TarInfo("../escaped")
    hostile_layer = tar_bytes([(escape, b"outside")])
    import hashlib

    diff_id = "sha256:" + hashlib.sha256(hostile_layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["hostile:v1"], "Layers": ["layer/layer.tar"]}])
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in (("layer/layer.tar", hostile_layer), (config_name, config),
                           ("manifest.json", manifest.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    (tmp_path / "hostile.tar").write_bytes(buffer.getvalue())
    store = Store(lamina.root)
    store.content.ingest_bytes(hostile_layer)  # as the killed load left it: in blobs/, no layer row
    store.close()
    assert "escapes the layer root" in lamina.fails("load", "-i", str(tmp_path / "hostile.tar"))
    assert "hostile" not in lamina.out("images")


@pytest.fixture(scope="module")
def loopback_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from loopback_registry_server(tmp_path_factory.mktemp("registry"))


@pytest.mark.registry
def test_pull_adopts_a_layer_blob_a_killed_pull_left_instead_of_fetching_it(
        lamina: Lamina, busybox_tar, loopback_registry: RegistryServer, tmp_path: Path):
    ref = f"{loopback_registry.host}/adopt/busybox:v1"
    lamina.out("import", str(busybox_tar), ref)
    lamina.out("push", ref)
    complete = Lamina(tmp_path / "complete")
    complete.out("pull", ref)
    connection = sqlite3.connect(complete.root / "metadata.db")
    (layer,) = [row[0] for row in connection.execute("SELECT blob_digest FROM layers")]
    connection.close()
    interrupted = Lamina(tmp_path / "interrupted")  # as a pull killed after committing the layer blob
    (interrupted.root / "blobs" / "sha256").mkdir(parents=True)
    shutil.copy(complete.root / "blobs" / "sha256" / layer.split(":")[1],
                interrupted.root / "blobs" / "sha256" / layer.split(":")[1])
    assert "reclaimable: unreferenced-blob" in interrupted.out("fsck")
    fetched_before = loopback_registry.log_path.read_text().count(f"/blobs/{layer}")
    out = interrupted.out("pull", ref)
    assert f"{layer.split(':')[1][:12]}: Already exists" in out
    assert loopback_registry.log_path.read_text().count(f"/blobs/{layer}") == fetched_before
    assert interrupted.out("inspect", "--format", "{{.Id}}", ref) == complete.out("inspect", "--format", "{{.Id}}", ref)
    assert "0 problems, clean" in interrupted.out("fsck")


@pytest.mark.registry
def test_pull_fetches_a_stored_blob_that_fails_the_layer_checks(
        lamina: Lamina, busybox_tar, loopback_registry: RegistryServer, tmp_path: Path):
    """A blob in the store under a layer's digest whose bytes are not that layer (damaged) is not
    adopted: the pull fetches the layer, and its good copy replaces the damaged one."""
    ref = f"{loopback_registry.host}/adopt/damaged:v1"
    lamina.out("import", str(busybox_tar), ref)
    lamina.out("push", ref)
    manifest = json.loads(subprocess.run(
        [sys.executable, "-c", "import sys, httpx; print(httpx.get(sys.argv[1], headers={'Accept': "
         "'application/vnd.docker.distribution.manifest.v2+json'}).text)",
         f"http://{loopback_registry.host}/v2/adopt/damaged/manifests/v1"],
        check=True, capture_output=True, text=True).stdout)
    layer = manifest["layers"][0]["digest"]
    other = Lamina(tmp_path / "other")
    (other.root / "blobs" / "sha256").mkdir(parents=True)
    (other.root / "blobs" / "sha256" / layer.split(":")[1]).write_bytes(b"not the layer")
    assert "Already exists" not in other.out("pull", ref)
    assert "0 problems, clean" in other.out("fsck")
