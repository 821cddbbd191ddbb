"""A minimal streaming tar reader and writer for archives of blobs.

tarfile's stream mode copies through 10 KiB buffers; archives here are a few large members,
so we parse headers ourselves (with tarfile's header decoder) and move bodies in 1 MiB reads,
or with ``sendfile`` when both ends are real files.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from lamina.errors import ArchiveError

BLOCK = 512
CHUNK = 1 << 20


@dataclass(slots=True)
class Member:
    name: str
    type: bytes
    size: int
    linkname: str


class TarReader:
    """Iterates members; the caller must read (or skip) each body before the next member."""

    def __init__(self, stream: BinaryIO, what: str = "archive", *, allow_empty: bool = False):
        self.stream = stream
        self.allow_empty = allow_empty
        self.what = what
        self._remaining = 0  # body bytes of the current member not yet read
        self._padding = 0
        self.seen_any = False

    def _read_exact(self, size: int) -> bytes:
        parts, missing = [], size
        while missing:
            chunk = self.stream.read(missing)
            if not chunk:
                raise ArchiveError(f"{self.what} is truncated: unexpected end of data")
            parts.append(chunk)
            missing -= len(chunk)
        return b"".join(parts) if len(parts) != 1 else parts[0]

    def members(self) -> Iterator[Member]:
        pax: dict[str, str] = {}
        long_name = long_link = None
        while True:
            self.skip_body()
            header = self.stream.read(BLOCK)
            if len(header) < BLOCK:
                header += self._read_exact(BLOCK - len(header)) if header else b""
            if not header:
                if not self.seen_any and not self.allow_empty:
                    raise ArchiveError(f"{self.what} is empty or not a tar archive")
                return  # EOF without end blocks: accepted like GNU tar
            if header == b"\0" * BLOCK:
                if not self.seen_any and not self.allow_empty:
                    raise ArchiveError(f"{self.what} is not a tar archive (starts with an empty block)")
                return
            try:
                info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
            except tarfile.HeaderError as exc:
                raise ArchiveError(f"{self.what} is corrupt or not a tar archive ({exc})") from None
            self.seen_any = True
            self._remaining = info.size
            self._padding = -info.size % BLOCK
            kind = info.type
            if kind in (tarfile.XHDTYPE, tarfile.XGLTYPE, b"x", b"g"):
                body = self.read_body()
                if kind in (tarfile.XHDTYPE, b"x"):
                    pax.update(_parse_pax(body, self.what))
                continue
            if kind == tarfile.GNUTYPE_LONGNAME:
                long_name = self.read_body().rstrip(b"\0").decode("utf-8", "surrogateescape")
                continue
            if kind == tarfile.GNUTYPE_LONGLINK:
                long_link = self.read_body().rstrip(b"\0").decode("utf-8", "surrogateescape")
                continue
            name = pax.get("path") or long_name or info.name
            linkname = pax.get("linkpath") or long_link or info.linkname
            if "size" in pax:
                self._remaining = int(pax["size"])
                self._padding = -self._remaining % BLOCK
            pax, long_name, long_link = {}, None, None
            if kind in (tarfile.LNKTYPE, tarfile.SYMTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE,
                        tarfile.FIFOTYPE):
                self._remaining = 0 if kind != tarfile.LNKTYPE else self._remaining
            yield Member(name, kind, self._remaining, linkname)

    def read_body(self) -> bytes:
        data = self._read_exact(self._remaining) if self._remaining else b""
        self._remaining = 0
        self._skip_padding()
        return data

    def iter_body(self) -> Iterator[bytes]:
        while self._remaining:
            chunk = self.stream.read(min(CHUNK, self._remaining))
            if not chunk:
                raise ArchiveError(f"{self.what} is truncated: unexpected end of data")
            self._remaining -= len(chunk)
            yield chunk
        self._skip_padding()

    def skip_body(self) -> None:
        if self._remaining and self._seekable():
            self.stream.seek(self._remaining, os.SEEK_CUR)
            self._remaining = 0
            self._skip_padding()
            return
        for _ in self.iter_body():
            pass

    def _seekable(self) -> bool:
        try:
            return bool(self.stream.seekable())
        except (AttributeError, ValueError):
            return False

    def _skip_padding(self) -> None:
        if self._padding:
            self._read_exact(self._padding)
            self._padding = 0


def _parse_pax(body: bytes, what: str) -> dict[str, str]:
    records: dict[str, str] = {}
    position = 0
    while position < len(body):
        space = body.find(b" ", position)
        if space < 0:
            break
        try:
            length = int(body[position:space])
        except ValueError:
            raise ArchiveError(f"{what} has a corrupt PAX header") from None
        if length <= 0:
            raise ArchiveError(f"{what} has a corrupt PAX header")
        record = body[space + 1 : position + length - 1]
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        position += length
    return records


class TarWriter:
    """Writes a deterministic archive: fixed mtime, root owner, ustar/PAX headers."""

    def __init__(self, out: BinaryIO, mtime: int = 0):
        self.out = out
        self.mtime = mtime
        try:
            self._out_fd = out.fileno()
            os.fstat(self._out_fd)
        except (AttributeError, OSError, ValueError):
            self._out_fd = None
        self._dirs: set[str] = set()

    def _header(self, name: str, size: int, kind: bytes, mode: int) -> bytes:
        info = tarfile.TarInfo(name)
        info.size, info.type, info.mode, info.mtime = size, kind, mode, self.mtime
        info.uname = info.gname = ""
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    def add_dir(self, name: str) -> None:
        name = name.rstrip("/") + "/"
        if name in self._dirs:
            return
        self._dirs.add(name)
        self._write(self._header(name, 0, tarfile.DIRTYPE, 0o755))

    def add_parents(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.add_dir("/".join(parts[:i]))

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._write(self._header(name, len(data), tarfile.REGTYPE, mode))
        self._write(data)
        self._pad(len(data))

    def add_file(self, name: str, path: str | os.PathLike, size: int | None = None, mode: int = 0o644) -> None:
        """Copy a file's bytes into the archive (sendfile when possible)."""
        with open(path, "rb") as source:
            if size is None:
                size = os.fstat(source.fileno()).st_size
            self._write(self._header(name, size, tarfile.REGTYPE, mode))
            self._copy(source, size)
        self._pad(size)

    def add_stream(self, name: str, stream: BinaryIO, size: int, mode: int = 0o644) -> None:
        self._write(self._header(name, size, tarfile.REGTYPE, mode))
        copied = 0
        while copied < size:
            chunk = stream.read(min(CHUNK, size - copied))
            if not chunk:
                raise ArchiveError(f"{name}: source ended after {copied} of {size} bytes")
            self._write(chunk)
            copied += len(chunk)
        self._pad(size)

    def close(self) -> None:
        self._write(b"\0" * (BLOCK * 2))
        if hasattr(self.out, "flush"):
            self.out.flush()

    def _copy(self, source: BinaryIO, size: int) -> None:
        if self._out_fd is not None:
            self.out.flush()
            offset = 0
            while offset < size:
                sent = os.sendfile(self._out_fd, source.fileno(), offset, min(size - offset, 1 << 30))
                if sent == 0:
                    raise ArchiveError("blob ended early while writing the archive")
                offset += sent
            return
        copied = 0
        while copied < size:
            chunk = source.read(min(CHUNK, size - copied))
            if not chunk:
                raise ArchiveError("blob ended early while writing the archive")
            self._write(chunk)
            copied += len(chunk)

    def _pad(self, size: int) -> None:
        if size % BLOCK:
            self._write(b"\0" * (BLOCK - size % BLOCK))

    def _write(self, data: bytes) -> None:
        self.out.write(data)
