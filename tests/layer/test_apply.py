"""apply_layer: layer.md whiteouts, replacement rules and metadata."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from lamina.errors import LayerError
from lamina.layer.apply import apply_layer, list_layer
from lamina.layer.tarwrite import encode_header

from .helpers import MTIME, make_tar, needs_root


def apply(target: Path, *specs: tuple):
    return apply_layer(io.BytesIO(make_tar(*specs)), target)


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """The base layer of layer.md's whiteout example."""
    root = tmp_path / "root"
    root.mkdir()
    apply(root, ("file", "file1", b"1"), ("dir", "a"), ("file", "a/file2", b"2"), ("dir", "b"),
          ("file", "b/inner", b"i"), ("dir", "c"), ("file", "c/file3", b"3"))
    return root


def test_whiteouts_delete_files_and_directories_of_lower_layers(base: Path):
    applied = apply(base, ("file", ".wh.file1"), ("file", "a/.wh.file2"), ("file", ".wh.b"), ("file", "file4", b"4"))
    assert files(base) == {"a", "c", "c/file3", "file4"}
    assert applied.whiteouts == 3 and applied.entries == 4


def test_whiteout_of_something_missing_is_harmless(base: Path):
    apply(base, ("file", ".wh.nothing"), ("file", "nowhere/.wh.x"))
    assert "nowhere" not in files(base)


def test_whiteout_does_not_hide_what_the_same_layer_wrote(base: Path):
    apply(base, ("file", "new", b"n"), ("file", ".wh.new"), ("dir", "c"), ("file", "c/.wh.file3"))
    assert {"new", "c"} <= files(base)
    assert "c/file3" not in files(base)


def test_whiteout_without_a_name_is_refused(base: Path):
    with pytest.raises(LayerError, match="whiteout without a name"):
        apply(base, ("file", "a/.wh."))


@pytest.mark.parametrize("opaque_last", [False, True])
def test_opaque_directory_hides_all_lower_children_whatever_its_position(tmp_path: Path, opaque_last: bool):
    root = tmp_path / "root"
    root.mkdir()
    apply(root, ("dir", "a"), ("dir", "a/b"), ("dir", "a/b/c"), ("file", "a/b/c/bar", b"old"),
          ("file", "a/lower-only", b"x"), ("dir", "a/lower-dir"), ("file", "a/lower-dir/y", b"y"))
    members = [("dir", "a"), ("dir", "a/b"), ("dir", "a/b/c"), ("file", "a/b/c/foo", b"new")]
    opaque = ("file", "a/.wh..wh..opq")
    apply(root, *(members + [opaque] if opaque_last else [members[0], opaque, *members[1:]]))
    assert files(root) == {"a", "a/b", "a/b/c", "a/b/c/foo"}


def test_opaque_marker_alone_empties_the_directory(base: Path):
    apply(base, ("dir", "c"), ("file", "c/.wh..wh..opq"))
    assert "c" in files(base) and not any(name.startswith("c/") for name in files(base))


def test_aufs_metadata_entries_are_ignored(base: Path):
    apply(base, ("dir", ".wh..wh.plnk"), ("file", ".wh..wh.plnk/123.456", b"x"))
    assert not any(".wh." in name for name in files(base))


def test_a_file_replaces_a_directory_and_a_directory_replaces_a_file(base: Path):
    apply(base, ("file", "b", b"now a file"), ("dir", "file1"), ("file", "file1/inside", b"x"))
    assert (base / "b").read_bytes() == b"now a file"
    assert (base / "file1/inside").read_bytes() == b"x"


def test_an_existing_directory_is_kept_with_new_metadata(base: Path):
    data = make_tar(("dir", "c"))
    archive = tarfile.open(fileobj=io.BytesIO(data))
    info = archive.getmembers()[0]
    info.mode = 0o700
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as out:
        out.addfile(info)
    apply_layer(io.BytesIO(buffer.getvalue()), base)
    assert (base / "c/file3").read_bytes() == b"3"
    assert stat.S_IMODE((base / "c").stat().st_mode) == 0o700


def test_later_duplicate_entries_win(tmp_path: Path):
    apply(tmp_path, ("file", "f", b"first"), ("file", "f", b"second"), ("symlink", "s", "x"), ("file", "s", b"file"))
    assert (tmp_path / "f").read_bytes() == b"second"
    assert not (tmp_path / "s").is_symlink() and (tmp_path / "s").read_bytes() == b"file"


def test_hard_link_to_a_file_of_a_lower_layer(base: Path):
    apply(base, ("hardlink", "c/link", "c/file3"))
    assert os.path.samestat(os.lstat(base / "c/link"), os.lstat(base / "c/file3"))


def test_hard_link_to_something_missing_is_refused(tmp_path: Path):
    with pytest.raises(LayerError, match="'h'.*does not exist"):
        apply(tmp_path, ("hardlink", "h", "missing"))


def test_hard_link_to_a_directory_is_refused(base: Path):
    with pytest.raises(LayerError, match="hard link to directory"):
        apply(base, ("hardlink", "h", "a"))


def test_missing_parents_are_created(tmp_path: Path):
    apply(tmp_path, ("file", "x/y/z", b"z"))
    assert (tmp_path / "x/y/z").read_bytes() == b"z"
    assert stat.S_IMODE((tmp_path / "x").stat().st_mode) == 0o755


def test_parent_that_is_a_file_is_refused(tmp_path: Path):
    with pytest.raises(LayerError, match="'f/x'.*not a directory"):
        apply(tmp_path, ("file", "f", b""), ("file", "f/x", b""))


def test_directory_mtimes_are_set_after_their_children(tmp_path: Path):
    apply(tmp_path, ("dir", "d"), ("file", "d/a", b""), ("dir", "d/e"), ("file", "d/e/b", b""))
    assert os.lstat(tmp_path / "d").st_mtime == MTIME
    assert os.lstat(tmp_path / "d/e").st_mtime == MTIME


def test_root_entry_sets_the_target_metadata(tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir(mode=0o700)
    data = make_tar(("dir", "./"), ("file", "./f", b"x"))
    apply_layer(io.BytesIO(data), root)
    assert stat.S_IMODE(root.stat().st_mode) == 0o755
    assert (root / "f").read_bytes() == b"x"


@needs_root
def test_owner_then_mode_then_capability_are_applied(tmp_path: Path):
    # chown clears setuid bits and security.capability, so both must come after it.
    capability = bytes.fromhex("0100000280200000000000000000000000000000")
    header = encode_header(b"ping", b"0", 0o6755, 4242, 4243, 3, MTIME, xattrs={"security.capability": capability})
    data = header + b"elf" + bytes(509) + bytes(1024)
    apply_layer(io.BytesIO(data), tmp_path)
    st = os.lstat(tmp_path / "ping")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (4242, 4243, 0o6755)
    assert os.getxattr(tmp_path / "ping", "security.capability") == capability


@needs_root
def test_devices_and_fifos_are_created(tmp_path: Path):
    apply(tmp_path, ("char", "null", 1, 3), ("fifo", "pipe"))
    st = os.lstat(tmp_path / "null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe").st_mode)


def test_target_must_be_a_directory(tmp_path: Path):
    (tmp_path / "file").write_text("")
    with pytest.raises(LayerError, match="not a directory"):
        apply(tmp_path / "file", ("file", "x", b""))


def test_list_layer_reports_whiteouts_and_opaque_dirs():
    data = make_tar(("dir", "/etc/"), ("file", "etc/.wh..wh..opq"), ("file", "etc/.wh.passwd"),
                    ("file", "./etc/hosts", b"127.0.0.1\n"), ("hardlink", "etc/h", "/etc/hosts"))
    entries = [(e.path, e.kind, e.size, e.linkname) for e in list_layer(io.BytesIO(data))]
    assert entries == [
        ("etc", "dir", 0, ""),
        ("etc", "opaque", 0, ""),
        ("etc/passwd", "whiteout", 0, ""),
        ("etc/hosts", "file", 10, ""),
        ("etc/h", "hardlink", 0, "etc/hosts"),
    ]


@needs_root
def test_without_same_owner_files_belong_to_the_caller(tmp_path: Path):
    header = encode_header(b"f", b"0", 0o4755, 4242, 4243, 1, MTIME, xattrs={})
    applied = apply_layer(io.BytesIO(header + b"x" + bytes(511) + bytes(1024)), tmp_path, same_owner=False)
    st = os.lstat(tmp_path / "f")
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
    assert stat.S_IMODE(st.st_mode) == 0o4755
    assert applied.skipped == 0


def test_xattrs_the_kernel_refuses_are_counted_not_fatal(tmp_path: Path):
    # user.* xattrs are not allowed on symlinks.
    header = encode_header(b"s", b"2", 0o777, 0, 0, 0, MTIME, linkname=b"t", xattrs={"user.x": b"1"})
    applied = apply_layer(io.BytesIO(header + bytes(1024)), tmp_path, same_owner=os.geteuid() == 0)
    assert os.readlink(tmp_path / "s") == "t"
    assert applied.skipped == 1
