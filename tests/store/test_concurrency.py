"""Several lamina processes on one store at once leave it consistent."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import Lamina

pytestmark = pytest.mark.slow

WORKER = """
import sys
import lamina
from lamina.errors import LaminaError

root, tar, number = sys.argv[1], sys.argv[2], int(sys.argv[3])
with lamina.Client(root=root) as client:
    for round in range(4):
        image_id = client.import_image(tar, f"w{number}:r{round}", changes=[f"ENV W={number} R={round}"])
        client.tag(image_id, f"shared:w{number}")
        client.tag("shared:w%d" % number, f"common:latest")
        if round % 2:
            for result in client.remove_images([f"w{number}:r{round - 1}"]):
                if isinstance(result, LaminaError) and "No such image" not in str(result):
                    raise result
        client.images()
    client.prune_images()
"""


def test_eight_processes_import_tag_and_remove_concurrently(tmp_path, busybox_tar):
    root = tmp_path / "store"
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(root), str(busybox_tar), str(n)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for n in range(8)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr.decode()
    store = Lamina(root)
    assert "0 problems, clean" in store.out("fsck")
    names = store.out("images", "--format", "{{.Repository}}:{{.Tag}}").split()
    for n in range(8):
        assert f"w{n}:r1" in names and f"w{n}:r3" in names and f"w{n}:r0" not in names
        assert f"shared:w{n}" in names
    assert "common:latest" in names
