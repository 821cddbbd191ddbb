"""Ingest one layer stream into the content store, learning its diffID on the way.

A layer may arrive plain or compressed; either way we store the bytes as they came (so
their digest stays the one a manifest names) and hash the uncompressed stream in the same
pass to get the diffID, which is what image configs and the build cache speak in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lamina.errors import ArchiveError
from lamina.layer.compression import decompressing_reader, detect_compression
from lamina.oci import mediatypes as mt
from lamina.oci.digest import Hasher
from lamina.store.content import ContentStore


@dataclass(slots=True)
class IngestedBlob:
    digest: str
    size: int
    compression: str  # '', 'gzip', 'zstd', 'bzip2', 'xz'
    diff_id: str      # sha256 of the uncompressed bytes (== digest when plain)
    diff_size: int
    created: bool     # False when the store already had it


class _ChunkFeed:
    """A file-like view over chunks pushed in, for decompressors that pull."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def read(self, size: int = -1) -> bytes:
        if not self.chunks:
            return b""
        return self.chunks.pop(0)


def ingest_chunks(
    content: ContentStore, chunks: Iterable[bytes], *, expected_digest: str | None = None,
    expected_size: int | None = None, detect: bool = True, what: str = "blob",
) -> IngestedBlob:
    """Store chunks as one blob; when ``detect``, also hash its decompressed form."""
    with content.writer(expected_digest, expected_size) as writer:
        iterator = iter(chunks)
        first = next(iterator, b"")
        compression = detect_compression(first[:6]) if detect else ""
        if compression in ("gzip", "zstd"):
            diff = _DiffHasher(compression)
        else:
            diff = None
            compression = ""
        for chunk in _prepend(first, iterator):
            writer.write(chunk)
            if diff is not None:
                diff.feed(chunk)
        diff_id, diff_size = diff.finish() if diff is not None else ("", 0)
        digest, size = writer.commit(what)
        if diff is None:
            return IngestedBlob(digest, size, "", digest, size, writer.created)
        return IngestedBlob(digest, size, compression, diff_id, diff_size, writer.created)


def _prepend(first: bytes, rest: Iterable[bytes]) -> Iterable[bytes]:
    if first:
        yield first
    yield from rest


class _DiffHasher:
    """Decompresses pushed chunks and hashes the result."""

    def __init__(self, compression: str):
        self.hasher = Hasher()
        self.compression = compression
        if compression == "gzip":
            try:
                from isal import isal_zlib as zlib_module
            except ImportError:  # pragma: no cover
                import zlib as zlib_module
            self._zlib = zlib_module
            self._gzip = zlib_module.decompressobj(31)
        else:
            import zstandard

            self._zstd = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, chunk: bytes) -> None:
        if self.compression != "gzip":
            self.hasher.update(self._zstd.decompress(chunk))
            return
        data = chunk
        while data:
            if self._gzip.eof:  # a new member of a concatenated stream, or trailing padding
                if not data.strip(b"\0"):
                    return
                self._gzip = self._zlib.decompressobj(31)
            try:
                self.hasher.update(self._gzip.decompress(data))
            except Exception as exc:
                raise ArchiveError(f"corrupt gzip layer: {exc}") from None
            data = self._gzip.unused_data if self._gzip.eof else b""

    def finish(self) -> tuple[str, int]:
        if self.compression == "gzip" and not self._gzip.eof:
            raise ArchiveError("gzip layer is truncated")
        return self.hasher.digest, self.hasher.size


def layer_media_type(compression: str, *, oci: bool = True) -> str:
    return mt.oci_layer_type(compression) if oci else mt.docker_layer_type(compression)


# Re-exported for callers that need to read a stored layer uncompressed.
__all__ = ["IngestedBlob", "decompressing_reader", "ingest_chunks", "layer_media_type"]
