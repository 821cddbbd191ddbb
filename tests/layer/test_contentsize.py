"""ContentSizer counts what docker counts for a layer: the unpacked files, not the tar."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from lamina.layer.contentsize import ContentSizer
from lamina.runtime.volumestore import directory_size


def _tree(root: Path) -> None:
    rng = random.Random(7)
    (root / "dir" / ("deep" * 40)).mkdir(parents=True)
    for index in range(40):
        size = rng.choice([0, 1, 511, 512, 513, 4096, 70000])
        (root / "dir" / f"file{index}").write_bytes(os.urandom(size))
    (root / "dir" / ("deep" * 40) / ("long-name" * 20)).write_bytes(b"x" * 1234)
    os.link(root / "dir" / "file3", root / "dir" / "hardlink-to-3")
    (root / "short-link").symlink_to("dir/file1")
    (root / "long-link").symlink_to("t" * 180)
    (root / "dangling").symlink_to("/nowhere/at/all")
    os.mkfifo(root / "fifo")


@pytest.mark.parametrize("tar_format", ["gnu", "posix", "ustar"])
def test_counts_like_the_unpacked_directory(tmp_path: Path, tar_format: str):
    root = tmp_path / "root"
    root.mkdir()
    _tree(root)
    if tar_format == "ustar":  # ustar cannot hold the long names: leave them out
        subprocess.run(["rm", "-rf", str(root / "dir" / ("deep" * 40)), str(root / "long-link")], check=True)
    archive = subprocess.run(["tar", f"--format={tar_format}", "-C", str(root), "-cf", "-", "."],
                             capture_output=True, check=True).stdout
    expected = directory_size(root)
    rng = random.Random(tar_format)
    for _ in range(5):
        sizer, position = ContentSizer(), 0
        while position < len(archive):
            step = rng.choice([1, 3, 511, 512, 513, 9000, 1 << 20])
            sizer.feed(archive[position:position + step])
            position += step
        assert sizer.size == expected
    assert len(archive) > expected  # the tar's own size is not what docker shows


def test_a_stream_that_is_not_a_tar_has_no_size():
    sizer = ContentSizer()
    sizer.feed(b"this is not a tar archive at all".ljust(512, b"?"))
    assert sizer.size is None


def test_empty_layer_is_zero():
    sizer = ContentSizer()
    sizer.feed(b"\0" * 1024)
    assert sizer.size == 0
