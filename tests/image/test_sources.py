"""Every source reads one image to the same manifest, config and diffIDs; bad specs fail in one line."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path

import pytest

from lamina.errors import ArchiveError, ImageNotFoundError, LaminaError
from lamina.image import open_image


def _summary(image) -> tuple:
    return (image.manifest_digest(), image.config_digest(), [layer.diff_id for layer in image.layers()],
            [layer.digest for layer in image.layers()])


def _uncompressed_digest(layer) -> str:
    digest = hashlib.sha256()
    with layer.open_uncompressed() as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


@pytest.fixture
def saved(lamina, imported_busybox, tmp_path) -> Path:
    archive = tmp_path / "busybox-saved.tar"
    lamina.run("save", "-o", str(archive), "busybox:latest")
    return archive


def test_store_and_docker_archive_read_the_same_image(lamina, imported_busybox, saved):
    with open_image("busybox:latest", root=str(lamina.root)) as stored, \
            open_image(f"docker-archive:{saved}") as archived, \
            open_image(f"docker-archive:{saved}:busybox:latest") as by_tag:
        assert stored.config_digest() == imported_busybox
        assert _summary(stored) == _summary(archived) == _summary(by_tag)
        assert stored.manifest_bytes() == archived.manifest_bytes()
        assert stored.config_bytes() == archived.config_bytes()
        for layer in archived.layers():
            assert _uncompressed_digest(layer) == layer.diff_id


def test_store_source_by_id_prefix(lamina, imported_busybox):
    with open_image("store:" + imported_busybox[7:19], root=str(lamina.root)) as image:
        assert image.config_digest() == imported_busybox


def test_docker_save_layout_without_index_gets_a_schema2_manifest(lamina, imported_busybox, saved, tmp_path):
    """A docker ≤24 style archive (manifest.json only): the manifest is made, layer digests = diffIDs."""
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-xf", str(saved), "-C", str(unpacked)], check=True)
    (unpacked / "index.json").unlink()
    legacy = tmp_path / "legacy.tar"
    subprocess.run(["tar", "-cf", str(legacy), "-C", str(unpacked), "."], check=True)
    with open_image(f"docker-archive:{legacy}") as image:
        manifest = json.loads(image.manifest_bytes())
        assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
        assert image.config_digest() == imported_busybox
        assert [layer.digest for layer in image.layers()] == [layer.diff_id for layer in image.layers()]
        assert manifest["config"]["digest"] == imported_busybox


def test_missing_archive_is_one_line_naming_the_spec(tmp_path):
    spec = f"docker-archive:{tmp_path}/nope.tar"
    with pytest.raises(ArchiveError, match="nope.tar: no such file"):
        open_image(spec)


def test_truncated_archive_fails_naming_the_spec(saved, tmp_path):
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(saved.read_bytes()[:3000])
    with pytest.raises(ArchiveError) as caught:
        open_image(f"docker-archive:{truncated}")
    assert str(truncated) in str(caught.value) and "\n" not in str(caught.value)


def test_tampered_layer_fails_while_read(saved, tmp_path):
    """A layer whose bytes do not hash to its digest opens, but its reader fails at the end."""
    data = bytearray(saved.read_bytes())
    marker = data.find(b"busybox", 4096)  # inside the layer's data, past the first headers
    data[marker] ^= 0x20
    tampered = tmp_path / "tampered.tar"
    tampered.write_bytes(bytes(data))
    with open_image(f"docker-archive:{tampered}") as image, pytest.raises(LaminaError, match="hashes to"):
        for layer in image.layers():
            with layer.open_compressed() as stream:
                while stream.read(1 << 20):
                    pass


def test_unknown_tag_in_archive(saved):
    with pytest.raises(ArchiveError, match="no image tagged other:2"):
        open_image(f"docker-archive:{saved}:other:2")


def test_store_prefix_never_falls_back_to_a_registry(lamina, imported_busybox):
    with pytest.raises(ImageNotFoundError):
        open_image("store:nothing-here:1", root=str(lamina.root))


def _skopeo_view(skopeo: str, spec: str) -> tuple[bytes, bytes]:
    """(raw manifest, raw config) as skopeo reads them: the oracle."""
    tls = ["--tls-verify=false"] if spec.startswith("docker://") else []
    raw = subprocess.run([skopeo, "inspect", *tls, "--raw", spec], check=True, capture_output=True).stdout
    config = subprocess.run([skopeo, "inspect", *tls, "--config", "--raw", spec], check=True,
                            capture_output=True).stdout
    return raw, config


@pytest.fixture
def skopeo_layout(skopeo, saved, tmp_path) -> Path:
    """The saved image copied by skopeo into an OCI layout (gzip layers, its own manifest)."""
    layout = tmp_path / "layout"
    subprocess.run([skopeo, "copy", "-q", f"docker-archive:{saved}", f"oci:{layout}:v1"], check=True)
    return layout


def test_oci_layout_and_archive_read_what_skopeo_reads(skopeo, skopeo_layout, saved, tmp_path):
    archive = tmp_path / "layout.tar"
    subprocess.run([skopeo, "copy", "-q", f"oci:{skopeo_layout}:v1", f"oci-archive:{archive}:v1"], check=True)
    raw, config = _skopeo_view(skopeo, f"oci:{skopeo_layout}:v1")
    with open_image(f"oci:{skopeo_layout}:v1") as layout, open_image(f"oci-archive:{archive}") as archived, \
            open_image(f"docker-archive:{saved}") as original:
        assert layout.manifest_bytes() == archived.manifest_bytes() == raw
        assert layout.config_bytes() == config
        assert _summary(layout) == _summary(archived)
        # skopeo recompressed the layers and rewrote the config; the file system is the same
        assert [layer.diff_id for layer in layout.layers()] == [layer.diff_id for layer in original.layers()]
        for layer in layout.layers():
            assert layer.media_type.endswith("+gzip")
            assert _uncompressed_digest(layer) == layer.diff_id


def _add_platform_index(layout: Path, platform: dict) -> None:
    """Make index.json point at a nested index that offers the image for ``platform`` only."""
    index = json.loads((layout / "index.json").read_text())
    entry = dict(index["manifests"][0])
    entry.pop("annotations", None)
    nested = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                         "manifests": [{**entry, "platform": platform}]}).encode()
    digest = hashlib.sha256(nested).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(nested)
    index["manifests"] = [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": f"sha256:{digest}",
                           "size": len(nested), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]
    (layout / "index.json").write_text(json.dumps(index))


def test_index_without_the_platform_is_refused_and_the_platform_option_picks(skopeo_layout):
    _add_platform_index(skopeo_layout, {"os": "linux", "architecture": "s390x"})
    with pytest.raises(LaminaError, match=r"no image for linux/\w+ \(available: linux/s390x\)"):
        open_image(f"oci:{skopeo_layout}:multi", platform="linux/amd64")
    with open_image(f"oci:{skopeo_layout}:multi", platform="linux/s390x") as image:
        assert len(image.layers()) == 1


def test_layout_blob_that_does_not_match_its_digest_fails_while_read(skopeo_layout):
    with open_image(f"oci:{skopeo_layout}") as image:
        layer = image.layers()[0]
        blob = skopeo_layout / "blobs" / "sha256" / layer.digest.split(":")[1]
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))
        with pytest.raises(LaminaError) as caught, layer.open_compressed() as stream:
            while stream.read(1 << 20):
                pass
        assert layer.digest in str(caught.value) and "\n" not in str(caught.value)


def test_layout_missing_layer_blob_is_refused_at_open(skopeo_layout):
    with open_image(f"oci:{skopeo_layout}") as image:
        digest = image.layers()[0].digest
    (skopeo_layout / "blobs" / "sha256" / digest.split(":")[1]).unlink()
    with pytest.raises(ArchiveError, match=f"layer {digest} is named in the manifest but missing"):
        open_image(f"oci:{skopeo_layout}")


@pytest.mark.registry
def test_registry_source_reads_lazily_and_stores_nothing(lamina, imported_busybox, registry, skopeo):
    from tests.conftest import store_listing

    ref = f"{registry.host}/image-seam/source:1"
    lamina.run("tag", "busybox:latest", ref)
    lamina.out("push", ref)
    lamina.run("rmi", ref)
    before = store_listing(lamina.root)
    raw, config = _skopeo_view(skopeo, f"docker://{ref}")
    with open_image(ref, root=str(lamina.root)) as image:  # not stored: the registry answers
        assert image.manifest_bytes() == raw and image.config_bytes() == config
        assert image.config_digest() == imported_busybox
        for layer in image.layers():
            assert _uncompressed_digest(layer) == layer.diff_id
    assert store_listing(lamina.root) == before


@pytest.mark.registry
def test_registry_layers_are_fetched_only_when_read(lamina, imported_busybox, registry):
    ref = f"{registry.host}/image-seam/lazy:1"
    lamina.run("tag", "busybox:latest", ref)
    lamina.out("push", ref)

    def layer_gets(digest: str) -> int:
        return sum(1 for line in registry.log().splitlines() if f"GET /v2/image-seam/lazy/blobs/{digest}" in line)

    with open_image(f"docker://{ref}") as image:
        layer = image.layers()[0]
        assert layer_gets(layer.digest) == 0
        assert _uncompressed_digest(layer) == layer.diff_id
    deadline = time.monotonic() + 10  # the registry writes its access log line after answering
    while layer_gets(layer.digest) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert layer_gets(layer.digest) == 1


@pytest.mark.registry
def test_registry_index_picks_the_platform_like_a_layout(skopeo, skopeo_layout, registry):
    _add_platform_index(skopeo_layout, {"os": "linux", "architecture": "s390x"})
    ref = f"{registry.host}/image-seam/multi:1"
    subprocess.run([skopeo, "copy", "-q", "--all", "--dest-tls-verify=false", f"oci:{skopeo_layout}:multi",
                    f"docker://{ref}"], check=True)
    with pytest.raises(LaminaError, match=r"no image for linux/amd64 \(available: linux/s390x\)"):
        open_image(f"docker://{ref}", platform="linux/amd64")
    with open_image(f"docker://{ref}", platform="linux/s390x") as remote, \
            open_image(f"oci:{skopeo_layout}:multi", platform="linux/s390x") as local:
        assert _summary(remote) == _summary(local)
