"""check_layer_tar, the door check of load and import: what it refuses and what it lets through.

It refuses what would escape the root and what the extractor would fail on in every snapshot
(a layer that loaded but could never be run); it must not refuse layers docker applies.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from lamina.errors import LayerError
from lamina.layer.overlayapply import apply_layer_as_overlay
from lamina.layer.validate import check_layer_tar

from .helpers import make_tar
from .test_tarread_hostile import END, header, pax


def check(data: bytes):
    return check_layer_tar(io.BytesIO(data), "evil.tar")


UNAPPLIABLE = {
    "hardlink-to-dir": ((("dir", "d"), ("hardlink", "h", "d")), "directory"),
    "hardlink-to-later": ((("hardlink", "h", "later"), ("file", "later", b"x")), "no earlier member"),
    "hardlink-to-itself": ((("hardlink", "h", "h"),), "no earlier member"),
    "hardlink-to-lower": ((("hardlink", "h", "/etc/passwd"),), "no earlier member"),
    "hardlink-to-root": ((("hardlink", "h", "./"),), "root"),
    "hardlink-below-a-file": ((("file", "f", b"x"), ("hardlink", "h", "f/x")), "not a directory"),
    "whiteout-dotdot": ((("file", "a/.wh..."),), "nothing to hide"),
    "whiteout-dot": ((("file", "a/.wh.."),), "nothing to hide"),
    "whiteout-empty": ((("file", ".wh."),), "nothing to hide"),
    "opaque-below-a-file": ((("file", "f", b"x"), ("file", "f/.wh..wh..opq")), "not a directory"),
    "file-below-a-file": ((("file", "f", b"x"), ("file", "f/x", b"y")), "not a directory"),
    "root-as-file": ((("file", "./", b"x"),), "root"),
    "empty-symlink": ((("symlink", "s", ""),), "empty target"),
}


@pytest.mark.parametrize("specs, expect", UNAPPLIABLE.values(), ids=UNAPPLIABLE.keys())
def test_layers_no_snapshot_could_hold_are_refused(specs, expect, tmp_path: Path):
    data = make_tar(*specs)
    with pytest.raises(LayerError, match=expect) as refused:
        check(data)
    assert str(refused.value).startswith("evil.tar: ")
    # the extractor agrees: this layer cannot be unpacked into a snapshot
    (tmp_path / "fs").mkdir()
    with pytest.raises(LayerError):
        apply_layer_as_overlay(io.BytesIO(data), tmp_path / "fs")


APPLIABLE = {
    "hardlink-to-earlier-file": (("file", "f", b"x"), ("hardlink", "h", "f")),
    "hardlink-to-itself-after-the-file": (("file", "h", b"x"), ("hardlink", "h", "h")),
    "hardlink-to-a-symlink": (("symlink", "s", "/etc/passwd"), ("hardlink", "h", "s")),
    "symlink-replaced-by-dir": (("symlink", "d", "/etc"), ("dir", "d"), ("file", "d/x", b"x")),
    "file-replaced-by-dir": (("file", "d", b"x"), ("dir", "d"), ("file", "d/x", b"x")),
    "dir-replaced-by-file-and-back": (("dir", "d"), ("file", "d/f", b"x"), ("file", "d", b"x"), ("dir", "d"),
                                      ("file", "d/f/x", b"x")),
    "whiteouts-and-opaque": (("file", ".wh.gone"), ("dir", "d"), ("file", "d/.wh..wh..opq"), ("file", "d/.wh.x")),
    "aufs-bookkeeping": (("dir", ".wh..wh.plnk"), ("file", ".wh..wh.plnk/123.456", b"x")),
    "root-dir-entry": (("dir", "./"), ("file", "./a", b"x")),
}


@pytest.mark.parametrize("specs", APPLIABLE.values(), ids=APPLIABLE.keys())
def test_layers_the_extractor_applies_pass(specs, tmp_path: Path):
    data = make_tar(*specs)
    assert check(data).members == len(specs)
    (tmp_path / "fs").mkdir()
    apply_layer_as_overlay(io.BytesIO(data), tmp_path / "fs")


def test_a_hard_link_into_a_replaced_directory_is_refused():
    # "d" became a file, so "d/f" is gone: the extractor would fail to link it
    with pytest.raises(LayerError, match="not a directory"):
        check(make_tar(("dir", "d"), ("file", "d/f", b"x"), ("file", "d", b"y"), ("hardlink", "h", "d/f")))


def test_a_hard_link_into_a_directory_replaced_by_a_symlink_is_refused():
    with pytest.raises(LayerError, match="through the symlink"):
        check(make_tar(("dir", "d"), ("file", "d/f", b"x"), ("symlink", "d", "/etc"), ("hardlink", "h", "d/f")))


def test_reader_errors_name_the_layer():
    with pytest.raises(LayerError, match=r"^evil\.tar: .*NUL byte in path"):
        check(pax({b"path": b"a\0b"}) + header(b"a") + END)


def test_deep_names_are_checked_in_linear_time():
    """A member's ancestors are not re-sliced and re-hashed one by one.

    3000 members 2000 deep: checking each ancestor as a string copied depth × length bytes per
    member (~10 s of CPU here); walking a trie, with parents cached, takes a fraction of a second.
    Measured as this process's CPU time, so a busy machine (``-n 2`` on 2 cores) does not stretch it.
    """
    deep = "/".join(["d"] * 2000)
    data = make_tar(("dir", deep), *[("file", f"{deep}/f{i}") for i in range(3000)])
    started = time.process_time()
    assert check(data).members == 3001
    assert time.process_time() - started < 4


def test_a_replaced_directory_starts_afresh(tmp_path: Path):
    data = make_tar(("dir", "d"), ("dir", "d/e"), ("file", "d", b"now a file"), ("dir", "d"), ("file", "d/e/x", b"x"))
    check(data)
    (tmp_path / "fs").mkdir()
    apply_layer_as_overlay(io.BytesIO(data), tmp_path / "fs")
    assert os.path.isfile(tmp_path / "fs/d/e/x")
