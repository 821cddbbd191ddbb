"""write_dir_tar writes layers the way docker does, byte-stable."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import tarfile
from pathlib import Path

import pytest

from lamina.errors import LayerError
from lamina.layer.tarwrite import write_dir_tar

from .helpers import MTIME, needs_root


def _layer(root: Path, **options) -> bytes:
    out = io.BytesIO()
    write_dir_tar(root, out, **options)
    return out.getvalue()


def _members(data: bytes) -> list[tarfile.TarInfo]:
    return tarfile.open(fileobj=io.BytesIO(data)).getmembers()


@pytest.fixture
def small_tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "a.d").mkdir(parents=True)
    (root / "a").mkdir()
    for name in ("b", "a/z", "a/y", "a.d/x"):
        (root / name).write_text(name)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (MTIME, MTIME + 0.75))
    return root


def test_entries_are_in_walk_order_with_directories_first(small_tree: Path):
    names = [m.name for m in _members(_layer(small_tree))]
    assert names == ["a", "a/y", "a/z", "a.d", "a.d/x", "b"]


def test_directory_names_end_with_a_slash_and_have_no_dot_prefix(small_tree: Path):
    data = _layer(small_tree)
    assert data[:2] == b"a/"  # raw header: the name field of the first entry
    raw_names = [data[offset:offset + 100].rstrip(b"\0") for offset in range(0, len(data) - 1024, 512)
                 if data[offset + 257:offset + 263] == b"ustar\0"]
    assert raw_names == [b"a/", b"a/y", b"a/z", b"a.d/", b"a.d/x", b"b"]


def test_owners_are_numeric_and_mtimes_whole_seconds(small_tree: Path):
    for member in _members(_layer(small_tree)):
        assert (member.uname, member.gname) == ("", "")
        assert member.mtime == MTIME and isinstance(member.mtime, int)
        assert member.pax_headers == {}  # nothing needed a PAX record, in particular no float mtime


def test_archive_ends_with_two_zero_blocks_and_no_padding(small_tree: Path):
    data = _layer(small_tree)
    assert data.endswith(bytes(1024))
    assert len(data) % 512 == 0
    # 6 headers + 4 one-block bodies + the end marker; no 10 KiB record padding.
    assert len(data) == (6 + 4) * 512 + 1024


def test_same_tree_gives_identical_bytes(small_tree: Path):
    first = _layer(small_tree)
    for path in small_tree.rglob("*"):
        if path.is_file():
            path.read_bytes()  # atime changes must not matter
    assert _layer(small_tree) == first


def test_mtime_clamp_caps_later_mtimes(small_tree: Path):
    members = _members(_layer(small_tree, mtime_clamp=1000))
    assert {m.mtime for m in members} == {1000}
    members = _members(_layer(small_tree, mtime_clamp=MTIME + 10))
    assert {m.mtime for m in members} == {MTIME}


def test_skip_leaves_out_an_entry_and_its_subtree(small_tree: Path):
    seen: list[str] = []

    def skip(rel: str) -> bool:
        seen.append(rel)
        return rel == "a" or rel == "b"

    names = [m.name for m in _members(_layer(small_tree, skip=skip))]
    assert names == ["a.d", "a.d/x"]
    assert "a/y" not in seen  # a skipped directory is not descended into


def test_sockets_are_not_archived(tmp_path: Path):
    root = tmp_path / "tree"
    root.mkdir()
    (root / "file").write_text("x")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(root / "sock"))
        assert [m.name for m in _members(_layer(root))] == ["file"]


def test_hard_links_point_at_the_first_name(tmp_path: Path):
    root = tmp_path / "tree"
    (root / "d").mkdir(parents=True)
    (root / "z-first").write_text("data")
    os.link(root / "z-first", root / "d/second")
    os.link(root / "z-first", root / "a-third")
    members = {m.name: m for m in _members(_layer(root))}
    # Walk order decides which name carries the data: a-third comes first.
    assert members["a-third"].isreg() and members["a-third"].size == 4
    assert members["d/second"].islnk() and members["d/second"].linkname == "a-third"
    assert members["z-first"].islnk() and members["z-first"].linkname == "a-third"


def test_long_and_non_ascii_names_use_pax_paths_only_when_needed(tmp_path: Path):
    root = tmp_path / "tree"
    splittable = "p" * 90 + "/" + "q" * 90  # 181 bytes: fits ustar's prefix + name
    (root / splittable).parent.mkdir(parents=True)
    (root / splittable).write_text("x")
    (root / ("r" * 150)).write_text("x")  # one component over 100: needs PAX
    (root / "é").write_text("x")
    members = {m.name: m for m in _members(_layer(root))}
    assert members[splittable].pax_headers == {}
    assert members["r" * 150].pax_headers == {"path": "r" * 150}
    assert members["é"].pax_headers == {"path": "é"}


@needs_root
def test_xattrs_become_schily_records_but_overlay_ones_do_not(tmp_path: Path):
    root = tmp_path / "tree"
    root.mkdir()
    (root / "f").write_text("x")
    os.setxattr(root / "f", "user.note", b"hi")
    os.setxattr(root / "f", "trusted.overlay.origin", b"\x00\x01")
    os.setxattr(root / "f", "security.capability", bytes.fromhex("0100000280200000000000000000000000000000"))
    data = _layer(root)
    assert b"SCHILY.xattr.user.note=hi\n" in data
    assert b"SCHILY.xattr.security.capability=" in data
    assert b"overlay" not in data
    assert b"hdrcharset" not in data  # binary values are written raw, as Go writes them


@needs_root
def test_gnu_tar_lists_what_docker_would_show(tmp_path: Path):
    root = tmp_path / "tree"
    (root / "bin").mkdir(parents=True)
    (root / "bin/busybox").write_text("elf")
    os.chown(root / "bin/busybox", 4242, 4243)
    os.chmod(root / "bin/busybox", 0o4755)
    os.symlink("busybox", root / "bin/sh")
    os.link(root / "bin/busybox", root / "bin/su")
    os.mkfifo(root / "fifo")
    os.mknod(root / "null", 0o20666, os.makedev(1, 3))
    for path in [*root.rglob("*"), root / "bin"]:
        os.utime(path, (MTIME, MTIME), follow_symlinks=False)
    layer = tmp_path / "layer.tar"
    layer.write_bytes(_layer(root))
    listing = subprocess.run(
        ["tar", "--numeric-owner", "--utc", "-tvf", str(layer)], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    when = "2023-11-14 22:13"
    assert [" ".join(line.split()) for line in listing] == [
        f"drwxr-xr-x 0/0 0 {when} bin/",
        f"-rwsr-xr-x 4242/4243 3 {when} bin/busybox",
        f"lrwxrwxrwx 0/0 0 {when} bin/sh -> busybox",
        f"hrwsr-xr-x 4242/4243 0 {when} bin/su link to bin/busybox",
        f"prw-r--r-- 0/0 0 {when} fifo",
        f"crw-r--r-- 0/0 1,3 {when} null",
    ]


def test_missing_root_is_an_error_not_an_empty_layer(tmp_path: Path):
    with pytest.raises(LayerError, match="not a directory"):
        write_dir_tar(tmp_path / "missing", io.BytesIO())
