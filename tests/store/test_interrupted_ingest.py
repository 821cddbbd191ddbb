"""What a killed writer leaves behind: reclaimable garbage that fsck does not count as a problem,
temp files the next writer sweeps, and blobs that are checked before any image may use them."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from lamina.store.store import Store
from tests.conftest import Lamina, tar_bytes


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
