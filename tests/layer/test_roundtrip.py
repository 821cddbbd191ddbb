"""write_dir_tar then apply_layer gives back the same tree, and GNU tar agrees with us."""

from __future__ import annotations

import io
import os
import stat
import struct
import subprocess
from pathlib import Path

import pytest

from lamina.layer.apply import apply_layer
from lamina.layer.tarwrite import write_dir_tar

from .helpers import MTIME, needs_root, tree_state

pytestmark = needs_root

# security.capability v2: effective, permitted = CAP_SETUID(7) | CAP_NET_RAW(13): not UTF-8.
CAPABILITY = struct.pack("<IIIII", 0x02000001, (1 << 7) | (1 << 13), 0, 0, 0)
LONG_COMPONENT = "n" * 120
DEEP_DIR = "/".join([f"segment{i:02d}" for i in range(30)])  # > 255 bytes in all


def build_rich_tree(root: Path) -> None:
    """Every kind of thing a layer must carry."""
    os.makedirs(root / "bin")
    os.makedirs(root / "empty")
    os.makedirs(root / DEEP_DIR)
    os.makedirs(root / "ünïcødé")
    os.makedirs(root / "tmp")
    os.makedirs(root / "shared")
    files = {
        "bin/tool": b"#!/bin/sh\necho tool\n",
        "bin/empty": b"",
        "etc-file": b"x" * 1000,
        f"{DEEP_DIR}/leaf.txt": b"deep\n",
        f"{LONG_COMPONENT}.txt": b"long name\n",
        "ünïcødé/文件.txt": b"non-ascii\n",
        "big.bin": os.urandom(3 << 20),
        "linked-a": b"shared inode\n",
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    with open(os.path.join(os.fsencode(root), b"\xff\xfe-not-utf8"), "wb") as handle:
        handle.write(b"latin-1 name\n")
    os.link(root / "linked-a", root / "shared/linked-b")
    os.link(root / "linked-a", root / "linked-c")
    os.symlink("tool", root / "bin/relative-link")
    os.symlink("/etc/passwd", root / "absolute-link")
    os.symlink("missing/target", root / "dangling-link")
    os.symlink("t" * 150, root / "long-target-link")
    os.mkfifo(root / "fifo")
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(root / "loop", stat.S_IFBLK | 0o660, os.makedev(7, 0))
    os.chown(root / "bin/tool", 4242, 4243)
    os.setxattr(root / "bin/tool", "security.capability", CAPABILITY)
    os.chmod(root / "bin/tool", 0o4755)
    os.setxattr(root / "etc-file", "user.comment", b"hello \x00 world")
    os.setxattr(root / "shared", "trusted.lamina", b"\xff")
    os.chmod(root / "tmp", 0o1777)
    os.chmod(root / "shared", 0o2775)
    os.chmod(root / "etc-file", 0o600)
    os.chmod(root / "bin/empty", 0)
    os.chown(root / "etc-file", 3_000_000, 70_000)  # uid beyond ustar's 7 octal digits: PAX uid
    os.chown(root / "absolute-link", 4242, 4243, follow_symlinks=False)
    # mtimes: ordinary, before 1970 and after 2242 (both need PAX records), with nanoseconds.
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root), topdown=False):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), ns=(MTIME * 10**9 + 123, MTIME * 10**9 + 456_789), follow_symlinks=False)
    os.utime(root / "etc-file", ns=(0, -1000 * 10**9))
    os.utime(root / "big.bin", ns=(0, (1 << 33) * 10**9))


@pytest.fixture
def rich_tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    build_rich_tree(root)
    return root


def test_round_trip_preserves_every_detail(rich_tree: Path, tmp_path: Path):
    layer = io.BytesIO()
    write_dir_tar(rich_tree, layer)
    target = tmp_path / "dst"
    target.mkdir()
    layer.seek(0)
    applied = apply_layer(layer, target)
    assert tree_state(target) == tree_state(rich_tree)
    assert applied.skipped == 0
    # Hard links carry no data: each inode's bytes are written once.
    sizes = {st.st_ino: st.st_size for st in map(os.lstat, _regular_files(rich_tree))}
    assert applied.bytes == sum(sizes.values())
    assert os.getxattr(target / "bin/tool", "security.capability") == CAPABILITY
    assert stat.S_IMODE(os.lstat(target / "bin/tool").st_mode) == 0o4755


def _regular_files(root: Path) -> list[str]:
    return [
        os.path.join(dirpath, name)
        for dirpath, _, names in os.walk(root)
        for name in names
        if stat.S_ISREG(os.lstat(os.path.join(dirpath, name)).st_mode)
    ]


def test_writing_to_a_real_file_gives_the_same_bytes(rich_tree: Path, tmp_path: Path):
    in_memory = io.BytesIO()
    write_dir_tar(rich_tree, in_memory)
    on_disk = tmp_path / "layer.tar"
    with open(on_disk, "wb") as handle:
        handle.write(b"prefix")  # a caller's buffered bytes must land first
        write_dir_tar(rich_tree, handle)
    assert on_disk.read_bytes() == b"prefix" + in_memory.getvalue()


def test_writing_to_a_pipe_gives_the_same_bytes(rich_tree: Path):
    in_memory = io.BytesIO()
    write_dir_tar(rich_tree, in_memory)
    reader_fd, writer_fd = os.pipe()
    with open(reader_fd, "rb") as reader, open(writer_fd, "wb") as writer:
        import threading

        received = bytearray()
        drain = threading.Thread(target=lambda: received.extend(reader.read()))
        drain.start()
        write_dir_tar(rich_tree, writer)
        writer.close()
        drain.join()
    assert bytes(received) == in_memory.getvalue()


def test_gnu_tar_extracts_our_layer_with_xattrs(rich_tree: Path, tmp_path: Path):
    layer = tmp_path / "layer.tar"
    with open(layer, "wb") as handle:
        write_dir_tar(rich_tree, handle)
    target = tmp_path / "gnu"
    target.mkdir()
    subprocess.run(
        ["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", str(layer), "-C", str(target)],
        check=True,
    )
    # GNU tar restores everything but cannot set mtimes on symlinks' targets' parents in order;
    # compare without directory mtimes (it sets them as it goes, then files change them).
    assert tree_state(target, dir_mtimes=False) == tree_state(rich_tree, dir_mtimes=False)
    assert os.getxattr(target / "bin/tool", "security.capability") == CAPABILITY


def test_we_apply_what_gnu_tar_writes(rich_tree: Path, tmp_path: Path):
    layer = tmp_path / "gnu.tar"
    subprocess.run(
        ["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "--format=posix",
         "-cf", str(layer), "-C", str(rich_tree), "."],
        check=True,
    )
    target = tmp_path / "dst"
    target.mkdir()
    with open(layer, "rb") as handle:
        apply_layer(handle, target)
    # GNU tar keeps nanosecond mtimes in PAX; our tree_state compares whole seconds.
    source = tree_state(rich_tree)
    assert tree_state(target) == source


def test_round_trip_of_a_tree_copied_twice_is_byte_identical(rich_tree: Path, tmp_path: Path):
    first = io.BytesIO()
    write_dir_tar(rich_tree, first)
    copy = tmp_path / "copy"
    copy.mkdir()
    first.seek(0)
    apply_layer(first, copy)
    second = io.BytesIO()
    write_dir_tar(copy, second)
    assert second.getvalue() == first.getvalue()
