"""A COPY/ADD layer streamed into the content store, learning each file's content digest on the way.

The headers are lamina's deterministic ones (``encode_header``, as every lamina layer has); what
this writer adds over ``LayerTarWriter`` is that it hashes each file's bytes while it copies them
into the blob, so a ``--no-cache`` build reads every source file once: the ``dir:…`` checksum in
the step's history comes from these digests instead of a second pass over the files.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable

from lamina.errors import LayerError
from lamina.layer.sink import ThreadedSink
from lamina.layer.tarwrite import encode_header, read_xattrs
from lamina.store.content import BlobWriter

BLOCK = 512
_FLUSH_AT = 1 << 20
_CHUNK = 1 << 20
_TYPES = {stat.S_IFDIR: b"5", stat.S_IFLNK: b"2", stat.S_IFCHR: b"3", stat.S_IFBLK: b"4", stat.S_IFIFO: b"6"}


class LayerStream:
    """Writes tar members to ``blob``; ``digests`` maps each copied host file to its sha256 (hex)."""

    def __init__(self, blob: BlobWriter | ThreadedSink, *, mtime_clamp: int | None = None):
        self.blob = blob
        self.mtime_clamp = mtime_clamp  # SOURCE_DATE_EPOCH: no member is newer than it
        self.digests: dict[str, str] = {}
        self._buffer = bytearray()
        self._links: dict[tuple[int, int, int], bytes] = {}

    def add(self, name: str, host: str | None, info: os.stat_result, *, keep_xattrs: bool, link_group: int = 0) -> None:
        """Member ``name`` with the header fields of ``info``; bytes and link targets come from ``host``.

        A file whose inode an earlier member of the same ``link_group`` had becomes a hard link to it."""
        mode = info.st_mode
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFSOCK:
            return
        xattrs = read_xattrs(os.fsencode(host)) if keep_xattrs and host else {}
        member = os.fsencode(name)
        perm, mtime = stat.S_IMODE(mode), info.st_mtime_ns // 1_000_000_000
        if self.mtime_clamp is not None:
            mtime = min(mtime, self.mtime_clamp)
        if kind == stat.S_IFDIR:
            self._header(member + b"/", b"5", perm, info, 0, mtime, xattrs=xattrs)
            return
        if info.st_nlink > 1 and host is not None:
            first = self._links.get((link_group, info.st_dev, info.st_ino))
            if first is not None:
                self._header(member, b"1", perm, info, 0, mtime, linkname=first, xattrs=xattrs)
                return
            self._links[(link_group, info.st_dev, info.st_ino)] = member
        if kind == stat.S_IFREG:
            assert host is not None
            self._header(member, b"0", perm, info, info.st_size, mtime, xattrs=xattrs)
            self._body(host, info.st_size)
        elif kind == stat.S_IFLNK:
            assert host is not None
            self._header(member, b"2", perm, info, 0, mtime, linkname=os.fsencode(os.readlink(host)), xattrs=xattrs)
        else:
            self._header(member, _TYPES[kind], perm, info, 0, mtime, xattrs=xattrs,
                         devmajor=os.major(info.st_rdev), devminor=os.minor(info.st_rdev))

    def close(self) -> None:
        self._buffer += bytes(2 * BLOCK)
        self._flush()

    def _header(self, name: bytes, typeflag: bytes, perm: int, info: os.stat_result, size: int, mtime: int,
                **fields) -> None:
        self._buffer += encode_header(name, typeflag, perm, info.st_uid, info.st_gid, size, mtime, **fields)
        if len(self._buffer) >= _FLUSH_AT:
            self._flush()

    def _body(self, host: str, size: int) -> None:
        digest = hashlib.sha256()
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            left = size
            if size <= _CHUNK:
                data = os.read(fd, size)
                while len(data) < size:
                    more = os.read(fd, size - len(data))
                    if not more:
                        break
                    data += more
                left -= len(data)
                digest.update(data)
                self._buffer += data
            else:
                self._flush()
                while left:
                    chunk = os.read(fd, min(left, _CHUNK))
                    if not chunk:
                        break
                    left -= len(chunk)
                    digest.update(chunk)
                    self.blob.write(chunk)
            if left:
                raise LayerError(f"{host} shrank while it was copied")
        finally:
            os.close(fd)
        self.digests[host] = digest.hexdigest()
        self._buffer += bytes(-size % BLOCK)
        if len(self._buffer) >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self.blob.write(self._buffer)
            self._buffer = bytearray()


def stream_entries(blob: BlobWriter, entries: Iterable[tuple[str, str | None, os.stat_result, bool, int]], *,
                   mtime_clamp: int | None = None) -> dict[str, str]:
    """Write ``(name, host, info, keep_xattrs, link_group)`` members and the end of the archive; returns the digests.

    ``mtime_clamp`` (SOURCE_DATE_EPOCH) caps every member's mtime, as BuildKit's rewrite-timestamp."""
    with ThreadedSink(blob) as sink:  # the blob's sha256 and write overlap reading the files
        stream = LayerStream(sink, mtime_clamp=mtime_clamp)
        for name, host, info, keep_xattrs, link_group in entries:
            stream.add(name, host, info, keep_xattrs=keep_xattrs, link_group=link_group)
        stream.close()
    return stream.digests
