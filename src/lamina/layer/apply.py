"""Applying a layer tar onto a directory, safely.

Layers come from anywhere, so extraction assumes the tar is hostile:

* member names are cleaned like docker does (leading ``/`` stripped, ``..`` resolved
  lexically) and any name that still climbs out of the root is refused;
* every parent directory is resolved component by component *inside* the root: a symlink on
  the way is followed as if the root were ``/`` (``a -> /etc`` then ``a/passwd`` writes
  ``<root>/etc/passwd``), the way containerd and BuildKit's secure-join work; the leaf itself
  is never followed, it is replaced;
* files are created fresh (``O_CREAT|O_EXCL|O_NOFOLLOW``) after removing whatever was there, so
  nothing is ever written through an existing symlink or into a hard-linked lower inode;
* hard links must name something inside the root (it may come from a lower layer).

Whiteouts follow the OCI image-spec layer.md: ``.wh.<name>`` hides ``<name>`` from lower layers
only, and ``.wh..wh..opq`` hides every lower child of its directory whatever its position in the
tar, so the paths this layer has written are tracked and survive a late opaque marker.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lamina.errors import LayerError
from lamina.layer.tarread import TarMember, TarReader
from lamina.layer.treeremoval import discard_tree, remove_tree

__all__ = ["AppliedLayer", "LayerEntry", "apply_layer", "apply_members", "discard_tree", "list_layer", "remove_tree"]

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_AUFS_META_PREFIX = ".wh..wh."
_MAX_SYMLINK_HOPS = 40
_OVERLAY_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")

_KIND_BY_TYPE = {
    b"0": "file", b"\0": "file", b"7": "file", b"1": "hardlink", b"2": "symlink",
    b"3": "char", b"4": "block", b"5": "dir", b"6": "fifo",
}


@dataclass(frozen=True, slots=True)
class AppliedLayer:
    """What applying a layer did: members processed and file bytes written.

    ``skipped`` counts what could not be applied for lack of privilege or support (device
    nodes without ``same_owner``, xattrs the kernel or filesystem refuses): best effort, like
    docker.
    """

    entries: int
    bytes: int
    whiteouts: int = 0
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class LayerEntry:
    """One member of a layer as a reader of the image sees it (for listings and scanners)."""

    path: str
    kind: str  # file, dir, symlink, hardlink, char, block, fifo, whiteout, opaque
    size: int
    mode: int
    uid: int
    gid: int
    mtime: int
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)


def apply_layer(tar_stream: BinaryIO, target: Path, *, same_owner: bool = True) -> AppliedLayer:
    """Extract the uncompressed layer tar ``tar_stream`` onto the directory ``target``.

    ``target`` holds the lower layers already (or nothing, for a base layer). With
    ``same_owner`` (root) owners and device nodes are applied exactly; without it files belong
    to the caller and device nodes that cannot be made are skipped. xattrs the kernel refuses
    (EPERM/ENOTSUP) are skipped either way; both are counted in ``AppliedLayer.skipped``.
    Raises LayerError, naming the member, for anything unsafe or unappliable.
    """
    return _Applier(Path(target), same_owner).run(TarReader(tar_stream))


def apply_members(reader: TarReader, target: Path, *, same_owner: bool = True) -> AppliedLayer:
    """:func:`apply_layer` for a reader the caller made (ADD's renames members as docker does)."""
    return _Applier(Path(target), same_owner).run(reader)


def list_layer(tar_stream: BinaryIO) -> Iterator[LayerEntry]:
    """The members of a layer tar with cleaned paths; whiteouts are reported as such."""
    for member in TarReader(tar_stream):
        rel = clean_member_path(member.name)
        parent, _, leaf = rel.rpartition("/")
        kind = _KIND_BY_TYPE[member.type]
        path = rel
        if leaf == OPAQUE_MARKER:
            kind, path = "opaque", parent
        elif leaf.startswith(WHITEOUT_PREFIX) and not leaf.startswith(_AUFS_META_PREFIX):
            kind, path = "whiteout", posixpath.join(parent, leaf[len(WHITEOUT_PREFIX):])
        yield LayerEntry(
            path=path, kind=kind, size=member.size if kind == "file" else 0,
            mode=member.mode, uid=member.uid, gid=member.gid, mtime=member.mtime_ns // 1_000_000_000,
            linkname=clean_member_path(member.linkname) if kind == "hardlink" else member.linkname,
            devmajor=member.devmajor, devminor=member.devminor, xattrs=member.xattrs,
        )


def clean_member_path(name: str) -> str:
    """The root-relative path a member names (``""`` for the root), or LayerError if it escapes.

    Like docker: a leading ``/`` is dropped and ``..`` is resolved lexically, but a ``..`` that
    climbs above the root at any point (``a/../../x``) is an escape, not something to clamp.
    """
    if "\0" in name:
        raise LayerError(f"layer tar member {name!r}: NUL byte in path")
    if ".." in name:
        depth = 0
        for part in name.split("/"):
            if part == "..":
                depth -= 1
                if depth < 0:
                    raise LayerError(f"layer tar member {name!r} escapes the root")
            elif part and part != ".":
                depth += 1
    return posixpath.normpath("/" + name).lstrip("/")


_NS_RANGE = range(-(1 << 63), 1 << 63)


def settable_ns(mtime_ns: int) -> int:
    """An mtime ``utime`` can take: one beyond int64 nanoseconds becomes the epoch, as in docker.

    Why: a tar can say mtime=10**20 (PAX, base-256); ``os.utime`` then raises OverflowError,
    which is neither an OSError nor a LayerError and so ended ``lamina run`` in a traceback.
    """
    return mtime_ns if mtime_ns in _NS_RANGE else 0


def _in_aufs_meta_dir(parent: str) -> bool:
    return any(part.startswith(_AUFS_META_PREFIX) for part in parent.split("/"))


def hidden_name(member: TarMember, leaf: str) -> str | None:
    """The name a ``.wh.<name>`` whiteout hides; None for aufs bookkeeping entries."""
    if leaf.startswith(_AUFS_META_PREFIX):
        return None  # .wh..wh.plnk and friends: aufs metadata, not content
    hidden = leaf[len(WHITEOUT_PREFIX):]
    if hidden in ("", ".", ".."):
        raise LayerError(f"layer tar member {member.name!r}: whiteout without a name to hide")
    return hidden


class _Applier:
    def __init__(self, target: Path, same_owner: bool):
        self.root = os.path.abspath(target)
        if not os.path.isdir(self.root):
            raise LayerError(f"cannot apply a layer to {self.root}: not a directory")
        self.same_owner = same_owner
        with os.scandir(self.root) as entries:
            self.started_empty = next(entries, None) is None
        # member directory path -> real path relative to root (only real directories, no symlinks)
        self.dirs: dict[str, str] = {}
        # real root-relative paths this layer created or rewrote (whiteouts never hide these)
        self.written: set[str] = set()
        self.dir_mtimes: dict[str, int] = {}
        self.entries = 0
        self.bytes = 0
        self.whiteouts = 0
        self.skipped = 0

    def run(self, reader: TarReader) -> AppliedLayer:
        try:
            for member in reader:
                self.entries += 1
                try:
                    self._apply(member, reader)
                except LayerError:
                    raise
                except (OSError, ValueError, OverflowError) as exc:
                    reason = getattr(exc, "strerror", None) or str(exc)
                    raise LayerError(f"layer tar member {member.name!r}: cannot apply ({reason})") from exc
            self._set_dir_mtimes()
        except BaseException:
            if self.started_empty:
                self._empty_target()
            raise
        return AppliedLayer(self.entries, self.bytes, self.whiteouts, self.skipped)

    def _empty_target(self) -> None:
        """After a failure, empty a target that was empty before (best effort).

        Why: callers unpack into a fresh staging directory and delete it on failure with
        ``shutil.rmtree``, which before Python 3.12 recurses once per level: a hostile layer
        that builds a 2000-deep tree and then fails (a name just over PATH_MAX) turned that
        clean-up into a RecursionError traceback. Emptying it here with the iterative
        :func:`remove_tree` leaves them nothing deep to delete.
        """
        children: list[tuple[str, bool]] = []
        with contextlib.suppress(OSError), os.scandir(self.root) as entries:
            children = [(entry.path, entry.is_dir(follow_symlinks=False)) for entry in entries]
        for path, is_dir in children:
            with contextlib.suppress(OSError):
                if is_dir:
                    remove_tree(path)
                else:
                    os.unlink(path)

    # -- per member --------------------------------------------------------------------------

    def _apply(self, member: TarMember, reader: TarReader) -> None:
        rel = clean_member_path(member.name)
        parent, _, leaf = rel.rpartition("/")
        if leaf.startswith(WHITEOUT_PREFIX):
            self._whiteout(member, parent, leaf)
            return
        if _AUFS_META_PREFIX in parent and _in_aufs_meta_dir(parent):
            return  # contents of aufs bookkeeping dirs (.wh..wh.plnk/...) are not image content
        if not rel:
            if member.type != b"5":
                raise LayerError(f"layer tar member {member.name!r}: the root must be a directory")
            self._directory(member, "", self.root)
            return
        real_parent = self._resolve_dir(parent, member, create=True)
        assert real_parent is not None
        real = f"{real_parent}/{leaf}" if real_parent else leaf
        path = f"{self.root}/{real}"
        kind = member.type
        if kind == b"5":
            self._directory(member, real, path)
        elif member.is_regular:
            self._regular(member, reader, path)
        elif kind == b"1":
            self._hardlink(member, real, path)
        elif kind == b"2":
            self._replace(path, lambda: os.symlink(member.linkname, path))
            self._metadata(member, path, symlink=True)
        else:
            self._special(member, path)
        self.written.add(real)

    def _regular(self, member: TarMember, reader: TarReader, path: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            self._remove(path)
            fd = os.open(path, flags, 0o600)
        try:
            self.bytes += reader.copy_data_to_fd(fd)
            self._owner(member, fd)
            self._xattrs(member, fd)
            os.chmod(fd, member.mode & 0o7777)
            mtime_ns = settable_ns(member.mtime_ns)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)

    def _directory(self, member: TarMember, real: str, path: str) -> None:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                self._remove(path)
                os.mkdir(path, 0o700)
        self._owner(member, path)
        self._xattrs(member, path)
        os.chmod(path, member.mode & 0o7777, follow_symlinks=False)
        self.dir_mtimes[real] = settable_ns(member.mtime_ns)

    def _hardlink(self, member: TarMember, real: str, path: str) -> None:
        link_rel = clean_member_path(member.linkname)
        if not link_rel:
            raise LayerError(f"layer tar member {member.name!r}: hard link to the root")
        link_parent, _, link_leaf = link_rel.rpartition("/")
        real_link_parent = self._resolve_dir(link_parent, member, create=False)
        if real_link_parent is None:
            raise LayerError(f"layer tar member {member.name!r}: hard link target {member.linkname!r} does not exist")
        real_target = f"{real_link_parent}/{link_leaf}" if real_link_parent else link_leaf
        target = f"{self.root}/{real_target}"
        try:
            target_st = os.lstat(target)
        except FileNotFoundError:
            raise LayerError(
                f"layer tar member {member.name!r}: hard link target {member.linkname!r} does not exist"
            ) from None
        if stat.S_ISDIR(target_st.st_mode):
            raise LayerError(f"layer tar member {member.name!r}: hard link to directory {member.linkname!r}")
        if real_target == real:
            return  # a link to itself: already in place
        # follow_symlinks=False links the symlink itself, never what it points to.
        self._replace(path, lambda: os.link(target, path, follow_symlinks=False))

    def _special(self, member: TarMember, path: str) -> None:
        kind = member.type
        if kind == b"6":
            self._replace(path, lambda: os.mkfifo(path, 0o600))
        else:
            file_type = stat.S_IFCHR if kind == b"3" else stat.S_IFBLK
            device = os.makedev(member.devmajor, member.devminor)
            try:
                self._replace(path, lambda: os.mknod(path, file_type | 0o600, device))
            except PermissionError:
                if self.same_owner:
                    raise
                self.skipped += 1  # unprivileged: device nodes come from the runtime anyway
                return
        self._metadata(member, path, symlink=False)

    def _metadata(self, member: TarMember, path: str, *, symlink: bool) -> None:
        self._owner(member, path)
        self._xattrs(member, path)
        if not symlink:
            os.chmod(path, member.mode & 0o7777, follow_symlinks=False)
        mtime_ns = settable_ns(member.mtime_ns)
        os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    def _owner(self, member: TarMember, path: str | int) -> None:
        if not self.same_owner:
            return  # like tar --no-same-owner: everything belongs to whoever applies the layer
        if isinstance(path, int):
            os.chown(path, member.uid, member.gid)
        else:
            os.chown(path, member.uid, member.gid, follow_symlinks=False)

    def _xattrs(self, member: TarMember, path: str | int) -> None:
        for name, value in member.xattrs.items():
            if name.startswith(_OVERLAY_XATTR_PREFIXES):
                # overlayfs obeys these (redirects, opaque dirs) when the tree becomes a lower
                # dir; image content must not be able to steer it.
                self.skipped += 1
                continue
            try:
                if isinstance(path, int):
                    os.setxattr(path, name, value)
                else:
                    os.setxattr(path, name, value, follow_symlinks=False)
            except OSError as exc:
                # EPERM: user.* on a symlink or a privileged namespace without privilege;
                # ENOTSUP: the filesystem has no xattrs of that namespace.
                if exc.errno not in (errno.EPERM, errno.ENOTSUP):
                    raise
                self.skipped += 1

    # -- whiteouts ---------------------------------------------------------------------------

    def _whiteout(self, member: TarMember, parent: str, leaf: str) -> None:
        self.whiteouts += 1
        if leaf == OPAQUE_MARKER:
            real_dir = self._resolve_dir(parent, member, create=False)
            if real_dir is not None:
                self._clear_lower_children(real_dir)
            return
        hidden = hidden_name(member, leaf)
        if hidden is None:
            return
        real_dir = self._resolve_dir(parent, member, create=False)
        if real_dir is None:
            return
        real = f"{real_dir}/{hidden}" if real_dir else hidden
        if real in self.written:
            return  # a whiteout only hides lower layers, never this layer's own files
        path = f"{self.root}/{real}"
        if os.path.lexists(path):
            self._remove(path)

    def _clear_lower_children(self, real_dir: str) -> None:
        """Remove everything under ``real_dir`` that this layer did not write itself.

        A loop over a work list, not recursion: the directories this layer wrote may nest
        deeper than Python's recursion limit (a 1500-deep chain and an opaque marker above it).
        """
        todo = [real_dir]
        while todo:
            current = todo.pop()
            base = f"{self.root}/{current}" if current else self.root
            with os.scandir(base) as entries:
                children = [(entry.name, entry.path, entry.is_dir(follow_symlinks=False)) for entry in entries]
            for name, path, is_dir in children:
                real = f"{current}/{name}" if current else name
                if real not in self.written:
                    self._remove(path)
                elif is_dir:
                    todo.append(real)

    # -- filesystem helpers --------------------------------------------------------------------

    def _replace(self, path: str, create: Callable[[], object]) -> None:
        """Run ``create()``; if something is in the way, remove it (never follow it) and retry."""
        try:
            create()
        except FileExistsError:
            self._remove(path)
            create()

    def _remove(self, path: str) -> None:
        """Remove what is at ``path`` (a directory with its contents); symlinks are not followed."""
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode):
            remove_tree(path)
            self.dirs.clear()  # cached parents may have lived under it
        else:
            os.unlink(path)
            if stat.S_ISLNK(st.st_mode):
                self.dirs.clear()

    def _resolve_dir(self, rel: str, member: TarMember, *, create: bool) -> str | None:
        """The real path (relative to root) of the member directory ``rel``.

        Symlinks met on the way are resolved with the root as ``/``; missing directories are
        created (mode 0755, as docker does) when ``create``, else None is returned.
        """
        if not rel:
            return ""
        cached = self.dirs.get(rel)
        if cached is not None:
            return cached
        pending: list[str] = []
        known = rel
        while known and known not in self.dirs:
            known, _, name = known.rpartition("/")
            pending.append(name)
        real: str | None = self.dirs[known] if known else ""
        for name in reversed(pending):
            assert real is not None
            real = self._step(real, name, member, create, hops=0)
            if real is None:
                return None
            known = f"{known}/{name}" if known else name
            self.dirs[known] = real
        return real

    def _step(self, real_parent: str, name: str, member: TarMember, create: bool, hops: int) -> str | None:
        """Resolve one path component below the real directory ``real_parent``."""
        if name == "..":
            return real_parent.rpartition("/")[0]  # clamped: the root's parent is the root
        if name in ("", "."):
            return real_parent
        real = f"{real_parent}/{name}" if real_parent else name
        path = f"{self.root}/{real}"
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if not create:
                return None
            os.mkdir(path, 0o755)
            self.written.add(real)
            return real
        if stat.S_ISDIR(st.st_mode):
            return real
        if stat.S_ISLNK(st.st_mode):
            return self._follow(os.readlink(path), real_parent, member, create, hops)
        raise LayerError(f"layer tar member {member.name!r}: parent {real!r} is not a directory")

    def _follow(self, link: str, real_parent: str, member: TarMember, create: bool, hops: int) -> str | None:
        """Resolve a symlink met on the way to a member, inside the root (``/`` = the root)."""
        if hops >= _MAX_SYMLINK_HOPS:
            raise LayerError(f"layer tar member {member.name!r}: too many levels of symbolic links")
        current: str | None = "" if link.startswith("/") else real_parent
        for part in link.split("/"):
            assert current is not None
            current = self._step(current, part, member, create, hops + 1)
            if current is None:
                return None
        return current

    def _set_dir_mtimes(self) -> None:
        """Directory mtimes go last: creating children would change them again."""
        for real, mtime_ns in self.dir_mtimes.items():
            path = f"{self.root}/{real}" if real else self.root
            try:
                st = os.lstat(path)
                keep = stat.S_ISDIR(st.st_mode) and (not real or self._is_real_dir(real))
            except (FileNotFoundError, NotADirectoryError):
                continue
            # A later member may have replaced the directory (or one of its parents) with a
            # symlink; only touch what is still a real directory reached without symlinks.
            if keep:
                os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    def _is_real_dir(self, real: str) -> bool:
        parent = real.rpartition("/")[0]
        while parent:
            if not stat.S_ISDIR(os.lstat(f"{self.root}/{parent}").st_mode):
                return False
            parent = parent.rpartition("/")[0]
        return True
