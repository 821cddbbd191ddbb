"""Compression of layers and archives: detection by magic bytes, streaming (de)compressors.

gzip goes through isal (≈6× stdlib zlib, deterministic header); stdlib zlib is the fallback.
zstd through zstandard; bzip2 and xz through the stdlib (only met in `import` and `ADD`).
"""

from __future__ import annotations

import io
from typing import BinaryIO

from lamina.errors import ArchiveError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"


def detect_compression(head: bytes) -> str:
    """'gzip', 'zstd', 'bzip2', 'xz' or '' (plain) from the first bytes of a stream."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(BZIP2_MAGIC):
        return "bzip2"
    if head.startswith(XZ_MAGIC):
        return "xz"
    return ""


class PeekableReader(io.RawIOBase):
    """Lets us look at a stream's first bytes (for magic numbers) and still read it whole."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._buffer = b""

    def peek(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self._stream.read(size - len(self._buffer))
            if not chunk:
                break
            self._buffer += chunk
        return self._buffer[:size]

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._buffer:
            if size < 0:
                data, self._buffer = self._buffer + self._stream.read(), b""
                return data
            data, self._buffer = self._buffer[:size], self._buffer[size:]
            return data
        return self._stream.read(size)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_decompressed(stream: BinaryIO) -> tuple[BinaryIO, str]:
    """Wrap ``stream`` so reads return plain bytes whatever the compression; returns (reader, kind)."""
    peekable = PeekableReader(stream)
    kind = detect_compression(peekable.peek(6))
    return decompressing_reader(peekable, kind), kind


def decompressing_reader(stream: BinaryIO, kind: str) -> BinaryIO:
    if kind == "":
        return stream  # type: ignore[return-value]
    if kind == "gzip":
        return GzipReader(stream)
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(stream, read_size=1 << 20)  # type: ignore[return-value]
    if kind == "bzip2":
        import bz2

        return bz2.BZ2File(stream)  # type: ignore[return-value]
    if kind == "xz":
        import lzma

        return lzma.LZMAFile(stream)  # type: ignore[return-value]
    raise ArchiveError(f"unsupported compression {kind!r}")


class GzipReader(io.RawIOBase):
    """Streaming gzip decompression through zlib objects (2× faster than GzipFile.read).

    Handles concatenated gzip members, as pigz and some registries produce them.
    """

    def __init__(self, stream: BinaryIO, chunk: int = 1 << 20):
        try:
            from isal import isal_zlib as zlib_module
        except ImportError:  # pragma: no cover - isal ships wheels for our platforms
            import zlib as zlib_module
        self._zlib = zlib_module
        self._stream = stream
        self._chunk = chunk
        self._decompressor = zlib_module.decompressobj(31)
        self._pending = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(1 << 20):
                parts.append(chunk)
            return b"".join(parts)
        while not self._pending and not self._eof:
            self._fill()
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _fill(self) -> None:
        decompressor = self._decompressor
        if decompressor.eof:
            rest = decompressor.unused_data
            if not rest:
                rest = self._stream.read(self._chunk)
            if not rest or not rest.strip(b"\x00"):
                self._eof = True  # trailing zero padding after the last member is allowed
                return
            self._decompressor = decompressor = self._zlib.decompressobj(31)
            self._pending = decompressor.decompress(rest)
            return
        compressed = decompressor.unconsumed_tail or self._stream.read(self._chunk)
        if not compressed:
            raise ArchiveError("unexpected end of gzip stream (truncated data)")
        try:
            self._pending = decompressor.decompress(compressed)
        except Exception as exc:
            raise ArchiveError(f"corrupt gzip data: {exc}") from None


def gzip_compressor(level: int = 1):
    """A compressobj writing a gzip stream with a fixed header (mtime 0): deterministic bytes."""
    try:
        from isal import isal_zlib

        return isal_zlib.compressobj(min(level, 3), isal_zlib.DEFLATED, 31)
    except ImportError:  # pragma: no cover
        import zlib

        return zlib.compressobj(level, zlib.DEFLATED, 31)


def zstd_compressor(level: int = 3):
    import zstandard

    return zstandard.ZstdCompressor(level=level).compressobj()
