"""Bad input gets one ``lamina: error:`` line, a non-zero exit, and leaves the store as it was."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest

from tests.conftest import Lamina, store_listing, tar_bytes


@pytest.fixture
def saved(lamina: Lamina, imported_busybox, tmp_path) -> bytes:
    archive = tmp_path / "good.tar"
    lamina.run("save", "-o", str(archive), "busybox")
    return archive.read_bytes()


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}


def _rebuild(members: dict[str, bytes | None]) -> bytes:
    entries = []
    for name, data in members.items():
        info = tarfile.TarInfo(name)
        if data is None:
            info.type = tarfile.DIRTYPE
        entries.append((info, data))
    return tar_bytes(entries)


def _assert_rejected(store: Lamina, archive: bytes, tmp_path, expect: str, command=("load", "-i")) -> str:
    path = tmp_path / "bad.tar"
    path.write_bytes(archive)
    before = store_listing(store.root)
    stderr = store.fails(*command, str(path))
    assert expect in stderr, stderr
    assert store_listing(store.root) == before
    return stderr


@pytest.fixture
def target(tmp_path, busybox_tar) -> Lamina:
    """A second store with an image in it, so 'unchanged' is a real claim."""
    store = Lamina(tmp_path / "target")
    store.out("import", str(busybox_tar), "existing:1")
    return store


def test_truncated_archive(saved, target, tmp_path):
    _assert_rejected(target, saved[: len(saved) // 2], tmp_path, "truncated")


def test_zero_byte_archive(target, tmp_path):
    _assert_rejected(target, b"", tmp_path, "empty")


def test_garbage_archive(target, tmp_path):
    _assert_rejected(target, b"this is not a tar archive at all" * 40, tmp_path, "not a tar archive")


def test_corrupt_gzip_archive(saved, target, tmp_path):
    packed = gzip.compress(saved)
    _assert_rejected(target, packed[: len(packed) - 200], tmp_path, "error")


def test_blob_whose_digest_does_not_match(saved, target, tmp_path):
    members = _members(saved)
    name = next(n for n, d in members.items() if n.startswith("blobs/sha256/") and d and len(d) > 100_000)
    members[name] = members[name][:-1024] + b"\0" * 1024 + b"x"
    _assert_rejected(target, _rebuild(members), tmp_path, "hashes to")


def test_manifest_naming_a_missing_layer(saved, target, tmp_path):
    members = _members(saved)
    layer = next(n for n, d in members.items() if d and len(d) > 100_000)
    del members[layer]
    _assert_rejected(target, _rebuild(members), tmp_path, "missing")


def test_layer_not_matching_the_config_diff_id(saved, target, tmp_path, busybox_tar):
    members = _members(saved)
    manifest = json.loads(members["manifest.json"])
    other = tarfile.TarInfo("evil/layer.tar")
    manifest[0]["Layers"] = ["evil/layer.tar"]
    members["manifest.json"] = json.dumps(manifest).encode()
    members["evil/layer.tar"] = tar_bytes([(tarfile.TarInfo("x"), b"x")])
    del other
    _assert_rejected(target, _rebuild(members), tmp_path, "expects")


def test_unknown_media_type_in_oci_layout(saved, target, tmp_path):
    members = _members(saved)
    del members["manifest.json"]
    index = json.loads(members["index.json"])
    manifest_name = "blobs/" + index["manifests"][0]["digest"].replace(":", "/")
    manifest = json.loads(members[manifest_name])
    manifest["layers"][0]["mediaType"] = "application/x-unknown"
    data = json.dumps(manifest).encode()
    import hashlib

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    del members[manifest_name]
    members["blobs/" + digest.replace(":", "/")] = data
    index["manifests"][0]["digest"] = digest
    index["manifests"][0]["size"] = len(data)
    members["index.json"] = json.dumps(index).encode()
    _assert_rejected(target, _rebuild(members), tmp_path, "unknown layer media type")


def test_archive_without_manifests(target, tmp_path):
    _assert_rejected(target, tar_bytes([(tarfile.TarInfo("hello.txt"), b"hi")]), tmp_path, "not an image archive")


def _evil_layer_archive(saved: bytes, layer: bytes) -> bytes:
    """A docker archive whose (only) layer is ``layer``, with a matching config."""
    import hashlib

    members = _members(saved)
    manifest = json.loads(members["manifest.json"])
    config = json.loads(members[manifest[0]["Config"]])
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config["rootfs"]["diff_ids"] = [diff_id]
    config_bytes = json.dumps(config).encode()
    config_name = "evilconfig.json"
    return _rebuild({
        "manifest.json": json.dumps([{"Config": config_name, "RepoTags": ["evil:1"],
                                      "Layers": ["evil/layer.tar"]}]).encode(),
        config_name: config_bytes,
        "evil/layer.tar": layer,
    })


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def _hardlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE
    info.linkname = target
    return info


@pytest.mark.parametrize(
    ("entries", "expect"),
    [
        ([(tarfile.TarInfo("../../etc/evil"), b"x")], "escapes"),
        ([(tarfile.TarInfo("a/../../evil"), b"x")], "escapes"),
        ([(_symlink("etc", "/etc"), None), (tarfile.TarInfo("etc/evil"), b"x")], "through the symlink"),
        ([(_symlink("up", "../../.."), None), (tarfile.TarInfo("up/evil"), b"x")], "through the symlink"),
        ([(_hardlink("passwd", "../../etc/passwd"), None)], "outside"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute-symlink", "relative-symlink", "hardlink"],
)
def test_hostile_layers_are_refused_by_load_and_import(saved, target, tmp_path, entries, expect):
    layer = tar_bytes(entries)
    _assert_rejected(target, _evil_layer_archive(saved, layer), tmp_path, expect)
    _assert_rejected(target, layer, tmp_path, expect, command=("import",))


def test_import_of_a_zero_byte_file_is_one_empty_layer(target, tmp_path):
    """As docker imports it (compared with docker in test_tar_variants.py)."""
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"")
    image = target.out("import", str(empty)).strip()
    layers = target.out("inspect", "--format", "{{json .RootFS.Layers}}", image)
    assert "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" in layers


def test_import_of_a_missing_file(target, tmp_path):
    before = store_listing(target.root)
    assert "no such file" in target.fails("import", str(tmp_path / "nope.tar"))
    assert store_listing(target.root) == before


@pytest.mark.parametrize("name", ["UPPER:1", "bad name", "a" * 64, "x:bad/tag"])
def test_bad_references_are_refused(target, busybox_tar, name):
    before = store_listing(target.root)
    stderr = target.fails("tag", "existing:1", name)
    assert "invalid" in stderr
    target.fails("import", str(busybox_tar), name)
    assert store_listing(target.root) == before


def test_errors_show_a_traceback_only_with_debug(target):
    result = target.run("--debug", "inspect", "nosuch:1", check=False)
    assert result.returncode != 0
    plain = target.run("inspect", "nosuch:1", check=False)
    assert b"Traceback" not in plain.stderr
