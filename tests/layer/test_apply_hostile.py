"""Hostile layers either land inside the target or raise LayerError; nothing outside changes."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from lamina.errors import LayerError
from lamina.layer.apply import apply_layer
from lamina.layer.tarwrite import encode_header

from .helpers import MTIME, listing, make_tar


@pytest.fixture
def arena(tmp_path: Path):
    """A target three levels deep with sentinel trees beside and above it."""
    target = tmp_path / "outer" / "inner" / "root"
    target.mkdir(parents=True)
    for sentinel in (tmp_path / "etc", tmp_path / "outer" / "etc", tmp_path / "outer" / "inner" / "sibling"):
        sentinel.mkdir(parents=True)
        (sentinel / "passwd").write_text("sentinel\n")
        (sentinel / "x").write_text("sentinel\n")
    before = listing(tmp_path, skip=target)
    host_passwd = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    host_etc = sorted(os.listdir("/etc"))
    yield target
    assert listing(tmp_path, skip=target) == before, "something outside the target changed"
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == host_passwd
    assert sorted(os.listdir("/etc")) == host_etc


def apply(target: Path, data: bytes):
    return apply_layer(io.BytesIO(data), target)


@pytest.mark.parametrize("name", ["../../etc/x", "a/../../x", "..", "../", "./../x", "a/b/../../../x", "/../x"])
def test_names_climbing_out_are_refused(arena: Path, name: str):
    with pytest.raises(LayerError, match="escapes the root"):
        apply(arena, make_tar(("file", name, b"pwned")))


def test_long_pax_name_climbing_out_is_refused(arena: Path):
    name = "../" * 40 + "etc/x" + "y" * 200
    with pytest.raises(LayerError, match="escapes the root"):
        apply(arena, make_tar(("file", name, b"pwned")))


def test_absolute_names_land_inside(arena: Path):
    apply(arena, make_tar(("file", "/etc/x", b"inside")))
    assert (arena / "etc/x").read_bytes() == b"inside"


def test_dotdot_that_stays_inside_is_resolved(arena: Path):
    apply(arena, make_tar(("file", "a/b/../c", b"c")))
    assert (arena / "a/c").read_bytes() == b"c"


def test_symlink_to_root_then_write_through_it_stays_inside(arena: Path):
    apply(arena, make_tar(("symlink", "a", "/"), ("file", "a/etc/passwd", b"inside\n")))
    assert (arena / "etc/passwd").read_bytes() == b"inside\n"
    assert os.readlink(arena / "a") == "/"


def test_symlink_to_etc_then_write_through_it_stays_inside(arena: Path):
    apply(arena, make_tar(("symlink", "a", "/etc"), ("file", "a/passwd", b"inside\n")))
    assert (arena / "etc/passwd").read_bytes() == b"inside\n"


def test_relative_symlink_climbing_out_is_clamped_to_the_root(arena: Path):
    apply(arena, make_tar(("symlink", "a", "../../.."), ("file", "a/x", b"inside")))
    assert (arena / "x").read_bytes() == b"inside"


def test_chained_symlinks_climbing_out_are_clamped(arena: Path):
    apply(arena, make_tar(
        ("dir", "d"), ("symlink", "d/up", ".."), ("symlink", "d/upup", "up/../.."),
        ("symlink", "hop", "d/upup/etc"), ("file", "hop/x", b"inside"),
    ))
    assert (arena / "etc/x").read_bytes() == b"inside"


def test_symlink_loop_is_refused(arena: Path):
    with pytest.raises(LayerError, match="too many levels of symbolic links"):
        apply(arena, make_tar(("symlink", "a", "b"), ("symlink", "b", "a"), ("file", "a/x", b"")))


def test_a_file_over_an_escaping_symlink_replaces_the_symlink(arena: Path):
    target_file = arena.parent / "sibling" / "passwd"
    apply(arena, make_tar(("symlink", "f", str(target_file)), ("file", "f", b"replaced")))
    assert not (arena / "f").is_symlink()
    assert (arena / "f").read_bytes() == b"replaced"


def test_a_directory_replaced_by_an_escaping_symlink_is_not_followed_later(arena: Path):
    apply(arena, make_tar(
        ("dir", "d"), ("file", "d/a", b"a"), ("symlink", "d", "../../../etc"), ("file", "d/x", b"inside"),
    ))
    assert (arena / "etc/x").read_bytes() == b"inside"
    assert os.readlink(arena / "d") == "../../../etc"


def test_hard_link_climbing_out_is_refused(arena: Path):
    with pytest.raises(LayerError, match="escapes the root"):
        apply(arena, make_tar(("hardlink", "h", "../../etc/passwd")))


def test_hard_link_through_an_escaping_symlink_stays_inside(arena: Path):
    # The link target resolves inside the root: <root>/etc/passwd, which does not exist.
    with pytest.raises(LayerError, match="does not exist"):
        apply(arena, make_tar(("symlink", "up", "../../.."), ("hardlink", "h", "up/etc/passwd")))


def test_hard_link_to_an_escaping_symlink_links_the_symlink_itself(arena: Path):
    apply(arena, make_tar(("symlink", "s", "/etc/passwd"), ("hardlink", "h", "s"), ("file", "h2", b"")))
    assert os.readlink(arena / "h") == "/etc/passwd"
    assert os.path.samestat(os.lstat(arena / "h"), os.lstat(arena / "s"))


def test_writing_over_a_hard_link_never_changes_the_other_name(arena: Path):
    apply(arena, make_tar(("file", "original", b"keep"), ("hardlink", "alias", "original"), ("file", "alias", b"new")))
    assert (arena / "original").read_bytes() == b"keep"
    assert (arena / "alias").read_bytes() == b"new"


def test_whiteout_through_an_escaping_symlink_stays_inside(arena: Path):
    (arena / "etc").mkdir()
    (arena / "etc/passwd").write_text("lower\n")
    apply(arena, make_tar(("symlink", "up", "../../.."), ("file", "up/etc/.wh.passwd")))
    assert not (arena / "etc/passwd").exists()


def test_opaque_through_an_escaping_symlink_stays_inside(arena: Path):
    apply(arena, make_tar(("symlink", "up", "../../../etc"), ("file", "up/.wh..wh..opq")))


def test_whiteout_of_dotdot_is_refused(arena: Path):
    with pytest.raises(LayerError):
        apply(arena, make_tar(("file", "a/.wh...")))


def test_nul_in_a_pax_path_is_refused(arena: Path):
    data = encode_header("é\0b".encode(), b"0", 0o644, 0, 0, 0, MTIME, xattrs={}) + bytes(1024)
    with pytest.raises(LayerError):
        apply(arena, data)


def test_duplicate_entries_end_with_the_last(arena: Path):
    apply(arena, make_tar(("file", "d", b"file"), ("dir", "d"), ("file", "d/x", b"x"), ("symlink", "d", "/etc")))
    assert os.readlink(arena / "d") == "/etc"


def test_truncated_tar_is_a_layer_error(arena: Path):
    data = make_tar(("file", "a", b"x" * 4000), ("file", "b", b"y"))
    for cut in (100, 600, 2000, 4511, 4700, 5120):  # headers and data
        with pytest.raises(LayerError, match="truncated"):
            apply(arena, data[:cut])


def test_a_tar_ending_at_a_member_boundary_without_end_blocks_applies_whole(arena: Path):
    """As docker's extractor (Go's archive/tar) does: umoci writes its layers so."""
    data = make_tar(("file", "a", b"x" * 4000), ("file", "b", b"y"))
    for end in (4512, 4608):  # after a's data (umoci's end), after its padding
        assert apply(arena, data[:end]).entries == 1
        assert (arena / "a").read_bytes() == b"x" * 4000 and not (arena / "b").exists()
    assert apply(arena, data[:5121]).entries == 2
    assert (arena / "b").read_bytes() == b"y"


def test_zero_byte_layer_is_empty(arena: Path):
    assert apply(arena, b"").entries == 0
    assert os.listdir(arena) == []


def test_garbage_is_a_layer_error(arena: Path):
    with pytest.raises(LayerError, match="corrupt"):
        apply(arena, bytes(range(256)) * 8)


def test_unsupported_member_type_is_named(arena: Path):
    data = encode_header(b"vol", b"V", 0o644, 0, 0, 0, MTIME, xattrs={}) + bytes(1024)
    with pytest.raises(LayerError, match="'vol': volume label is not supported"):
        apply(arena, data)


def test_overlayfs_xattrs_cannot_be_planted(arena: Path):
    header = encode_header(b"d/", b"5", 0o755, 0, 0, 0, MTIME, xattrs={
        "trusted.overlay.redirect": b"/etc", "trusted.overlay.opaque": b"y", "user.overlay.opaque": b"y",
    })
    applied = apply(arena, header + bytes(1024))
    assert os.listxattr(arena / "d") == []
    assert applied.skipped == 3


DEEP = "/".join(["a"] * 1500)  # deeper than Python's recursion limit, well inside PATH_MAX


@pytest.fixture
def deep_arena(arena: Path):
    """The arena, emptied afterwards with remove_tree: pytest deletes old temp dirs with
    shutil.rmtree, which a 1500-deep tree left behind would crash (it recurses)."""
    from lamina.layer.apply import remove_tree

    yield arena
    for child in arena.iterdir():
        if child.is_dir() and not child.is_symlink():
            remove_tree(child)


def test_mtimes_beyond_int64_nanoseconds_become_the_epoch(arena: Path):
    for mtime in (b"99999999999999999999", b"-99999999999999999999"):
        records = b"mtime=" + mtime + b"\n"
        record = str(len(records) + 3).encode() + b" " + records
        pax = encode_header(b"PaxHeaders/f", b"x", 0o644, 0, 0, len(record), MTIME, xattrs={})
        data = pax + record + bytes(-len(record) % 512) + encode_header(b"f", b"0", 0o644, 0, 0, 0, MTIME, xattrs={})
        apply(arena, data + bytes(1024))  # was: OverflowError from utime, a traceback
        assert os.lstat(arena / "f").st_mtime_ns == 0


def test_replacing_a_directory_deeper_than_the_recursion_limit(deep_arena: Path):
    arena = deep_arena
    apply(arena, make_tar(("dir", DEEP), ("file", DEEP + "/x", b"x")))
    apply(arena, make_tar(("file", "a", b"now a file")))  # was: RecursionError in shutil.rmtree
    assert (arena / "a").read_bytes() == b"now a file"


def test_opaque_marker_above_a_deep_tree_of_this_layer(deep_arena: Path):
    arena = deep_arena
    (arena / "lower").write_text("lower")
    apply(arena, make_tar(("dir", DEEP), ("file", DEEP + "/x", b"x"), ("file", ".wh..wh..opq")))
    assert not (arena / "lower").exists()
    assert (arena / DEEP / "x").read_bytes() == b"x"


def test_a_failed_apply_leaves_an_empty_target_empty(deep_arena: Path):
    arena = deep_arena
    # A deep tree, then a member that fails: callers delete their staging dir with
    # shutil.rmtree, which recursed past the limit on what the layer had left behind.
    with pytest.raises(LayerError, match="hard link"):
        apply(arena, make_tar(("dir", DEEP), ("file", "f", b"x"), ("hardlink", "h", "missing")))
    assert os.listdir(arena) == []


def test_a_failed_apply_onto_lower_layers_keeps_them(arena: Path):
    (arena / "lower").write_text("lower")
    with pytest.raises(LayerError):
        apply(arena, make_tar(("file", "f", b"x"), ("hardlink", "h", "missing")))
    assert (arena / "lower").read_text() == "lower"


def test_remove_tree_handles_depth_and_never_follows_symlinks(tmp_path: Path):
    from lamina.layer.apply import remove_tree

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    tree = tmp_path / "tree"
    tree.mkdir()
    deep = tree
    for _ in range(1500):  # pathlib's mkdir(parents=True) recurses too
        deep = deep / "a"
        deep.mkdir()
    (deep / "f").write_text("x")
    (deep / "link").symlink_to(outside)
    (tree / "wide").mkdir()
    for i in range(300):
        (tree / "wide" / f"d{i}").mkdir()
    remove_tree(tree)
    assert not tree.exists()
    assert (outside / "keep").read_text() == "keep"
