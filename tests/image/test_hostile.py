"""Hostile and broken inputs to the sources: one-line errors naming the spec, never a traceback."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from lamina.errors import LaminaError, UsageError
from lamina.image import open_image
from tests.conftest import tar_bytes


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _symlink(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, None


def _layer() -> bytes:
    return tar_bytes([_file("hello.txt", b"hello\n")])


def _config(diff_ids: list[str]) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                       "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _legacy_archive(tmp_path: Path, members: list, manifest: object) -> str:
    path = tmp_path / "hostile.tar"
    path.write_bytes(tar_bytes([*members, _file("manifest.json", json.dumps(manifest).encode())]))
    return f"docker-archive:{path}"


def _fails(spec: str, match: str) -> str:
    with pytest.raises(LaminaError, match=match) as caught:
        with open_image(spec) as image:
            for layer in image.layers():
                with layer.open_uncompressed() as stream:
                    while stream.read(1 << 20):
                        pass
    message = str(caught.value)
    assert "\n" not in message and ("hostile" in message or "layout" in message), message
    return message


def test_member_that_climbs_out_of_the_archive(tmp_path):
    layer = _layer()
    config = _config([_sha(layer)])
    spec = _legacy_archive(tmp_path, [_file("../c.json", config), _file("l/layer.tar", layer)],
                           [{"Config": "c.json", "Layers": ["l/layer.tar"]}])
    _fails(spec, "points outside the archive")


def test_layer_link_is_resolved_inside_the_archive_only(tmp_path):
    """docker ≤24 links shared layers; a link to /etc/passwd means the archive's member, not the host's."""
    layer = _layer()
    config = _config([_sha(layer)])
    spec = _legacy_archive(tmp_path, [_file("c.json", config), _symlink("l/layer.tar", "/etc/passwd")],
                           [{"Config": "c.json", "Layers": ["l/layer.tar"]}])
    _fails(spec, "layer l/layer.tar is named in manifest.json but missing")


def test_linked_layer_of_docker_24_is_followed(tmp_path):
    layer = _layer()
    config = _config([_sha(layer), _sha(layer)])
    spec = _legacy_archive(
        tmp_path, [_file("c.json", config), _file("a/layer.tar", layer), _symlink("b/layer.tar", "../a/layer.tar")],
        [{"Config": "c.json", "Layers": ["a/layer.tar", "b/layer.tar"]}])
    with open_image(spec) as image:
        assert [layer.digest for layer in image.layers()] == [_sha(layer)] * 2


def test_layer_that_does_not_hash_to_its_diff_id(tmp_path):
    layer = _layer()
    config = _config([_sha(b"something else")])
    spec = _legacy_archive(tmp_path, [_file("c.json", config), _file("l/layer.tar", layer)],
                           [{"Config": "c.json", "Layers": ["l/layer.tar"]}])
    _fails(spec, "hashes to")


def test_config_and_manifest_disagree_on_layer_count(tmp_path):
    layer = _layer()
    spec = _legacy_archive(tmp_path, [_file("c.json", _config([])), _file("l/layer.tar", layer)],
                           [{"Config": "c.json", "Layers": ["l/layer.tar"]}])
    _fails(spec, "names 0 layers but manifest.json lists 1")


@pytest.mark.parametrize("manifest", [b"{not json", b"[]", b'[{"Layers": []}]', b'"x"'])
def test_broken_manifest_json(tmp_path, manifest):
    path = tmp_path / "hostile.tar"
    path.write_bytes(tar_bytes([_file("manifest.json", manifest)]))
    _fails(f"docker-archive:{path}", "manifest.json")


def test_compressed_archive_is_refused_with_a_hint(tmp_path):
    import gzip

    path = tmp_path / "hostile.tar.gz"
    path.write_bytes(gzip.compress(tar_bytes([_file("manifest.json", b"[]")])))
    _fails(f"docker-archive:{path}", "gzip-compressed: decompress it first")


def test_not_a_tar_at_all(tmp_path):
    path = tmp_path / "hostile.tar"
    path.write_bytes(b"this is no archive\n" * 100)
    _fails(f"docker-archive:{path}", "not a tar archive")


def _layout(tmp_path: Path, manifest: dict, blobs: list[bytes]) -> Path:
    root = tmp_path / "layout"
    (root / "blobs" / "sha256").mkdir(parents=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    data = json.dumps(manifest).encode()
    for blob in [*blobs, data]:
        (root / "blobs" / "sha256" / _sha(blob)[7:]).write_bytes(blob)
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _sha(data), "size": len(data)}]}))
    return root


def _manifest(config: bytes, layers: list[tuple[bytes, str]]) -> dict:
    return {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _sha(config),
                       "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": len(blob)}
                       for blob, digest in layers]}


def test_layout_manifest_whose_layer_digest_does_not_match(tmp_path):
    layer = _layer()
    config = _config([_sha(layer)])
    wrong = "sha256:" + "0" * 64
    root = _layout(tmp_path, _manifest(config, [(layer, wrong)]), [config])
    (root / "blobs" / "sha256" / ("0" * 64)).write_bytes(layer)  # stored under a digest it does not have
    _fails(f"oci:{root}", "does not match its diffID")


def test_layout_blob_stored_under_a_wrong_name(tmp_path):
    layer = _layer()
    config = _config([_sha(layer)])
    root = _layout(tmp_path, _manifest(config, [(layer, _sha(layer))]), [config])
    (root / "blobs" / "sha256" / _sha(layer)[7:]).write_bytes(layer[:-1] + b"x")
    _fails(f"oci:{root}", "hashes to")


def test_layout_config_that_does_not_match_the_manifest(tmp_path):
    layer = _layer()
    config = _config([_sha(layer)])
    root = _layout(tmp_path, _manifest(config, [(layer, _sha(layer))]), [layer])
    (root / "blobs" / "sha256" / _sha(config)[7:]).write_bytes(config.replace(b"amd64", b"arm64"))
    _fails(f"oci:{root}", "hashes to")


def test_layout_blob_link_out_of_the_directory_is_not_followed(tmp_path):
    layer = _layer()
    config = _config([_sha(layer)])
    root = _layout(tmp_path, _manifest(config, [(layer, _sha(layer))]), [config])
    outside = tmp_path / "outside"
    outside.write_bytes(layer)
    (root / "blobs" / "sha256" / _sha(layer)[7:]).symlink_to(outside)
    _fails(f"oci:{root}", "missing")


def test_layout_index_with_two_images_needs_a_ref(tmp_path):
    layer = _layer()
    config = _config([_sha(layer)])
    root = _layout(tmp_path, _manifest(config, [(layer, _sha(layer))]), [config, layer])
    index = json.loads((root / "index.json").read_text())
    first = index["manifests"][0]
    index["manifests"] = [{**first, "annotations": {"org.opencontainers.image.ref.name": name}} for name in "ab"]
    (root / "index.json").write_text(json.dumps(index))
    _fails(f"oci:{root}", r"lists 2 images \(a, b\); name one")
    with open_image(f"oci:{root}:b") as image:
        assert image.config_bytes() == config


def test_empty_specs_are_usage_errors():
    for spec in ("oci:", "docker-archive:", "docker://", "store:", ""):
        with pytest.raises(UsageError):
            open_image(spec)


def test_huge_config_is_refused_before_it_is_read(tmp_path):
    layer = _layer()
    config = _config([_sha(layer)])
    manifest = _manifest(config, [(layer, _sha(layer))])
    manifest["config"]["size"] = 1 << 40
    root = _layout(tmp_path, manifest, [config, layer])
    _fails(f"oci:{root}", "too large")



def test_archive_image_by_number(tmp_path):
    layer = _layer()
    config = _config([_sha(layer)])
    entry = {"Config": "c.json", "Layers": ["l/layer.tar"]}
    spec = _legacy_archive(tmp_path, [_file("c.json", config), _file("l/layer.tar", layer)], [entry, entry])
    _fails(spec, "holds 2 images; name one")
    with open_image(spec + ":@1") as image:
        assert image.config_bytes() == config
    for number in ("@2", "@-1", "@x"):
        _fails(f"{spec}:{number}", "no image number")
