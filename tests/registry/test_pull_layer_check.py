"""A pulled layer that could never unpack is refused while it streams, as docker's pull refuses it.

The rules are ``load``'s (layer/validate.py); these tests check that pull applies them to every
layer form a registry serves (gzip, zstd, plain tar), names the layer and the member, and
leaves the store exactly as it was.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile

import pytest
import zstandard

from lamina.registry.config import RegistryConfig
from tests.conftest import Lamina, store_listing
from tests.registry.servers import digest_of, make_client, push_blob

pytestmark = pytest.mark.registry

LAYER_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "plain": "application/vnd.oci.image.layer.v1.tar",
}


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname, info.mtime = kind, len(data), linkname, 0
    return info


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return raw.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return _member(name, data=data), data


def _padding(size: int) -> tuple[tarfile.TarInfo, bytes]:
    """A member large enough that the layer spans many download and inflate batches."""
    data = os.urandom(size // 2) + bytes(size - size // 2)
    return _file("usr/share/padding.bin", data)


def _compress(tar: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(tar, compresslevel=1, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(tar)
    return tar


def _push(host: str, repository: str, tars: list[bytes], compression: str = "gzip") -> str:
    """Push an image of ``tars`` (one layer each); returns the tag."""
    blobs = [_compress(tar, compression) for tar in tars]
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [digest_of(tar) for tar in tars]},
        "history": [{"created_by": "test"}] * len(tars),
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                   "digest": digest_of(config)},
        "layers": [{"mediaType": LAYER_TYPES[compression], "size": len(blob), "digest": digest_of(blob)}
                   for blob in blobs],
    }).encode()
    tag = os.urandom(4).hex()
    with make_client(host, config=RegistryConfig()) as client:
        for blob in [*blobs, config]:
            push_blob(client, repository, blob)
        client.put_manifest(repository, tag, manifest, "application/vnd.oci.image.manifest.v1+json")
    return tag


def _bad_checksum_after(good: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    """A tar whose member after ``good`` has a header with a wrong checksum."""
    valid = _tar(*good, _file("etc/broken"))
    with tarfile.open(fileobj=io.BytesIO(valid)) as tar:
        start = tar.getmember("etc/broken").offset
    header = bytearray(valid[start:start + 512])
    header[148:156] = b"0000000\0"
    return valid[:start] + bytes(header) + valid[start + 512:]


def _member_after_lone_zero_block() -> bytes:
    first = _tar(_file("etc/first"))[:1024]  # its header and one block of data
    return first + bytes(512) + _tar(_file("etc/hidden"))


HOSTILE = {
    "parent escape": (lambda: _tar(_file("../../etc/evil")), "'../../etc/evil'"),
    "write through own symlink": (
        lambda: _tar((_member("lib", tarfile.SYMTYPE, linkname="/etc"), b""), _file("lib/passwd")),
        "'lib/passwd' would be written through the symlink 'lib'"),
    "hard link outside the root": (
        lambda: _tar(_file("etc/a"), (_member("etc/b", tarfile.LNKTYPE, linkname="../../../etc/shadow"), b"")),
        "hard link 'etc/b' points outside the layer root"),
    "hard link to nothing": (
        lambda: _tar((_member("etc/b", tarfile.LNKTYPE, linkname="etc/missing"), b"")),
        "'etc/missing', which no earlier member of the layer made"),
    "member below a file": (lambda: _tar(_file("etc/conf"), _file("etc/conf/x")),
                            "'etc/conf/x' is below 'etc/conf', which is not a directory"),
    "whiteout of nothing": (lambda: _tar(_file("etc/.wh..")), "whiteout 'etc/.wh..' names nothing to hide"),
    "corrupt header": (lambda: _bad_checksum_after([_file("etc/ok")]), "invalid header at byte"),
    "member after a lone zero block": (_member_after_lone_zero_block, "a member follows a lone zero block"),
    "truncated tar": (lambda: _tar(_file("etc/big", bytes(5000)))[:2048], "truncated"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_layer_that_could_never_unpack_is_refused_at_pull(anon_registry, tmp_path, busybox_tar, case):
    build, expected = HOSTILE[case]
    tar = build()
    tag = _push(anon_registry.host, "check/hostile", [tar])
    store = Lamina(tmp_path / "store")
    store.out("import", str(busybox_tar), "existing:1")
    before = store_listing(store.root)
    ref = f"{anon_registry.host}/check/hostile:{tag}"
    stderr = store.fails("pull", ref)
    [line] = [line for line in stderr.splitlines() if line.startswith("lamina: error:")]
    assert line.startswith(f"lamina: error: {ref}: layer {digest_of(_compress(tar, 'gzip'))}")
    assert expected in line, line
    assert store_listing(store.root) == before
    assert "0 problems, clean" in store.out("fsck")


@pytest.mark.parametrize("compression", ["zstd", "plain"])
def test_every_layer_form_is_checked(anon_registry, tmp_path, compression):
    tar = _tar(_padding(3 << 20), _file("../escape"))
    tag = _push(anon_registry.host, "check/forms", [tar], compression)
    store = Lamina(tmp_path / "store")
    ref = f"{anon_registry.host}/check/forms:{tag}"
    stderr = store.fails("pull", ref)
    assert f"{ref}: layer {digest_of(_compress(tar, compression))}: unsafe path '../escape'" in stderr
    assert store_listing(store.root)["files"] == {}
    assert "0 problems, clean" in store.out("fsck")


def test_the_good_layers_of_a_refused_image_are_not_kept(anon_registry, tmp_path):
    good = _tar(_padding(4 << 20), _file("etc/hostname", b"box\n"))
    bad = _tar(_padding(2 << 20), _file("etc/conf"), _file("etc/conf/x"))
    tag = _push(anon_registry.host, "check/mixed", [good, bad, _tar(_file("app/main.py"))])
    store = Lamina(tmp_path / "store")
    stderr = store.fails("pull", f"{anon_registry.host}/check/mixed:{tag}")
    assert "'etc/conf/x' is below 'etc/conf'" in stderr
    assert store_listing(store.root)["files"] == {}
    assert "0 problems, clean" in store.out("fsck")


def test_a_layer_docker_unpacks_is_pulled_with_docker_s_size(anon_registry, tmp_path):
    content = b"#!/bin/sh\necho hi\n"
    tar = _tar(
        (_member("usr", tarfile.DIRTYPE), b""), (_member("usr/bin", tarfile.DIRTYPE), b""),
        _file("usr/bin/tool", content),
        (_member("usr/bin/same", tarfile.LNKTYPE, linkname="usr/bin/tool"), b""),
        (_member("usr/bin/abs", tarfile.SYMTYPE, linkname="/usr/bin/tool"), b""),  # absolute targets are fine
        _file("etc/.wh.gone", b""), _file("var/.wh..wh..opq", b""),
        _padding(3 << 20),
    )
    tag = _push(anon_registry.host, "check/fine", [tar])
    store = Lamina(tmp_path / "store")
    ref = f"{anon_registry.host}/check/fine:{tag}"
    assert "Pull complete" in store.out("pull", ref)
    [document] = json.loads(store.out("inspect", ref))
    assert document["RootFS"]["Layers"] == [digest_of(tar)]
    assert document["Size"] == len(content) + len("/usr/bin/tool") + (3 << 20)
