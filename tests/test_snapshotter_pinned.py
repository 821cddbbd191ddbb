"""The suite runs RUN steps on the overlay snapshotter on this machine, and both snapshotters agree.

A regression in the overlay probe would make every build and container test fall back to the
copying snapshotter silently (one stderr line nobody reads): the tests would still pass, on the
wrong path. These tests fail instead. The comparison of the two pins ``LAMINA_SNAPSHOTTER``
explicitly, so it compares what it says whatever the probe decides.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from tests.conftest import Lamina

COPY_NOTICE = "RUN steps use the copying snapshotter"

DOCKERFILE = """FROM busybox
RUN mkdir -p /made/deeper && echo one > /made/deeper/f && ln -s f /made/deeper/link && rm /bin/true
RUN echo two >> /made/deeper/f && rm -r /made/deeper/link && mkdir /opaque && touch /opaque/x
"""


def test_the_suite_runs_on_the_overlay_snapshotter(lamina: Lamina, imported_busybox, tmp_path: Path):
    """With the environment the suite's tests get (no pin), the probe picks overlay here."""
    forced = os.environ.get("LAMINA_SNAPSHOTTER")
    if forced not in (None, "", "overlay"):
        pytest.fail(f"LAMINA_SNAPSHOTTER={forced} is set: the suite would run on the copy path; unset it")
    info = lamina.out("info")
    assert " Snapshotter: overlay\n" in info, info
    assert "Storage Driver: overlay\n" in info, info
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(DOCKERFILE)
    built = lamina.run("build", "-t", "probe:1", str(tmp_path / "ctx"))
    assert COPY_NOTICE not in built.stderr.decode(), built.stderr.decode()


def _layer_members(lamina: Lamina, image: str) -> list[list]:
    """Per layer: the members (name, type, size, mode, link target, content) of the saved image."""
    with tarfile.open(fileobj=io.BytesIO(lamina.run("save", image).stdout)) as saved:
        manifest = json.load(saved.extractfile("manifest.json"))
        layers = []
        for name in manifest[0]["Layers"]:
            with tarfile.open(fileobj=io.BytesIO(saved.extractfile(name).read())) as layer:
                layers.append(sorted(
                    (m.name, m.type, m.size, m.mode, m.linkname,
                     layer.extractfile(m).read() if m.isfile() else b"") for m in layer.getmembers()))
    return layers


@pytest.mark.slow
def test_overlay_and_copy_snapshotters_make_the_same_layers(busybox_tar: Path, tmp_path: Path):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(DOCKERFILE)
    layers = {}
    for name in ("overlay", "copy"):
        store = Lamina(tmp_path / name, {"LAMINA_SNAPSHOTTER": name})
        store.run("import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]')
        built = store.run("build", "-t", "both:1", str(tmp_path / "ctx"))
        assert COPY_NOTICE not in built.stderr.decode()  # a pin is not announced as a fallback
        assert f" Snapshotter: {name} (LAMINA_SNAPSHOTTER={name})\n" in store.out("info")
        layers[name] = _layer_members(store, "both:1")
    assert len(layers["overlay"]) == 3
    assert layers["overlay"] == layers["copy"]
    names = {member[0] for member in layers["overlay"][1]}
    assert {"made/deeper/f", "made/deeper/link", "bin/.wh.true"} <= names
