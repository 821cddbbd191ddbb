"""A tar writer for archives of blobs (``save``): few, large members, copied with ``sendfile``.

Reading archives goes through the layer package's strict streaming reader (lamina.layer.tarread).
"""

from __future__ import annotations

import os
import tarfile
from typing import BinaryIO

from lamina.errors import ArchiveError

BLOCK = 512
CHUNK = 1 << 20


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
