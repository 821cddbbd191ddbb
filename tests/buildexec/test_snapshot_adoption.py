"""A RUN step's upper dir becomes the new layer's snapshot: it must be exactly the tree that
unpacking the layer's tar in overlay form gives (and the tar must not change because of it)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import stat
from pathlib import Path
from types import SimpleNamespace

from lamina.api import Client
from lamina.layer.overlayapply import apply_layer_as_overlay
from lamina.layer.overlaydiff import SnapshotFixups, upper_to_snapshot, write_overlay_diff
from lamina.oci.identity import chain_id
from lamina.store.snapshots import SNAPSHOT_ROOT_MODE, Snapshots
from tests.buildexec.conftest import image_files, write

FRACTION = 1_700_000_000_123_456_789  # an mtime with nanoseconds, as a process leaves them
WHOLE = 1_600_000_000_000_000_000


def tree_state(root: Path) -> dict[str, tuple]:
    """Everything a snapshot holds, per path: type, mode, owner, mtime, size/content, links, xattrs."""
    state: dict[str, tuple] = {}
    root_st = os.lstat(root)
    state["."] = (root_st.st_mode, root_st.st_uid, root_st.st_gid, sorted(os.listxattr(root)))
    for directory, dirs, files in os.walk(root):
        for name in sorted([*dirs, *files]):
            path = os.path.join(directory, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            xattrs = {key: os.getxattr(path, key, follow_symlinks=False)
                      for key in sorted(os.listxattr(path, follow_symlinks=False))}
            if stat.S_ISREG(st.st_mode):
                body = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                body = os.readlink(path)
            else:
                body = st.st_rdev
            whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
            # A whiteout's own attributes are never visible through overlayfs.
            attributes = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns) if not whiteout else ("whiteout",)
            state[rel] = (*attributes, body, st.st_nlink, xattrs)
    return state


def make_upper(upper: Path) -> None:
    """An upper dir with everything a RUN step can leave: changes, deletions, overlay bookkeeping."""
    upper.mkdir()
    (upper / "new").write_text("new file\n")
    os.utime(upper / "new", ns=(FRACTION, FRACTION))
    (upper / "kept").write_text("whole seconds\n")
    os.utime(upper / "kept", ns=(WHOLE, WHOLE))
    (upper / "exec").write_text("#!/bin/sh\n")
    os.chmod(upper / "exec", 0o4755)
    os.chown(upper / "exec", 1000, 1000)
    os.link(upper / "new", upper / "hardlink")
    (upper / "link").symlink_to("new")
    os.utime(upper / "link", ns=(FRACTION, FRACTION), follow_symlinks=False)
    os.mkfifo(upper / "fifo")
    os.mknod(upper / "gone", stat.S_IFCHR, os.makedev(0, 0))  # a deleted lower file
    replaced = upper / "replaced"
    replaced.mkdir()
    os.setxattr(replaced, "trusted.overlay.opaque", b"y")  # rm -rf + mkdir of a lower dir
    (replaced / "inside").write_text("x")
    user_opaque = upper / "user-opaque"
    user_opaque.mkdir()
    os.setxattr(user_opaque, "user.overlay.opaque", b"y")
    copied = upper / "usr" / "lib"
    copied.mkdir(parents=True, mode=0o750)
    os.chmod(copied, 0o750)
    os.setxattr(upper / "usr", "trusted.overlay.origin", b"\x00\xfb" + bytes(20))  # copy-up bookkeeping
    os.setxattr(upper / "usr", "trusted.overlay.impure", b"y")
    (copied / "data").write_bytes(os.urandom(3 * 1024 * 1024))  # a body the writer streams
    os.setxattr(copied / "data", "user.keep", b"kept")
    os.setxattr(copied / "data", "trusted.overlay.origin", b"\x00\xfb" + bytes(20))
    os.utime(copied, ns=(FRACTION, FRACTION))
    # What runc leaves for its mount points: empty dirs and files the tar drops.
    (upper / "proc").mkdir()
    (upper / "etc").mkdir()
    (upper / "etc" / "resolv.conf").write_text("")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(os.fspath(upper / "sock"))
    listener.close()
    os.utime(upper, ns=(FRACTION, FRACTION))
    os.chmod(upper, 0o700)


def test_an_adopted_upper_dir_is_the_unpacked_layer(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    make_upper(upper)
    plain = io.BytesIO()
    write_overlay_diff(upper, plain)
    fixups = SnapshotFixups()
    collected = io.BytesIO()
    write_overlay_diff(upper, collected, fixups=fixups)
    assert collected.getvalue() == plain.getvalue()  # collecting never changes the layer

    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    os.chmod(unpacked, SNAPSHOT_ROOT_MODE)  # as Snapshots.ensure makes a snapshot's root
    apply_layer_as_overlay(io.BytesIO(plain.getvalue()), unpacked)
    assert fixups.adoptable
    assert tree_state(upper) != tree_state(unpacked)
    upper_to_snapshot(upper, fixups)
    snapshots = Snapshots(SimpleNamespace(root=tmp_path / "store"))
    chain = "sha256:" + "ab" * 32
    assert snapshots.adopt(chain, upper)
    adopted = snapshots.path(chain)
    assert not upper.exists() and not list(tmp_path.glob(".snapshot-*"))
    assert tree_state(adopted) == tree_state(unpacked)
    assert os.getxattr(adopted / "user-opaque", "trusted.overlay.opaque") == b"y"
    assert not (adopted / "sock").exists() and not (adopted / "proc").exists()

    again = io.BytesIO()
    write_overlay_diff(adopted, again)
    assert again.getvalue() == plain.getvalue()  # the snapshot still diffs to the same layer
    # A second tree for the same chain is refused: the first one stays.
    other = tmp_path / "other"
    other.mkdir()
    assert not snapshots.adopt(chain, other)
    assert tree_state(adopted) == tree_state(unpacked)


def test_a_file_named_like_a_whiteout_is_not_adopted(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    upper.mkdir()
    (upper / ".wh.note").write_text("a file, but its tar entry reads as a whiteout")
    fixups = SnapshotFixups()
    write_overlay_diff(upper, io.BytesIO(), fixups=fixups)
    assert not fixups.adoptable


def test_run_steps_leave_their_upper_dirs_as_snapshots(client: Client, ctx: Path, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox\n"
        "RUN mkdir -p /data/sub && echo one > /data/sub/f && echo two > /data/g && ln /data/g /data/h "
        "&& ln -s sub/f /data/s && chmod 700 /data/sub && mkfifo /data/p\n"
        "RUN rm /data/g && rm -r /data/sub && mkdir /data/sub && echo three > /data/sub/n && chmod 4755 /bin/busybox\n"
        "RUN touch /data/stamp && cat /data/sub/n /data/h\n"
    )
    write(ctx, {"Dockerfile": dockerfile})
    result = client.build(str(ctx), tags=("bx/adopt",), no_cache=True)
    store = client.store
    diff_ids = store.image_diff_ids(result.image_id)
    assert len(diff_ids) == 4
    snapshots = Snapshots(store)
    for depth in range(2, 5):
        adopted = snapshots.path(chain_id(diff_ids[:depth]))
        assert adopted.is_dir()
        before = tree_state(adopted)
        aside = tmp_path / f"adopted-{depth}"
        shutil.move(adopted.parent, aside)
        try:
            unpacked = snapshots.ensure(chain_id(diff_ids[:depth]), diff_ids[depth - 1],
                                        lowers=list(reversed([snapshots.path(chain_id(diff_ids[:i]))
                                                              for i in range(1, depth)])))
            assert tree_state(unpacked) == before
        finally:
            shutil.rmtree(aside)
    # No container dirs or holders are left behind.
    assert not list((Path(store.root) / "runtime" / "ephemeral").iterdir())


def test_run_steps_mount_their_rootfs_volatile(client: Client, ctx: Path) -> None:
    """A step's fsyncs (dpkg makes thousands) and the unmount's syncfs make nothing durable that a
    crash would not discard anyway, so the upper dir is mounted ``volatile`` where the kernel can."""
    write(ctx, {"Dockerfile": "FROM busybox\nRUN grep ' / ' /proc/mounts > /rootfs-mount\n"})
    client.build(str(ctx), tags=("bx/volatile",), no_cache=True)
    files = image_files(client, "bx/volatile", ctx.parent)
    options = files["rootfs-mount"][4].decode()
    assert options.startswith("overlay / overlay ") and "volatile" in options, options
