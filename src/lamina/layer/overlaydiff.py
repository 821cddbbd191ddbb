"""Layer tars from an overlayfs upper directory (what a RUN step or a container changed).

overlayfs already recorded the diff: new and changed files are in the upper dir, a deleted path is
a 0/0 character device, and a directory that replaced a lower one carries
``trusted.overlay.opaque=y``. This turns those into OCI whiteouts (``.wh.<name>`` and
``<dir>/.wh..wh..opq``) with the same deterministic encoding as ``write_dir_tar``.

The runtime leaves traces that are not the step's work: runc creates missing mount points
(``/proc``, ``/sys``, ``/dev``, ``/etc/resolv.conf``…) in the rootfs, so they land in the upper
dir. Those are dropped when they are empty and absent from the lower layers, and so is an
``/etc`` or ``/dev`` that only holds such mount points (created or merely copied up for them).

A build's next step needs the new layer unpacked (a snapshot, see ``lamina.store.snapshots``).
The upper dir already is that tree, up to what the tar leaves out or rounds: while writing the
tar, ``SnapshotFixups`` records those differences, and :func:`upper_to_snapshot` removes them, so
the upper dir can be adopted as the snapshot instead of unpacking the tar it just became.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lamina.errors import LayerError
from lamina.layer.tarwrite import LayerTarWriter, TreeWalk, read_xattrs

__all__ = ["SnapshotFixups", "add_opaque_marker", "add_whiteout", "upper_to_snapshot", "write_overlay_diff"]

_WHITEOUT_PREFIX = b".wh."
_OPAQUE_MARKER = b".wh..wh..opq"
_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
# Present when the mount used redirect_dir or metacopy: the upper dir alone is then not the diff.
_UNSUPPORTED_XATTRS = (
    "trusted.overlay.redirect", "trusted.overlay.metacopy", "user.overlay.redirect", "user.overlay.metacopy",
)

# Mount points an OCI runtime creates in a rootfs that lacks them (docker's default mounts).
_MOUNTPOINTS = frozenset((b"proc", b"sys", b"dev", b".dockerenv", b"etc/resolv.conf", b"etc/hosts", b"etc/hostname"))
_MOUNTPOINT_PARENTS = frozenset((b"etc", b"dev"))


@dataclass(slots=True)
class SnapshotFixups:
    """How an upper dir differs from its layer tar unpacked in overlay form (a snapshot).

    Filled by :func:`write_overlay_diff`; ``adoptable`` is False when the tar would not unpack
    to this tree at all (a file whose name starts with ``.wh.`` is read back as a whiteout).
    """

    removed: list[bytes] = field(default_factory=list)  # left out of the tar (runtime mount points, sockets)
    xattrs: list[tuple[bytes, str]] = field(default_factory=list)  # (rel, name) the tar does not carry
    opaque: list[bytes] = field(default_factory=list)  # dirs marked opaque by a user.overlay xattr
    mtimes: dict[bytes, int] = field(default_factory=dict)  # rel -> the whole seconds the tar records
    adoptable: bool = True


def write_overlay_diff(
    upper: Path,
    out: BinaryIO,
    *,
    lowers: Sequence[Path] = (),
    skip_mountpoints: bool = True,
    mtime_clamp: int | None = None,
    fixups: SnapshotFixups | None = None,
) -> None:
    """Write the changes recorded in the overlayfs ``upper`` dir to ``out`` as a layer tar.

    ``lowers`` are the mount's lower dirs, topmost first; they decide whether a runtime mount
    point already existed in the image (then it is kept). The mount must not have used
    ``redirect_dir`` or ``metacopy`` (LayerError if it did). ``fixups``, when given, collects
    what :func:`upper_to_snapshot` needs (``mtime_clamp`` then makes the upper dir unadoptable).
    """
    lower_roots = [os.fsencode(lower) for lower in lowers]
    writer = LayerTarWriter(out, mtime_clamp=mtime_clamp)
    walk = TreeWalk(os.fsencode(upper))
    left_out: list[str] | None = None
    if fixups is not None and mtime_clamp is not None:
        fixups.adoptable = False
    for rel, path, st in walk:
        if skip_mountpoints and _is_runtime_mountpoint(rel, path, st, lower_roots):
            walk.skip_children()
            if fixups is not None:
                fixups.removed.append(rel)
                if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                    fixups.adoptable = False  # its other names stay, with a link count the tar cannot give
            continue
        mode = st.st_mode
        if stat.S_ISCHR(mode) and st.st_rdev == 0:
            # The mtime of the dir it is in, unless that is the root: the tar has no entry for it.
            stamp = os.lstat(path.rpartition(b"/")[0]) if b"/" in rel else st
            add_whiteout(writer, rel, uid=st.st_uid, gid=st.st_gid, stamp=stamp)
            name = rel.rpartition(b"/")[2]
            if fixups is not None and name.startswith(_WHITEOUT_PREFIX):
                fixups.adoptable = False  # ".wh..wh.x" may unpack as something else
            continue
        if fixups is not None:
            left_out = []
            if stat.S_ISSOCK(mode):
                fixups.removed.append(rel)  # the tar writer skips sockets
                continue
            if rel.rpartition(b"/")[2].startswith(_WHITEOUT_PREFIX):
                fixups.adoptable = False
            if st.st_mtime_ns % 1_000_000_000 or stat.S_ISDIR(mode):
                fixups.mtimes[rel] = _seconds(st)
        xattrs = read_xattrs(path, include_overlay=True, left_out=left_out)
        opaque = stat.S_ISDIR(mode) and any(xattrs.get(name) == b"y" for name in _OPAQUE_XATTRS)
        if any(name in xattrs for name in _UNSUPPORTED_XATTRS):
            raise LayerError(
                f"overlay upper dir {os.fsdecode(path)} uses redirect_dir/metacopy; "
                "mount with redirect_dir=off,metacopy=off to take a layer diff"
            )
        writer.add(rel, path, st, xattrs={k: v for k, v in xattrs.items() if not _is_overlay_xattr(k)})
        if opaque:
            add_opaque_marker(writer, rel, st)
        if fixups is not None:
            _note_xattrs(fixups, rel, xattrs, left_out or [], opaque)
    writer.close()


def add_whiteout(writer: LayerTarWriter, rel: bytes, *, uid: int, gid: int, stamp: os.stat_result) -> None:
    """``.wh.<name>`` for the removed ``rel``, with the mtime of ``stamp``.

    Callers pass the stat of the dir it is in (also an entry of the layer), so the marker does
    not depend on when the removal happened: the overlay and the copying snapshotter agree.
    """
    directory, _, name = rel.rpartition(b"/")
    whiteout = (directory + b"/" if directory else b"") + _WHITEOUT_PREFIX + name
    writer.add_empty_file(whiteout, mode=0o600, uid=uid, gid=gid, mtime=_seconds(stamp))


def add_opaque_marker(writer: LayerTarWriter, rel: bytes, st: os.stat_result) -> None:
    """``<rel>/.wh..wh..opq`` for the opaque dir ``rel`` (``st``), with the dir's owner and mtime."""
    writer.add_empty_file(rel + b"/" + _OPAQUE_MARKER, mode=stat.S_IMODE(st.st_mode) & 0o777,
                          uid=st.st_uid, gid=st.st_gid, mtime=_seconds(st))


def upper_to_snapshot(upper: Path, fixups: SnapshotFixups) -> None:
    """Make the (unmounted) ``upper`` dir what unpacking its layer tar in overlay form makes.

    Removes what the tar left out, keeps only ``trusted.overlay.opaque`` of overlayfs' xattrs,
    rounds mtimes with a fraction (and those of dirs, which the removals touch) down to the
    tar's whole seconds, and clears the root's xattrs. Call it only after the tar was written
    with the same ``fixups`` and only if ``fixups.adoptable``.
    """
    if not fixups.adoptable:
        raise ValueError("this upper dir does not unpack from its tar as it is")
    root = os.fsencode(upper)
    for rel in reversed(fixups.removed):
        path = root + b"/" + rel
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    for rel, name in fixups.xattrs:
        os.removexattr(root + b"/" + rel, name, follow_symlinks=False)
    for rel in fixups.opaque:
        os.setxattr(root + b"/" + rel, _OPAQUE_XATTRS[0], b"y", follow_symlinks=False)
    for rel, seconds in fixups.mtimes.items():
        ns = seconds * 1_000_000_000
        os.utime(root + b"/" + rel, ns=(ns, ns), follow_symlinks=False)
    for name in os.listxattr(root):  # the tar has no entry for the root: its mode is the store's choice
        os.removexattr(root, name)


def _note_xattrs(fixups: SnapshotFixups, rel: bytes, xattrs: dict[str, bytes], left_out: list[str],
                 opaque: bool) -> None:
    """Record the xattrs of ``rel`` its unpacked form would not have, and a missing opaque mark.

    Unpacking gives an opaque dir ``trusted.overlay.opaque=y`` and no other overlay xattr
    (``origin``, ``impure``… are this mount's bookkeeping).
    """
    keep = _OPAQUE_XATTRS[0] if opaque and xattrs.get(_OPAQUE_XATTRS[0]) == b"y" else None
    drop = [*left_out, *(name for name in xattrs if _is_overlay_xattr(name) and name != keep)]
    fixups.xattrs.extend((rel, name) for name in drop)
    if opaque and keep is None:
        fixups.opaque.append(rel)


def _seconds(st: os.stat_result) -> int:
    return st.st_mtime_ns // 1_000_000_000


def _is_overlay_xattr(name: str) -> bool:
    return name.startswith(("trusted.overlay.", "user.overlay."))


def _is_runtime_mountpoint(rel: bytes, path: bytes, st: os.stat_result, lowers: list[bytes]) -> bool:
    """True when ``rel`` holds only what the runtime created to mount over, and the image never had."""
    is_mountpoint = rel in _MOUNTPOINTS or rel.startswith(b"dev/")
    if not is_mountpoint and rel not in _MOUNTPOINT_PARENTS:
        return False
    mode = st.st_mode
    if stat.S_ISREG(mode):
        if st.st_size != 0 or not is_mountpoint:
            return False
        return _lower_lstat(rel, lowers) is None
    if not stat.S_ISDIR(mode):
        return False
    if any(read_xattrs(path, include_overlay=True).get(name) == b"y" for name in _OPAQUE_XATTRS):
        return False  # the step deleted and recreated it: that is content
    children = sorted(os.listdir(path))
    for child in children:
        child_rel = rel + b"/" + child
        child_path = path + b"/" + child
        if not _is_runtime_mountpoint(child_rel, child_path, os.lstat(child_path), lowers):
            return False
    lower = _lower_lstat(rel, lowers)
    if lower is None:
        # An empty /etc the runtime did not need is the step's own mkdir; /proc etc. are not.
        return is_mountpoint or bool(children)
    # Copied up only because a mount point was created inside: nothing of its own changed
    # (its mtime did, by that very creation).
    return (
        bool(children) and rel in _MOUNTPOINT_PARENTS and stat.S_ISDIR(lower.st_mode)
        and stat.S_IMODE(lower.st_mode) == stat.S_IMODE(mode)
        and (lower.st_uid, lower.st_gid) == (st.st_uid, st.st_gid)
    )


def _lower_lstat(rel: bytes, lowers: list[bytes]) -> os.stat_result | None:
    """What the merged lower layers show at ``rel`` (None if nothing), as overlayfs looks it up."""
    parts = rel.split(b"/")
    for lower in lowers:
        path = lower
        for depth, part in enumerate(parts):
            path = path + b"/" + part
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                break  # not in this layer: look in the next one down
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None  # whited out here: hidden from everything below
            if depth == len(parts) - 1:
                return st
            if not stat.S_ISDIR(st.st_mode):
                return None  # a file shadows the directory of lower layers
            if any(_xattr(path, name) == b"y" for name in _OPAQUE_XATTRS):
                # Opaque: lower layers are hidden below this point; keep looking in this one only.
                return _lstat_within(path, parts[depth + 1:])
    return None


def _lstat_within(base: bytes, parts: list[bytes]) -> os.stat_result | None:
    try:
        st = os.lstat(base + b"/" + b"/".join(parts))
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return None
    return st


def _xattr(path: bytes, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None
