"""Hostile ``load`` and ``import`` inputs found by attacking the CLI: each is refused with one
``lamina: error:`` line naming where, and the store is left exactly as it was (fsck clean)."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import tarfile

import pytest
import zstandard

from tests.conftest import Lamina, store_listing, tar_bytes


@pytest.fixture(scope="module")
def busybox_layer(busybox_tar) -> bytes:
    return busybox_tar.read_bytes()


@pytest.fixture
def target(tmp_path, busybox_tar) -> Lamina:
    """A store with an image in it, so 'unchanged' is a real claim."""
    store = Lamina(tmp_path / "target")
    store.out("import", str(busybox_tar), "existing:1")
    return store


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def member(name: str, data: bytes | None = None, kind: bytes = tarfile.REGTYPE, link: str = ""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    if data is None and kind == tarfile.REGTYPE:
        info.type = tarfile.DIRTYPE
    return info, data


def config_for(*layers: bytes) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                       "rootfs": {"type": "layers", "diff_ids": [sha(layer) for layer in layers]}}).encode()


def docker_archive(*layers: bytes, tags=("evil:1",), config: bytes | None = None, entry: dict | None = None) -> bytes:
    names = [f"l{i}/layer.tar" for i in range(len(layers))]
    manifest = {"Config": "config.json", "RepoTags": list(tags), "Layers": names, **(entry or {})}
    members = [member("manifest.json", json.dumps([manifest]).encode()),
               member("config.json", config if config is not None else config_for(*layers))]
    return tar_bytes(members + [member(name, layer) for name, layer in zip(names, layers, strict=True)])


def oci_image(layer: bytes, *, layer_size: int | None = None) -> tuple[dict, list]:
    """An index entry for a one-layer image, and the blobs it needs."""
    config = config_for(layer)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(layer),
                    "size": len(layer) if layer_size is None else layer_size}],
    }).encode()
    descriptor = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
                  "size": len(manifest)}
    return descriptor, [config, manifest, layer]


def oci_archive(entries: list[tuple[dict, list]], *, missing: set[str] = frozenset()) -> bytes:
    index = {"schemaVersion": 2, "manifests": [descriptor for descriptor, _ in entries]}
    members = [member("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), member("index.json", json.dumps(index).encode())]
    seen = set()
    for _, blobs in entries:
        for blob in blobs:
            if sha(blob) not in seen and sha(blob) not in missing:
                seen.add(sha(blob))
                members.append(member("blobs/sha256/" + sha(blob)[7:], blob))
    return tar_bytes(members)


def refused(store: Lamina, data: bytes, tmp_path, expect: str, command=("load", "-i"), suffix=".tar") -> str:
    path = tmp_path / f"evil{suffix}"
    path.write_bytes(data)
    before = store_listing(store.root)
    stderr = store.fails(*command, str(path))
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert str(path) in lines[0], lines[0]
    assert expect in lines[0], lines[0]
    assert store_listing(store.root) == before
    assert "0 problems" in store.out("fsck")
    return lines[0]


@pytest.mark.parametrize(("entry", "expect"), [
    ({"Layers": [5]}, "Layers must be a list of strings"),
    ({"Layers": "l0/layer.tar"}, "Layers must be a list of strings"),
    ({"RepoTags": [5]}, "RepoTags must be a list of strings"),
    ({"RepoTags": "evil:1"}, "RepoTags must be a list of strings"),
    ({"RepoTags": ["evil@sha256:" + "a" * 64]}, "not a tag"),
    ({"RepoTags": ["UPPER:1"]}, "manifest.json entry 0: RepoTags 'UPPER:1'"),
], ids=["layers-int", "layers-str", "tags-int", "tags-str", "tags-digest", "tags-invalid"])
def test_malformed_manifest_entries(target, tmp_path, busybox_layer, entry, expect):
    # was: AttributeError/TypeError tracebacks, a string iterated as characters, or an error
    # that named no archive
    refused(target, docker_archive(busybox_layer, entry=entry), tmp_path, expect)


@pytest.mark.parametrize("config", [
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"rootfs":{"type":"layers","diff_ids":[]},"x":"\xff"}',
], ids=["deeply-nested", "invalid-utf8"])
def test_configs_that_are_not_json_through_and_through(target, tmp_path, config):
    # was: RecursionError / UnicodeDecodeError tracebacks
    refused(target, docker_archive(config=config), tmp_path, "config.json: not valid JSON")


def test_an_oci_index_nested_too_deeply(target, tmp_path):
    data = tar_bytes([member("index.json", b'{"a":' * 5000 + b"1" + b"}" * 5000)])
    refused(target, data, tmp_path, "index.json: not valid JSON")


def test_archives_without_images(target, tmp_path):
    refused(target, tar_bytes([member("manifest.json", b"[]")]), tmp_path, "manifest.json lists no images")
    refused(target, oci_archive([]), tmp_path, "index.json lists no images")


def test_a_duplicate_member_leaves_no_orphan_blob(target, tmp_path, busybox_layer):
    first, second = tar_bytes([member("a", b"one")]), tar_bytes([member("a", b"two")])
    manifest = json.dumps([{"Config": "c.json", "RepoTags": ["evil:1"], "Layers": ["x/layer.tar"]}]).encode()
    members = [member("manifest.json", manifest), member("x/layer.tar", first), member("x/layer.tar", second)]
    # the later member wins, as extracting the archive would have it; the earlier blob goes
    refused(target, tar_bytes([*members, member("c.json", config_for(first))]), tmp_path, "hashes to")
    path = tmp_path / "dup.tar"
    path.write_bytes(tar_bytes([*members, member("c.json", config_for(second))]))
    target.out("load", "-i", str(path))
    assert "0 problems" in target.out("fsck")  # was: orphan-blob


def test_a_bad_second_oci_image_commits_nothing(target, tmp_path, busybox_layer):
    good = oci_image(busybox_layer)
    good[0]["annotations"] = {"io.containerd.image.name": "existing:1"}
    bad_layer = tar_bytes([member("x", b"x")])
    bad = oci_image(bad_layer)
    # was: the first image committed (and existing:1 re-pointed at it) before the second failed
    refused(target, oci_archive([good, bad], missing={sha(bad_layer)}), tmp_path, "missing")


def test_an_oci_descriptor_with_the_wrong_size(target, tmp_path, busybox_layer):
    data = oci_archive([oci_image(busybox_layer, layer_size=5)])
    refused(target, data, tmp_path, "its descriptor says 5")


def test_a_member_climbing_out_of_the_archive(target, tmp_path, busybox_layer):
    data = docker_archive(busybox_layer)
    data = tar_bytes([member("../../manifest.json", b"[]"), *[
        (info, content) for info, content in _members(data)]])
    refused(target, data, tmp_path, "points outside the archive")


def _members(data: bytes):
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return [(info, archive.extractfile(info).read() if info.isfile() else None) for info in archive.getmembers()]


def test_docker_24_archives_with_symlinked_layers_load(target, tmp_path, busybox_layer):
    """docker ≤24 saves a layer two images share once; the second layer.tar is a symlink."""
    top = tar_bytes([member("hello", b"hi")])
    one, two = config_for(busybox_layer), config_for(busybox_layer, top)
    manifest = [{"Config": "one.json", "RepoTags": ["one:1"], "Layers": ["a/layer.tar"]},
                {"Config": "two.json", "RepoTags": ["two:1"], "Layers": ["b/layer.tar", "c/layer.tar"]}]
    members = [member("manifest.json", json.dumps(manifest).encode()), member("one.json", one),
               member("two.json", two), member("a/layer.tar", busybox_layer), member("c/layer.tar", top)]
    path = tmp_path / "docker24.tar"
    path.write_bytes(tar_bytes([*members, member("b/layer.tar", kind=tarfile.SYMTYPE, link="../a/layer.tar")]))
    target.out("load", "-i", str(path))  # was: "layer b/layer.tar is named ... but missing"
    assert "0 problems" in target.out("fsck")
    assert "hi" in target.out("run", "--rm", "two:1", "cat", "/hello")
    # a link is followed among the archive's members only, never to the host
    escape = tar_bytes([*members, member("b/layer.tar", kind=tarfile.SYMTYPE, link="/etc/passwd")])
    refused(target, escape, tmp_path, "b/layer.tar (a link to etc/passwd)")


HOSTILE_LAYERS = {
    "hardlink-to-dir": ([member("d"), member("h", kind=tarfile.LNKTYPE, link="d")], "directory"),
    "hardlink-to-lower": ([member("h", kind=tarfile.LNKTYPE, link="/bin/busybox")], "no earlier member"),
    "whiteout-dotdot": ([member("a/.wh...", b"")], "nothing to hide"),
    "below-a-file": ([member("f", b"x"), member("f/x", b"y")], "not a directory"),
    "empty-name": ([member("./", b"x")], "root"),
}


@pytest.mark.parametrize(("entries", "expect"), HOSTILE_LAYERS.values(), ids=HOSTILE_LAYERS.keys())
def test_layers_no_snapshot_could_hold_are_refused_at_the_door(target, tmp_path, busybox_layer, entries, expect):
    # was: loaded fine, then every `lamina run` of the image failed unpacking it
    layer = tar_bytes(entries)
    refused(target, docker_archive(busybox_layer, layer), tmp_path, expect)
    refused(target, layer, tmp_path, expect, command=("import",))


def test_a_member_hidden_after_a_lone_zero_block(target, tmp_path, busybox_layer):
    layer = tar_bytes([member("a", b"x")])
    hidden = tar_bytes([member("etc/passwd", b"root::0:0::/:/bin/sh\n")])
    layer = layer[: layer.index(bytes(1024), 1024)] + bytes(512) + hidden
    refused(target, layer, tmp_path, "lone zero block", command=("import",))


def _corrupt(data: bytes) -> bytes:
    data = bytearray(data)
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0x55
    return bytes(data)


@pytest.mark.parametrize(("suffix", "pack", "expect"), [
    (".tar.gz", lambda data: gzip.compress(data) + b"GARBAGE", "trailing garbage"),
    (".tar.bz2", lambda data: bz2.compress(data)[:-100], "truncated"),
    (".tar.xz", lambda data: lzma.compress(data)[:-100], "truncated"),
    (".tar.xz", lambda data: _corrupt(lzma.compress(data)), "corrupt xz data"),
    (".tar.bz2", lambda data: _corrupt(bz2.compress(data)), "corrupt bzip2 data"),
    (".tar.zst", lambda data: _corrupt(zstandard.ZstdCompressor(write_checksum=True).compress(data)), "corrupt zstd"),
], ids=["gzip-garbage", "bzip2-truncated", "xz-truncated", "xz-corrupt", "bzip2-corrupt", "zstd-corrupt"])
def test_corrupt_compressed_imports(target, tmp_path, busybox_layer, suffix, pack, expect):
    # was: tracebacks (IsalError, LZMAError, ZstdError) and "Aborted." (EOFError, exit 130)
    refused(target, pack(busybox_layer), tmp_path, expect, command=("import",), suffix=suffix)


def test_a_second_copy_of_a_hostile_layer_does_not_skip_the_check(target, tmp_path):
    """The same bytes under a second path ingest as "already there"; the check went by that."""
    evil = tar_bytes([member("d"), member("h", kind=tarfile.LNKTYPE, link="d")])
    manifest = json.dumps([{"Config": "c.json", "RepoTags": ["evil:1"], "Layers": ["x/layer.tar"]}]).encode()
    data = tar_bytes([member("blobs/sha256/" + sha(evil)[7:], evil), member("x/layer.tar", evil),
                      member("manifest.json", manifest), member("c.json", config_for(evil))])
    refused(target, data, tmp_path, "x/layer.tar: hard link 'h' points to the directory 'd'")
