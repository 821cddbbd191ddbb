"""Layers unpacked in overlayfs form (snapshots) and stacked as lower dirs show the image."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from lamina.errors import LayerError
from lamina.layer.overlayapply import apply_layer_as_overlay
from lamina.runtime.mounts import mount_overlay, remove_container_dir
from lamina.store.snapshots import MergedView, Snapshots
from lamina.store.store import Store

from .helpers import add_layer, make_tar, tree

BASE = [
    ("a", "file", "a\n"),
    ("d", "dir", None),
    ("d/x", "file", "x\n"),
    ("d/y", "file", "y\n"),
    ("p", "dir", None),
    ("p/f", "file", "f\n"),
    ("usr", "dir", None),
    ("usr/lib", "dir", None),
    ("lib", "symlink", "usr/lib"),
]


def test_whiteouts_become_overlay_whiteouts(tmp_path: Path):
    layer = make_tar([(".wh.a", "file", ""), ("d", "dir", None), ("d/.wh..wh..opq", "file", ""), ("d/z", "file", "z\n")])
    target = tmp_path / "fs"
    target.mkdir()
    applied = apply_layer_as_overlay(io.BytesIO(layer), target)
    assert applied.whiteouts == 2
    st = os.lstat(target / "a")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(target / "d", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(target / "d")) == ["z"]


def test_a_stack_of_snapshots_hides_what_upper_layers_deleted(store: Store):
    base = add_layer(store, make_tar(BASE, modes={"p": 0o700}))
    top = add_layer(store, make_tar([(".wh.a", "file", ""), ("d", "dir", None), ("d/.wh..wh..opq", "file", ""),
                                     ("d/z", "file", "z\n"), ("p/.wh.f", "file", ""), ("lib/new", "file", "n\n")]))
    lowers = Snapshots(store).lower_dirs([base, top])
    with MergedView(lowers) as root:
        listing = tree(root)
        p_mode = stat.S_IMODE(os.stat(root / "p").st_mode)
    assert "a" not in listing
    assert [path for path in listing if path.startswith("d/")] == ["d/z"]
    assert "p/f" not in listing
    # A parent the tar did not list keeps the image's attributes, not a default 0755.
    assert p_mode == 0o700
    # A path through a symlink of a lower layer lands where the symlink points.
    assert listing["lib"] == "-> usr/lib"
    assert listing["usr/lib/new"] == "n\n"


def test_overlay_xattrs_in_a_layer_are_not_planted(tmp_path: Path):
    layer = make_tar([("d", "dir", None), ("d/f", "file", "f")],
                     xattrs={"d": {"trusted.overlay.opaque": "y", "user.note": "kept"}})
    target = tmp_path / "fs"
    target.mkdir()
    apply_layer_as_overlay(io.BytesIO(layer), target)
    assert "trusted.overlay.opaque" not in os.listxattr(target / "d")
    assert os.getxattr(target / "d", "user.note") == b"kept"


def test_overlay_apply_needs_an_empty_dir(tmp_path: Path):
    (tmp_path / "already").write_text("x")
    with pytest.raises(LayerError, match="not empty"):
        apply_layer_as_overlay(io.BytesIO(make_tar([("f", "file", "")])), tmp_path)


def test_hostile_paths_are_refused_in_overlay_form_too(tmp_path: Path):
    target = tmp_path / "fs"
    target.mkdir()
    with pytest.raises(LayerError, match="escapes"):
        apply_layer_as_overlay(io.BytesIO(make_tar([("../evil", "file", "x")])), target)
    assert not (tmp_path / "evil").exists()


def test_more_lower_dirs_than_absolute_paths_fit_in_a_page(tmp_path: Path):
    lowers = []
    for index in range(150):
        lower = tmp_path / ("layer-with-a-long-name-to-fill-the-mount-options-page-" + f"{index:04d}")
        lower.mkdir()
        (lower / f"f{index}").write_text(str(index))
        lowers.append(lower)
    assert len(":".join(map(str, lowers))) > 4096
    dirs = mount_overlay(tmp_path / "container", list(reversed(lowers)))
    try:
        assert len(os.listdir(dirs.rootfs)) == 150
        assert (dirs.rootfs / "f149").read_text() == "149"
    finally:
        assert remove_container_dir(dirs.base)
    assert not (tmp_path / "container").exists()
