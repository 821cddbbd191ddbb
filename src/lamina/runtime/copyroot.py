"""The copying snapshotter: RUN steps where overlayfs cannot be mounted on the store.

Some hosts cannot stack overlayfs on the store's file system (a store that is itself on
overlayfs, a kernel without it, no privilege to mount). There a step's rootfs is a private
directory: the image's layers are applied into it with the safe extractor, every path's lstat
is recorded, runc runs on it as on an overlay, and the tree is then compared with the record.
The comparison gives what overlayfs would have put in an upper dir, in the same tar encoding
(``lamina.layer.overlaydiff``): new and changed entries (any change moves ctime) with all their
parent dirs, ``.wh.<name>`` for a removed path, and an opaque dir for one that was removed and
made again (a new inode, or born after the step started when the inode number was reused).

Mount points the runtime needs are made before the record, so they are never part of the
diff (overlayfs steps drop them afterwards instead). Which snapshotter runs is chosen once per
process and store (:func:`snapshotter_for`); ``LAMINA_SNAPSHOTTER=overlay|copy`` forces one.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from lamina.errors import RuntimeError_, StoreError
from lamina.layer.apply import apply_layer
from lamina.layer.compression import decompressing_reader
from lamina.layer.overlaydiff import add_opaque_marker, add_whiteout
from lamina.layer.tarwrite import LayerTarWriter
from lamina.oci import mediatypes as mt

__all__ = ["SNAPSHOTTER_ENV", "CopyRecord", "Snapshotter", "populate", "prepare_mountpoints", "record",
           "snapshotter_for", "write_copy_diff"]

SNAPSHOTTER_ENV = "LAMINA_SNAPSHOTTER"
_CHOICES = ("overlay", "copy")

# What a path's lstat must keep for the step not to have touched it.
_Signature = tuple[int, int, int, int, int, int, int, int]
# dir rel ("" for the root) -> child name -> signature
_Tree = dict[bytes, dict[bytes, _Signature]]


@dataclass(frozen=True, slots=True)
class Snapshotter:
    """``overlay`` or ``copy``, and why (``LAMINA_SNAPSHOTTER``, or the failed probe's reason)."""

    name: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CopyRecord:
    """A rootfs as it was just before the container started."""

    tree: _Tree
    started_ns: int


_probed: dict[str, Snapshotter] = {}
_announced: set[str] = set()
_probe_lock = threading.Lock()


def snapshotter_for(store_root: Path, *, announce: bool = True) -> Snapshotter:
    """The snapshotter for RUN steps on this store: forced by the env var, else probed once.

    The probe mounts a tiny overlay with its upper dir under the store's runtime dir; when
    that fails, ``copy`` is chosen and (``announce``) one line on stderr says so and why.
    """
    forced = os.environ.get(SNAPSHOTTER_ENV, "")
    if forced:
        if forced not in _CHOICES:
            raise RuntimeError_(f"{SNAPSHOTTER_ENV}={forced!r}: the snapshotter must be overlay or copy")
        return Snapshotter(forced, f"{SNAPSHOTTER_ENV}={forced}")
    key = os.path.abspath(store_root)
    with _probe_lock:
        choice = _probed.get(key)
        if choice is None:
            from lamina.runtime import mounts

            reason = mounts.probe_overlay(Path(store_root) / "runtime" / "ephemeral")
            choice = Snapshotter("overlay") if reason is None else Snapshotter("copy", reason)
            _probed[key] = choice
        if choice.name == "copy" and announce and key not in _announced:
            _announced.add(key)
            print(f"lamina: overlay mounts do not work on this store ({choice.reason}); RUN steps use the copying "
                  f"snapshotter (slower; {SNAPSHOTTER_ENV}=overlay|copy chooses one)", file=sys.stderr)
    return choice


def populate(store: Any, diff_ids: Sequence[str], rootfs: Path) -> None:
    """Apply the layers ``diff_ids`` (bottom first) into the empty dir ``rootfs``."""
    os.chmod(rootfs, 0o755)
    for diff_id in diff_ids:
        layer = store.layer_for(diff_id)
        if layer is None:
            raise StoreError(f"layer {diff_id} is not in the store")
        with store.content.open(layer.blob_digest) as blob:
            apply_layer(decompressing_reader(blob, mt.layer_compression(layer.media_type)), rootfs,
                        same_owner=os.geteuid() == 0)


def prepare_mountpoints(rootfs: Path, spec: Mapping[str, Any], skip: Sequence[str] = ()) -> None:
    """Make the missing mount points of ``spec`` in ``rootfs``, as runc would, before the record.

    ``skip`` (VOLUME paths) are left to runc: a volume's mount point belongs in the diff. A
    destination inside another mount, or behind a symlink, is left to runc too.
    """
    root = os.fspath(rootfs)
    skipped = {os.path.normpath("/" + path) for path in skip}
    mounted: list[str] = []
    for mount in spec.get("mounts", []):
        destination = os.path.normpath("/" + mount["destination"])
        covered = any(destination.startswith(point.rstrip("/") + "/") for point in mounted)
        mounted.append(destination)
        if covered or destination in skipped or destination == "/":
            continue
        is_dir = not (mount.get("type") == "bind" and not os.path.isdir(mount.get("source", "")))
        _make_mountpoint(root, destination.lstrip("/"), is_dir)


def _make_mountpoint(root: str, rel: str, is_dir: bool) -> None:
    path = root
    parts = rel.split("/")
    for index, part in enumerate(parts):
        path = f"{path}/{part}"
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            last = index == len(parts) - 1
            if last and not is_dir:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o755))
            else:
                os.mkdir(path, 0o755)
            os.chmod(path, 0o755)
            continue
        if not stat.S_ISDIR(st.st_mode):
            return  # a symlink or a file on the way: runc resolves it itself


def record(rootfs: Path) -> CopyRecord:
    """Every path's lstat signature below ``rootfs``; the step's clock starts after it."""
    tree: _Tree = {}
    stack = [b""]
    root = os.fsencode(rootfs)
    while stack:
        rel = stack.pop()
        children: dict[bytes, _Signature] = {}
        with os.scandir(root + b"/" + rel if rel else root) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                children[entry.name] = _signature(st)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(rel + b"/" + entry.name if rel else entry.name)
        tree[rel] = children
    return CopyRecord(tree, time.time_ns())


def write_copy_diff(rootfs: Path, before: CopyRecord, out: BinaryIO, *, mtime_clamp: int | None = None) -> None:
    """Write what changed in ``rootfs`` since ``before`` as a layer tar, as an overlay upper dir would
    (``mtime_clamp``: SOURCE_DATE_EPOCH, no mtime newer)."""
    writer = LayerTarWriter(out, mtime_clamp=mtime_clamp)
    for _, change in sorted(_changes(os.fsencode(rootfs), before).items()):
        change(writer)
    writer.close()


# -- internals ---------------------------------------------------------------------------------

_Change = Callable[[LayerTarWriter], None]


def _changes(root: bytes, before: CopyRecord) -> dict[tuple[bytes, ...], _Change]:
    """The tar entries of the diff, keyed by path components (sorted, that is tar order).

    A walk without recursion (trees may be deeper than Python's stack): a dir whose record is
    None is new or opaque, so everything in it is new and nothing in it is whited out. Dirs
    that did not change themselves are added at the end, above what changed in them.
    """
    changes: dict[tuple[bytes, ...], _Change] = {}
    dirs: dict[bytes, tuple[bytes, os.stat_result]] = {b"": (root, os.lstat(root))}
    stack: list[tuple[bytes, dict[bytes, _Signature] | None]] = [(b"", before.tree.get(b"", {}))]
    while stack:
        rel, old_children = stack.pop()
        path, dir_st = dirs[rel]
        current = {name: os.lstat(path + b"/" + name) for name in os.listdir(path)}
        for name in old_children or ():
            if name not in current:
                changes[_key(rel, name)] = _whiteout(_join(rel, name), dir_st)
        for name, st in current.items():
            child_rel, child_path = _join(rel, name), path + b"/" + name
            old = None if old_children is None else old_children.get(name)
            if not stat.S_ISDIR(st.st_mode):
                if old is None or _signature(st) != old:
                    changes[_key(rel, name)] = _add(child_rel, child_path, st)
                continue
            dirs[child_rel] = (child_path, st)
            opaque = old is not None and _remade(child_path, st, old, before.started_ns)
            if old is None or opaque or _signature(st) != old:
                changes[_key(rel, name)] = _add(child_rel, child_path, st, opaque=opaque)
            stack.append((child_rel, None if old is None or opaque else before.tree.get(child_rel, {})))
    for key in list(changes):
        for depth in range(1, len(key)):
            parent = key[:depth]
            if parent not in changes:
                parent_path, parent_st = dirs[b"/".join(parent)]
                changes[parent] = _add(b"/".join(parent), parent_path, parent_st)
    return changes


def _key(rel: bytes, name: bytes) -> tuple[bytes, ...]:
    return (*rel.split(b"/"), name) if rel else (name,)


def _join(rel: bytes, name: bytes) -> bytes:
    return rel + b"/" + name if rel else name


def _remade(path: bytes, st: os.stat_result, old: _Signature, started_ns: int) -> bool:
    """True if the dir at ``path`` replaced what was there before (overlayfs makes it opaque)."""
    if not stat.S_ISDIR(old[0]) or old[6] != st.st_ino:
        return True
    if old[5] == st.st_ctime_ns:
        return False  # untouched: not even its entries changed
    born = _birth_ns(path)
    return born is not None and born >= started_ns  # a reused inode number


def _add(rel: bytes, path: bytes, st: os.stat_result, *, opaque: bool = False) -> _Change:
    def add(writer: LayerTarWriter) -> None:
        writer.add(rel, path, st)
        if opaque:  # the marker comes right after its dir, before what is in it
            add_opaque_marker(writer, rel, st)

    return add


def _whiteout(rel: bytes, parent: os.stat_result) -> _Change:
    """overlayfs makes whiteouts as the mounter (root); at the top the root's mtime stands in for
    the removal's time, which only overlayfs knows."""
    return lambda writer: add_whiteout(writer, rel, uid=0, gid=0, stamp=parent)


def _signature(st: os.stat_result) -> _Signature:
    return (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_rdev)


# statx(2): the only way to a file's birth time from Python 3.11 on Linux.
_AT_FDCWD = -100
_AT_SYMLINK_NOFOLLOW = 0x100
_STATX_BTIME = 0x800
_STATX_SIZE = 256
_BTIME_OFFSET = 80
_statx: Any = None


def _birth_ns(path: bytes) -> int | None:
    """The birth time of ``path`` in ns, or None where the kernel or file system has none."""
    global _statx
    if _statx is None:
        libc = ctypes.CDLL(None, use_errno=True)
        _statx = getattr(libc, "statx", False)
        if _statx:
            _statx.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p)
    if not _statx:
        return None
    buffer = ctypes.create_string_buffer(_STATX_SIZE)
    if _statx(_AT_FDCWD, path, _AT_SYMLINK_NOFOLLOW, _STATX_BTIME, buffer) != 0:
        return None
    mask = int.from_bytes(buffer.raw[0:4], sys.byteorder)
    if not mask & _STATX_BTIME:
        return None
    seconds = int.from_bytes(buffer.raw[_BTIME_OFFSET:_BTIME_OFFSET + 8], sys.byteorder, signed=True)
    nanos = int.from_bytes(buffer.raw[_BTIME_OFFSET + 8:_BTIME_OFFSET + 12], sys.byteorder)
    return seconds * 1_000_000_000 + nanos
