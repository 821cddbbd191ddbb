"""Every source reads one image to the same manifest, config and diffIDs; bad specs fail in one line."""

from __future__ import annotations

import hashlib
import json
import subprocess
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
