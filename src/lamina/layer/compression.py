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


def open_decompressed(stream: BinaryIO, *, what: str = "") -> tuple[BinaryIO, str]:
    """Wrap ``stream`` so reads return plain bytes whatever the compression; returns (reader, kind).

    ``what`` (a file name, a layer) prefixes the ArchiveError a corrupt or truncated stream raises.
    """
    peekable = PeekableReader(stream)
    kind = detect_compression(peekable.peek(6))
    return decompressing_reader(peekable, kind, what=what), kind


def decompressing_reader(stream: BinaryIO, kind: str, *, what: str = "") -> BinaryIO:
    if kind == "":
        return stream  # type: ignore[return-value]
    if kind == "gzip":
        inner: BinaryIO = GzipReader(stream)  # type: ignore[assignment]
    elif kind == "zstd":
        import zstandard

        inner = zstandard.ZstdDecompressor().stream_reader(stream, read_size=1 << 20)  # type: ignore[assignment]
    elif kind == "bzip2":
        import bz2

        inner = bz2.BZ2File(stream)  # type: ignore[assignment]
    elif kind == "xz":
        import lzma

        inner = lzma.LZMAFile(stream)  # type: ignore[assignment]
    else:
        raise ArchiveError(f"unsupported compression {kind!r}")
    return _CheckedReader(inner, kind, what)  # type: ignore[return-value]


class _CheckedReader(io.RawIOBase):
    """Turns every decompressor's own failure into one ArchiveError that names the stream.

    Why: each library fails its own way on hostile input: bz2 raises a bare OSError ("Invalid
    data stream"), lzma an LZMAError, zstandard a ZstdError, isal an IsalError, and a truncated
    bz2/xz stream an EOFError (which click reports as "Aborted."). Without this a corrupt
    ``import x.tar.xz`` or a corrupt pulled zstd layer ends in a traceback. Real I/O errors of
    the underlying file (an OSError with an errno) pass through unchanged.
    """

    def __init__(self, inner: BinaryIO, kind: str, what: str):
        self._inner = inner
        self._kind = kind
        self._what = f"{what}: " if what else ""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._inner.read(size)
        except ArchiveError as exc:
            raise ArchiveError(f"{self._what}{exc}") from None
        except EOFError:
            raise ArchiveError(f"{self._what}{self._kind} stream is truncated") from None
        except OSError as exc:
            if exc.errno is not None:
                raise
            raise ArchiveError(f"{self._what}corrupt {self._kind} data: {exc}") from None
        except MemoryError:
            raise
        except Exception as exc:  # LZMAError, ZstdError, IsalError, zlib.error
            raise ArchiveError(f"{self._what}corrupt {self._kind} data: {exc}") from None

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class GzipReader(io.RawIOBase):
    """Streaming gzip decompression through zlib objects (2× faster than GzipFile.read).

    Handles concatenated gzip members, as pigz and some registries produce them. Each call
    inflates at most ``chunk`` bytes (``max_length``): a gzip bomb (1 MiB of input is ~1 GiB of
    zeros) must not be inflated into memory in one piece.
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
            if not rest.strip(b"\x00"):
                # trailing zero padding after the last member is allowed; skip all of it
                while rest and not rest.strip(b"\x00"):
                    rest = self._stream.read(self._chunk)
                if not rest:
                    self._eof = True
                    return
            if not rest.startswith(b"\x1f\x8b"[: len(rest)]):
                raise ArchiveError("corrupt gzip data: trailing garbage after the compressed stream")
            self._decompressor = decompressor = self._zlib.decompressobj(31)
            compressed = rest
        else:
            compressed = decompressor.unconsumed_tail or self._stream.read(self._chunk)
            if not compressed:
                raise ArchiveError("gzip stream is truncated")
        try:
            self._pending = decompressor.decompress(compressed, self._chunk)
        except Exception as exc:
            raise ArchiveError(f"corrupt gzip data: {exc}") from None


def gzip_compressor(level: int = 1):
    """A compressobj writing a gzip stream with a fixed header (no name, mtime 0): deterministic bytes.

    Levels 0-3 are isal's (≈6× zlib's speed); 4-9 go to zlib, for whoever trades time for size."""
    if level <= 3:
        try:
            from isal import isal_zlib

            return isal_zlib.compressobj(level, isal_zlib.DEFLATED, 31)
        except ImportError:  # pragma: no cover
            pass
    import zlib

    return zlib.compressobj(level, zlib.DEFLATED, 31)


def zstd_compressor(level: int = 3):
    """A zstd stream compressor; the frame records the content size only when it is known (never here)."""
    import zstandard

    return zstandard.ZstdCompressor(level=level).compressobj()
