"""``lamina copy SRC DST`` between every transport, and ``lamina save`` from a registry.

Oracles: skopeo reads what lamina writes (inspect), umoci unpacks lamina's OCI layout, docker
loads lamina's docker-archive; the registry is a real docker-registry on loopback.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from lamina.image import open_image
from tests.conftest import Lamina, store_listing


@pytest.fixture
def saved(lamina, imported_busybox, tmp_path) -> Path:
    archive = tmp_path / "saved.tar"
    lamina.run("save", "-o", str(archive), "busybox:latest")
    return archive


def _digest_printed(output: str) -> str:
    return output.strip().rsplit(" ", 1)[1]


def _view(spec: str) -> tuple:
    with open_image(spec) as image:
        return image.manifest_digest(), image.config_digest(), [layer.diff_id for layer in image.layers()]


def test_copy_docker_archive_to_oci_layout_which_umoci_unpacks(lamina, saved, busybox_rootfs, tmp_path, umoci, skopeo):
    layout = tmp_path / "layout"
    out = lamina.out("copy", f"docker-archive:{saved}", f"oci:{layout}:v1")
    digest = _digest_printed(out)
    assert _view(f"oci:{layout}:v1") == _view(f"docker-archive:{saved}")
    assert digest == _view(f"oci:{layout}:v1")[0]
    inspected = json.loads(subprocess.run([skopeo, "inspect", f"oci:{layout}:v1"], check=True,
                                          capture_output=True).stdout)
    assert inspected["Digest"] == digest
    bundle = tmp_path / "bundle"
    subprocess.run([umoci, "unpack", "--rootless", "--image", f"{layout}:v1", str(bundle)], check=True,
                   capture_output=True)
    unpacked = (bundle / "rootfs" / "bin" / "busybox").read_bytes()
    assert hashlib.sha256(unpacked).digest() == hashlib.sha256((busybox_rootfs / "bin" / "busybox").read_bytes()).digest()


@pytest.mark.parametrize("sink", ["docker-archive", "oci-archive", "oci", "store"])
def test_round_trip_through_each_sink_keeps_the_image(lamina, saved, imported_busybox, tmp_path, sink):
    """docker-archive → SINK → docker-archive: the same config, diffIDs and (except via the store) manifest."""
    target = {"docker-archive": f"docker-archive:{tmp_path}/a.tar:round/trip:1",
              "oci-archive": f"oci-archive:{tmp_path}/o.tar:v1",
              "oci": f"oci:{tmp_path}/dir:v1",
              "store": "store:round/trip:1"}[sink]
    lamina.out("copy", f"docker-archive:{saved}", target)
    back = tmp_path / "back.tar"
    source = "store:round/trip:1" if sink == "store" else target
    lamina.out("copy", source, f"docker-archive:{back}")
    original, returned = _view(f"docker-archive:{saved}"), _view(f"docker-archive:{back}")
    assert returned[1:] == original[1:]
    assert returned[1] == imported_busybox
    assert returned[0] == original[0]  # the store's manifest for this image is the one save wrote


def test_skopeo_reads_lamina_archives_as_lamina_wrote_them(lamina, saved, tmp_path, skopeo):
    docker_archive, oci_archive = tmp_path / "d.tar", tmp_path / "o.tar"
    lamina.out("copy", f"docker-archive:{saved}", f"docker-archive:{docker_archive}:oracle/check:1")
    lamina.out("copy", f"docker-archive:{saved}", f"oci-archive:{oci_archive}:v1")
    with open_image(f"docker-archive:{saved}") as image:
        config = image.config_bytes()
        manifest = image.manifest_bytes()
    for spec in (f"docker-archive:{docker_archive}", f"oci-archive:{oci_archive}:v1"):
        skopeo_config = subprocess.run([skopeo, "inspect", "--config", "--raw", spec], check=True,
                                       capture_output=True).stdout
        assert skopeo_config == config
    raw = subprocess.run([skopeo, "inspect", "--raw", f"oci-archive:{oci_archive}:v1"], check=True,
                         capture_output=True).stdout
    assert raw == manifest
    # skopeo finds the image by the tag lamina gave it, and no other
    subprocess.run([skopeo, "inspect", f"docker-archive:{docker_archive}:oracle/check:1"], check=True,
                   capture_output=True)
    other = subprocess.run([skopeo, "inspect", f"docker-archive:{docker_archive}:oracle/check:2"],
                           capture_output=True)
    assert other.returncode != 0


def test_copy_into_an_existing_layout_keeps_its_other_images(lamina, saved, tmp_path):
    layout = tmp_path / "layout"
    lamina.out("copy", f"docker-archive:{saved}", f"oci:{layout}:a")
    lamina.out("copy", f"docker-archive:{saved}", f"oci:{layout}:b")
    lamina.out("copy", f"docker-archive:{saved}", f"oci:{layout}:a")
    names = [d["annotations"]["org.opencontainers.image.ref.name"]
             for d in json.loads((layout / "index.json").read_text())["manifests"]]
    assert sorted(names) == ["a", "b"]


def test_copy_of_a_missing_or_truncated_source_fails_in_one_line(lamina, saved, tmp_path):
    stderr = lamina.fails("copy", f"docker-archive:{tmp_path}/missing.tar", f"oci:{tmp_path}/x")
    assert "missing.tar: no such file" in stderr
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    stderr = lamina.fails("copy", f"docker-archive:{truncated}", f"oci:{tmp_path}/y")
    assert str(truncated) in stderr
    assert not (tmp_path / "y").exists()


def test_copy_of_a_corrupt_layer_into_the_store_leaves_the_store_unchanged(lamina, saved, tmp_path):
    layout = tmp_path / "layout"
    lamina.out("copy", f"docker-archive:{saved}", f"oci:{layout}")
    with open_image(f"oci:{layout}") as image:
        layer = image.layers()[0]
    blob = layout / "blobs" / "sha256" / layer.digest.split(":")[1]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    before = store_listing(lamina.root)
    stderr = lamina.fails("copy", f"oci:{layout}", "store:corrupt:1")
    assert layer.digest in stderr
    assert store_listing(lamina.root) == before


@pytest.mark.parametrize("sink", ["docker-archive", "oci-archive", "oci"])
def test_copy_of_a_corrupt_layout_blob_writes_nothing(lamina, saved, tmp_path, sink):
    layout = tmp_path / "layout"
    lamina.out("copy", f"docker-archive:{saved}", f"oci:{layout}")
    with open_image(f"oci:{layout}") as image:
        layer = image.layers()[0]
    blob = layout / "blobs" / "sha256" / layer.digest.split(":")[1]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    target = tmp_path / "out"
    spec = f"{sink}:{target}" if sink == "oci" else f"{sink}:{target}.tar"
    stderr = lamina.fails("copy", f"oci:{layout}", spec)
    assert layer.digest in stderr
    assert not (tmp_path / "out.tar").exists()
    assert not target.exists() or not (target / "blobs" / "sha256" / layer.digest.split(":")[1]).exists()


def test_copy_all_platforms_needs_registries(lamina, saved, tmp_path):
    stderr = lamina.fails("copy", "--all", f"docker-archive:{saved}", f"oci:{tmp_path}/x")
    assert "between registries" in stderr


@pytest.mark.slow
@pytest.mark.registry
def test_copy_layout_to_registry_and_save_from_registry_without_storing(lamina, saved, registry, skopeo, tmp_path):
    layout = tmp_path / "layout"
    lamina.out("copy", f"docker-archive:{saved}", f"oci:{layout}:v1")
    ref = f"{registry.host}/image-seam/copied:1"
    digest = _digest_printed(lamina.out("copy", f"oci:{layout}:v1", f"docker://{ref}"))
    raw = subprocess.run([skopeo, "inspect", "--tls-verify=false", "--raw", f"docker://{ref}"], check=True,
                         capture_output=True).stdout
    assert hashlib.sha256(raw).hexdigest() == digest.split(":")[1]

    fresh = Lamina(tmp_path / "fresh-store")
    fresh.out("images")  # make the store, then watch it
    before = store_listing(fresh.root)
    archive = tmp_path / "from-registry.tar"
    fresh.run("save", "-o", str(archive), ref)
    assert store_listing(fresh.root) == before
    with tarfile.open(archive) as opened:
        manifest = json.loads(opened.extractfile("manifest.json").read())
    assert manifest[0]["RepoTags"] == [ref]
    loaded = Lamina(tmp_path / "loading-store")
    assert f"Loaded image: {ref}" in loaded.out("load", "-i", str(archive))
    assert loaded.out("images", "-q", "--no-trunc", ref).strip() == _view(f"oci:{layout}:v1")[1]


@pytest.mark.registry
def test_registry_to_registry_copy_still_goes_blob_to_blob(lamina, imported_busybox, registry):
    source = f"{registry.host}/image-seam/from:1"
    lamina.run("tag", "busybox:latest", source)
    lamina.out("push", source)
    target = f"{registry.host}/image-seam/to:1"
    out = lamina.out("copy", source, target)
    assert out.splitlines()[-1].startswith(f"Copied {source} to {target}: digest: sha256:")
    assert "Mounted from image-seam/from" in out  # blobs stayed in the registry


def test_save_of_a_name_in_no_store_and_no_registry_fails_in_one_line(lamina, tmp_path, registry):
    stderr = lamina.fails("save", "-o", str(tmp_path / "x.tar"), f"{registry.host}/image-seam/absent:1")
    assert "No such image" in stderr and "absent:1" in stderr
    assert not (tmp_path / "x.tar").exists()


@pytest.mark.slow
@pytest.mark.docker
def test_docker_loads_a_docker_archive_copied_from_an_oci_layout(lamina, saved, skopeo, docker, tmp_path):
    layout = tmp_path / "layout"  # skopeo's layout: gzip layers, its own manifest and config
    subprocess.run([skopeo, "copy", "-q", f"docker-archive:{saved}", f"oci:{layout}:v1"], check=True)
    archive = tmp_path / "for-docker.tar"
    lamina.out("copy", f"oci:{layout}:v1", f"docker-archive:{archive}:lamina/from-layout:1")
    out = docker.out("load", "-i", str(archive))
    assert "Loaded image: lamina/from-layout:1" in out
    image_id = docker.out("inspect", "-f", "{{.Id}}", "lamina/from-layout:1").strip()
    assert image_id == _view(f"oci:{layout}:v1")[1]
    assert docker.out("run", "--rm", "--network", "none", "lamina/from-layout:1", "echo", "loaded").strip() == "loaded"


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.registry
def test_docker_loads_what_save_read_from_a_registry(lamina, imported_busybox, registry, docker, tmp_path):
    ref = f"{registry.host}/image-seam/for-docker:1"
    lamina.run("tag", "busybox:latest", ref)
    lamina.out("push", ref)
    archive = tmp_path / "saved-from-registry.tar"
    Lamina(tmp_path / "empty-store").run("save", "-o", str(archive), ref)
    assert f"Loaded image: {ref}" in docker.out("load", "-i", str(archive))
    assert docker.out("inspect", "-f", "{{.Id}}", ref).strip() == imported_busybox


@pytest.mark.registry
def test_copy_from_the_store_to_a_registry_pulls_back_the_same_image(lamina, imported_busybox, registry, tmp_path):
    ref = f"{registry.host}/image-seam/from-store:1"
    out = lamina.out("copy", "store:busybox:latest", f"docker://{ref}")
    assert out.splitlines()[-1].startswith("Copied store:busybox:latest")
    other = Lamina(tmp_path / "other")
    other.out("pull", ref)
    assert other.out("images", "-q", "--no-trunc", ref).strip() == imported_busybox
