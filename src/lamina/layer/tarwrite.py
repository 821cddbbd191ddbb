"""Deterministic layer tars from a directory tree.

A layer's diffID is the sha256 of its uncompressed tar, so the same tree must always give the
same bytes: entries are walked in bytewise order per directory (parents first), owners are
numeric with empty names, mtimes are whole seconds, and PAX records are only written when a
field does not fit a ustar header (plus ``SCHILY.xattr.*``). The output looks like what docker
(Go's archive/tar) writes: directories end in ``/``, no ``./`` prefix, no root entry, and the
archive ends with two zero blocks and no record padding.

File bodies are streamed with large reads (``os.sendfile`` when ``out`` is a real file or pipe);
headers and small bodies are batched into one buffer so a tree of many small files costs few
writes.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from lamina.errors import LayerError

__all__ = ["LayerTarWriter", "TreeWalk", "encode_header", "read_xattrs", "write_dir_tar"]

BLOCK = 512
_FLUSH_AT = 1 << 20
_COPY_CHUNK = 1 << 20
_END_OF_ARCHIVE = bytes(2 * BLOCK)

# Typeflags of the entries a layer can hold.
REGTYPE = b"0"
LNKTYPE = b"1"
SYMTYPE = b"2"
CHRTYPE = b"3"
BLKTYPE = b"4"
DIRTYPE = b"5"
FIFOTYPE = b"6"
XHDTYPE = b"x"

# Host-specific or overlay-internal attributes that are not part of an image's content.
_OVERLAY_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")
_EXCLUDED_XATTR_PREFIXES = (*_OVERLAY_XATTR_PREFIXES, "security.selinux")


def write_dir_tar(
    root: Path,
    out: BinaryIO,
    *,
    skip: Callable[[str], bool] | None = None,
    mtime_clamp: int | None = None,
) -> None:
    """Write the contents of ``root`` to ``out`` as a deterministic layer tar.

    ``skip`` gets each path relative to ``root`` (``"etc/hosts"``, no leading or trailing
    slash); returning True leaves the entry, and for a directory everything below it, out.
    ``mtime_clamp`` caps every mtime (SOURCE_DATE_EPOCH style) so rebuilt trees hash alike.
    """
    writer = LayerTarWriter(out, mtime_clamp=mtime_clamp)
    walk = TreeWalk(os.fsencode(root))
    for rel, path, st in walk:
        if skip is not None and skip(os.fsdecode(rel)):
            walk.skip_children()
            continue
        writer.add(rel, path, st)
    writer.close()


class TreeWalk:
    """Depth-first walk of a tree in tar order: a directory, then its entries sorted bytewise.

    Yields ``(rel, path, lstat)`` with ``rel`` relative to the root (bytes, no slashes at
    either end). The root itself is not yielded. Call ``skip_children()`` right after a
    directory was yielded to leave its contents out.
    """

    def __init__(self, root: bytes):
        if not os.path.isdir(root):
            raise LayerError(f"cannot archive {os.fsdecode(root)}: not a directory")
        self._root = root.rstrip(b"/") or b"/"
        self._skip = False

    def skip_children(self) -> None:
        self._skip = True

    def __iter__(self) -> Iterator[tuple[bytes, bytes, os.stat_result]]:
        stack: list[Iterator[bytes]] = [iter(_sorted_names(self._root))]
        prefixes: list[bytes] = [b""]
        while stack:
            name = next(stack[-1], None)
            if name is None:
                stack.pop()
                prefixes.pop()
                continue
            rel = prefixes[-1] + name
            path = self._root + b"/" + rel if self._root != b"/" else b"/" + rel
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue  # vanished while we walked: nothing to archive
            self._skip = False
            yield rel, path, st
            if stat.S_ISDIR(st.st_mode) and not self._skip:
                stack.append(iter(_sorted_names(path)))
                prefixes.append(rel + b"/")


def _sorted_names(path: bytes) -> list[bytes]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def read_xattrs(path: bytes, *, include_overlay: bool = False, left_out: list[str] | None = None) -> dict[str, bytes]:
    """The xattrs of ``path`` (not following symlinks) that belong in an image layer.

    ``include_overlay`` also returns overlayfs' own markers, for callers that interpret them;
    ``left_out`` collects the names of the others that are not returned (host-specific ones).
    """
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.ENOENT):
            return {}
        raise
    xattrs: dict[str, bytes] = {}
    for name in names:
        if name.startswith(_EXCLUDED_XATTR_PREFIXES) and not (
            include_overlay and name.startswith(_OVERLAY_XATTR_PREFIXES)
        ):
            if left_out is not None:
                left_out.append(name)
            continue
        try:
            xattrs[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.ENODATA, errno.ENOTSUP):
                raise
    return xattrs


class LayerTarWriter:
    """Streams tar entries for files on disk in docker's layer style.

    Owns the hard-link map (the first name seen for an inode carries the data, later names
    become type-1 links to it) and the output buffer. Callers decide the order of entries.
    """

    def __init__(self, out: BinaryIO, *, mtime_clamp: int | None = None):
        self._out = out
        self._mtime_clamp = mtime_clamp
        self._buf = bytearray()
        self._links: dict[tuple[int, int], bytes] = {}
        self._fd = _direct_fd(out)
        self._sendfile = self._fd is not None

    def add(self, rel: bytes, path: bytes, st: os.stat_result, *, xattrs: dict[str, bytes] | None = None) -> None:
        """Add the file at ``path`` as member ``rel``; sockets are skipped (they are not content).

        ``xattrs`` overrides what is read from disk (overlay diffs drop their own markers).
        """
        mode = st.st_mode
        if stat.S_ISSOCK(mode):
            return
        if xattrs is None:
            xattrs = read_xattrs(path)
        mtime = self._mtime(st)
        perm = stat.S_IMODE(mode)
        if stat.S_ISDIR(mode):
            self._header(rel + b"/", DIRTYPE, perm, st.st_uid, st.st_gid, 0, mtime, xattrs=xattrs)
            return
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = self._links.get(key)
            if first is not None:
                self._header(rel, LNKTYPE, perm, st.st_uid, st.st_gid, 0, mtime, linkname=first, xattrs=xattrs)
                return
            self._links[key] = rel
        if stat.S_ISREG(mode):
            self._header(rel, REGTYPE, perm, st.st_uid, st.st_gid, st.st_size, mtime, xattrs=xattrs)
            self._body(path, st.st_size)
        elif stat.S_ISLNK(mode):
            target = os.readlink(path)
            self._header(rel, SYMTYPE, perm, st.st_uid, st.st_gid, 0, mtime, linkname=target, xattrs=xattrs)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            kind = CHRTYPE if stat.S_ISCHR(mode) else BLKTYPE
            self._header(
                rel, kind, perm, st.st_uid, st.st_gid, 0, mtime, xattrs=xattrs,
                devmajor=os.major(st.st_rdev), devminor=os.minor(st.st_rdev),
            )
        elif stat.S_ISFIFO(mode):
            self._header(rel, FIFOTYPE, perm, st.st_uid, st.st_gid, 0, mtime, xattrs=xattrs)

    def add_empty_file(self, rel: bytes, *, mode: int, uid: int, gid: int, mtime: int) -> None:
        """Add a synthetic empty regular file (whiteout markers have no file on disk)."""
        self._header(rel, REGTYPE, mode, uid, gid, 0, self._clamp(mtime), xattrs={})

    def close(self) -> None:
        """End the archive: two zero blocks, like Go's archive/tar (no record padding)."""
        self._buf += _END_OF_ARCHIVE
        self._flush()
        if self._fd is None:
            flush = getattr(self._out, "flush", None)
            if flush is not None:
                flush()

    # -- internals ---------------------------------------------------------------------------

    def _mtime(self, st: os.stat_result) -> int:
        return self._clamp(st.st_mtime_ns // 1_000_000_000)

    def _clamp(self, mtime: int) -> int:
        if self._mtime_clamp is not None and mtime > self._mtime_clamp:
            return self._mtime_clamp
        return mtime

    def _header(
        self, name: bytes, typeflag: bytes, mode: int, uid: int, gid: int, size: int, mtime: int, *,
        linkname: bytes = b"", xattrs: dict[str, bytes], devmajor: int = 0, devminor: int = 0,
    ) -> None:
        self._buf += encode_header(
            name, typeflag, mode, uid, gid, size, mtime,
            linkname=linkname, xattrs=xattrs, devmajor=devmajor, devminor=devminor,
        )
        if len(self._buf) >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        if self._fd is not None:
            view = memoryview(self._buf)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            view.release()
        else:
            self._out.write(bytes(self._buf))
        self._buf.clear()

    def _body(self, path: bytes, size: int) -> None:
        """Append exactly ``size`` bytes of the file plus padding; a file that shrank is an error."""
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            if size <= _COPY_CHUNK:
                data = os.read(fd, size)
                while len(data) < size:
                    more = os.read(fd, size - len(data))
                    if not more:
                        raise LayerError(f"{os.fsdecode(path)} shrank while it was archived")
                    data += more
                self._buf += data
            else:
                self._flush()
                self._copy_large(fd, path, size)
        finally:
            os.close(fd)
        pad = -size % BLOCK
        if pad:
            self._buf += bytes(pad)
        if len(self._buf) >= _FLUSH_AT:
            self._flush()

    def _copy_large(self, fd: int, path: bytes, size: int) -> None:
        left = size
        if self._sendfile and self._fd is not None:
            try:
                while left:
                    sent = os.sendfile(self._fd, fd, size - left, min(left, 1 << 30))
                    if sent == 0:
                        raise LayerError(f"{os.fsdecode(path)} shrank while it was archived")
                    left -= sent
                return
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP) or left != size:
                    raise
                self._sendfile = False  # e.g. a socket or an fs without splice: plain copies
        while left:
            chunk = os.read(fd, min(left, _COPY_CHUNK))
            if not chunk:
                raise LayerError(f"{os.fsdecode(path)} shrank while it was archived")
            left -= len(chunk)
            if self._fd is not None:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self._fd, view):]
            else:
                self._out.write(chunk)


def _direct_fd(out: BinaryIO) -> int | None:
    """The OS file descriptor behind ``out`` when we may write to it directly (file or pipe)."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return None
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        return None
    out.flush()  # anything the caller buffered must land before our bytes
    return fd


# -- header encoding --------------------------------------------------------------------------

_NAME_LEN = 100
_PREFIX_LEN = 155
_MAX_OCTAL_8 = 0o7777777
_MAX_OCTAL_12 = 0o77777777777


def encode_header(
    name: bytes, typeflag: bytes, mode: int, uid: int, gid: int, size: int, mtime: int, *,
    linkname: bytes = b"", xattrs: dict[str, bytes] | None = None, devmajor: int = 0, devminor: int = 0,
) -> bytes:
    """One member's header blocks: a PAX extended header when needed, then the ustar header.

    Fields that fit ustar stay there (as Go does, long ASCII names are split into prefix and
    name first); the rest, and every xattr, go to PAX records, sorted by key so the bytes are
    stable.
    """
    records: dict[bytes, bytes] = {}
    split = _split_ustar_name(name)
    if split is None:
        records[b"path"] = name
        prefix, short = b"", _ascii_fallback(name, _NAME_LEN)
    else:
        prefix, short = split
    if len(linkname) > _NAME_LEN or not linkname.isascii():
        records[b"linkpath"] = linkname
        linkname = _ascii_fallback(linkname, _NAME_LEN)
    if not 0 <= uid <= _MAX_OCTAL_8:
        records[b"uid"] = b"%d" % uid
        uid = 0
    if not 0 <= gid <= _MAX_OCTAL_8:
        records[b"gid"] = b"%d" % gid
        gid = 0
    if size > _MAX_OCTAL_12:
        records[b"size"] = b"%d" % size
    if not 0 <= mtime <= _MAX_OCTAL_12:
        records[b"mtime"] = b"%d" % mtime
    if xattrs:
        for key, value in xattrs.items():
            records[b"SCHILY.xattr." + key.encode("utf-8", "surrogateescape")] = value
    header = _ustar(
        short, prefix, typeflag, mode, uid, gid, size if size <= _MAX_OCTAL_12 else 0,
        mtime if 0 <= mtime <= _MAX_OCTAL_12 else 0, linkname, devmajor, devminor,
    )
    if not records:
        return header
    payload = b"".join(_pax_record(key, records[key]) for key in sorted(records))
    directory, _, base = name.rstrip(b"/").rpartition(b"/")
    pax_name = (directory + b"/" if directory else b"") + b"PaxHeaders.0/" + base
    pax = _ustar(
        _ascii_fallback(pax_name, _NAME_LEN), b"", XHDTYPE, 0, 0, 0, len(payload), 0, b"", 0, 0
    )
    return pax + payload + bytes(-len(payload) % BLOCK) + header


def _ustar(
    name: bytes, prefix: bytes, typeflag: bytes, mode: int, uid: int, gid: int, size: int,
    mtime: int, linkname: bytes, devmajor: int, devminor: int,
) -> bytes:
    numbers = b"%07o\0%07o\0%07o\0%011o\0%011o\0" % (mode, uid, gid, size, mtime)
    devices = b"%07o\0%07o\0" % (devmajor, devminor)
    # The checksum counts its own field as spaces; summing the parts avoids a pass over 512 bytes.
    checksum = (
        _CONSTANT_SUM + sum(name) + sum(numbers) + typeflag[0] + sum(linkname) + sum(devices) + sum(prefix)
    )
    return b"".join((
        name.ljust(100, b"\0"), numbers, b"%06o\0 " % checksum, typeflag, linkname.ljust(100, b"\0"),
        _MAGIC, bytes(64), devices, prefix.ljust(155, b"\0"), bytes(12),
    ))


_MAGIC = b"ustar\x0000"
_CONSTANT_SUM = 8 * 0x20 + sum(_MAGIC)


def _split_ustar_name(name: bytes) -> tuple[bytes, bytes] | None:
    """(prefix, name) for a ustar header, or None when the name needs a PAX ``path`` record."""
    if not name.isascii():
        return None
    if len(name) <= _NAME_LEN:
        return b"", name
    # The split slash may sit at most at index 155 (prefix <= 155 bytes); a directory's own
    # trailing slash cannot be the split point.
    limit = min(len(name) - 1, _PREFIX_LEN + 1)
    cut = name.rfind(b"/", 0, limit)
    if cut <= 0 or len(name) - cut - 1 > _NAME_LEN:
        return None
    return name[:cut], name[cut + 1:]


def _ascii_fallback(value: bytes, length: int) -> bytes:
    """What old readers see in a field whose real value is in a PAX record."""
    return bytes(c if c < 0x80 else 0x5F for c in value[:length])


def _pax_record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    length = len(body) + 1
    while len(b"%d" % length) + len(body) != length:
        length += 1
    return b"%d" % length + body
