"""The tar variants real producers emit, imported by lamina and by docker: both accept or both
refuse, and what they accept gives the same layer (diffID) and the same files (owners, modes,
contents; sparse files read back whole)."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Docker, Lamina

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def _tree_with_owners(exported: bytes) -> dict[str, tuple]:
    import hashlib

    tree = {}
    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        for member in archive:
            name = member.name.removeprefix("./").rstrip("/")
            if not name.startswith("v/"):
                continue
            body = archive.extractfile(member).read() if member.isfile() else member.linkname.encode()
            tree[name] = (member.type, member.mode & 0o7777, member.uid, member.gid, len(body),
                          hashlib.sha256(body).hexdigest())
    return tree


def _source_tree(root: Path) -> None:
    """A small tree under v/: a sparse file (holes at start, middle and end), a long name."""
    (root / "v").mkdir()
    with open(root / "v" / "sparse", "wb") as sparse:
        sparse.seek(300_000)
        sparse.write(b"data in the middle" * 100)
        sparse.seek(2_000_000)
        sparse.write(b"more")
        sparse.truncate(3_000_000)
    deep = root / "v" / ("long-directory-name-" * 4) / ("and-a-long-file-name-" * 3)
    deep.parent.mkdir(parents=True)
    deep.write_text("long\n")
    (root / "v" / "plain").write_text("plain\n")


def _gnu_tar(*flags: str) -> Callable[[Path], bytes]:
    def make(root: Path) -> bytes:
        return subprocess.run(["tar", "--numeric-owner", "--owner=3000000", "--group=2100000", *flags,
                               "-C", str(root), "-cf", "-", "v"], check=True, capture_output=True).stdout
    return make


def _pax_global(root: Path) -> bytes:
    """A PAX global header (git archive writes one) that would change every later member."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT,
                      pax_headers={"uid": "4242", "gid": "4343", "comment": "global"}) as archive:
        archive.add(root / "v" / "plain", "v/plain")
    return buffer.getvalue()


def _base256_size(root: Path) -> bytes:
    """A member whose size field is in GNU base-256 form (GNU tar uses it past 8 GiB; Go reads it
    for any value), with the header's checksum made again."""
    data = bytearray(_gnu_tar("--format=gnu")(root))
    offset = 0
    while offset < len(data) and data[offset]:
        size_field = bytes(data[offset + 124:offset + 136])
        size = int(size_field.strip(b"\0 ") or b"0", 8)
        if data[offset + 156:offset + 157] == b"0" and size:
            data[offset + 124:offset + 136] = b"\x80" + size.to_bytes(11, "big")
            data[offset + 148:offset + 156] = b" " * 8
            data[offset + 148:offset + 156] = b"%06o\0 " % sum(data[offset:offset + 512])
            return bytes(data)
        offset += 512 + size + (-size % 512)
    raise AssertionError("no regular member to rewrite")


def _trailing_garbage(root: Path) -> bytes:
    return _gnu_tar("--format=gnu")(root) + os.urandom(1000)


def _gzip_members(root: Path) -> bytes:
    data = _gnu_tar("--format=gnu")(root)
    middle = len(data) // 2
    return gzip.compress(data[:middle]) + gzip.compress(data[middle:])


VARIANTS = {
    "gnu-sparse-old": _gnu_tar("--format=gnu", "--sparse"),
    "pax-sparse-0.0": _gnu_tar("--format=posix", "--sparse", "--sparse-version=0.0"),
    "pax-sparse-0.1": _gnu_tar("--format=posix", "--sparse", "--sparse-version=0.1"),
    "pax-sparse-1.0": _gnu_tar("--format=posix", "--sparse", "--sparse-version=1.0"),
    "gnu-long-names-base256-ids": _gnu_tar("--format=gnu"),
    "gnu-base256-size": _base256_size,
    "pax-global-header": _pax_global,
    "trailing-garbage": _trailing_garbage,
    "gzip-members": _gzip_members,
    "empty-file": lambda root: b"",
}


@pytest.fixture(scope="module")
def source_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("variants")
    _source_tree(root)
    return root


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_imports_as_docker_imports_it(variant: str, source_root: Path, lamina: Lamina, docker: Docker,
                                              tmp_path: Path):
    rootfs = tmp_path / f"{variant}.tar"
    rootfs.write_bytes(VARIANTS[variant](source_root))
    tag = f"variants/{variant}:v1"
    theirs = docker.run("import", str(rootfs), tag, check=False)
    ours = lamina.run("import", str(rootfs), tag, check=False)
    try:
        assert (ours.returncode == 0) == (theirs.returncode == 0), (ours.stderr, theirs.stderr)
        if theirs.returncode != 0:
            return
        assert lamina.out("inspect", "--format", "{{json .RootFS.Layers}}", tag) == \
            docker.out("inspect", "--format", "{{json .RootFS.Layers}}", tag)
        container = lamina.out("create", tag, "/none").strip().splitlines()[-1]
        exported = lamina.run("export", container).stdout
        lamina.run("rm", container)
        assert _tree_with_owners(exported) == _tree_with_owners(docker.export_image(tag))
    finally:
        docker.run("rmi", "-f", tag, check=False)


def test_the_source_tree_is_really_sparse(source_root: Path):
    stat = (source_root / "v" / "sparse").stat()
    assert stat.st_blocks * 512 < stat.st_size // 4
