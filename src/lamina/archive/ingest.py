"""Ingest one blob into the content store, learning a layer's diffID on the way.

A layer may arrive plain or compressed; either way we store the bytes as they came (so their
digest stays the one a manifest names) and hash the uncompressed stream in the same pass to
get the diffID, which is what image configs and the build cache speak in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lamina.errors import ArchiveError
from lamina.layer.compression import detect_compression
from lamina.oci import mediatypes as mt
from lamina.oci.digest import Hasher
from lamina.store.content import ContentStore


@dataclass(slots=True)
class IngestedBlob:
    digest: str
    size: int
    compression: str  # '', 'gzip' or 'zstd'
    diff_id: str      # sha256 of the uncompressed bytes (== digest when plain)
    diff_size: int
    created: bool     # False when the store already had it


class BlobIngest:
    """Push-style ingest: ``write`` chunks as they arrive, then ``finish`` verifies and stores.

    The first chunk decides whether the blob is compressed; if so its decompressed bytes are
    hashed in the same pass to get the diffID. Use as a context manager: an unfinished ingest
    leaves nothing behind.
    """

    def __init__(self, content: ContentStore, *, expected_digest: str | None = None,
                 expected_size: int | None = None, detect: bool = True, what: str = "blob"):
        self.writer = content.writer(expected_digest, expected_size)
        self.detect = detect
        self.what = what
        self.diff: _DiffHasher | None = None
        self.compression = ""
        self._first = True

    def write(self, chunk: bytes | memoryview) -> None:
        if self._first:
            self._first = False
            kind = detect_compression(bytes(chunk[:6])) if self.detect else ""
            if kind in ("gzip", "zstd"):
                self.compression, self.diff = kind, _DiffHasher(kind)
        self.writer.write(chunk)
        if self.diff is not None:
            try:
                self.diff.feed(bytes(chunk))
            except ArchiveError as exc:
                raise ArchiveError(f"{self.what}: {exc}") from None

    def finish(self) -> IngestedBlob:
        try:
            diff_id, diff_size = self.diff.finish() if self.diff is not None else ("", 0)
        except ArchiveError as exc:
            raise ArchiveError(f"{self.what}: {exc}") from None
        digest, size = self.writer.commit(self.what)
        if self.diff is None:
            return IngestedBlob(digest, size, "", digest, size, self.writer.created)
        return IngestedBlob(digest, size, self.compression, diff_id, diff_size, self.writer.created)

    def __enter__(self) -> BlobIngest:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.writer.__exit__(*exc_info)


def ingest_chunks(
    content: ContentStore, chunks: Iterable[bytes], *, expected_digest: str | None = None,
    expected_size: int | None = None, detect: bool = True, what: str = "blob",
) -> IngestedBlob:
    """Store chunks as one blob; when ``detect``, also hash its decompressed form."""
    with BlobIngest(content, expected_digest=expected_digest, expected_size=expected_size, detect=detect,
                    what=what) as ingest:
        for chunk in chunks:
            ingest.write(chunk)
        return ingest.finish()


#: Largest piece of inflated output handed on at once. Bounded so that memory stays small however
#: much a chunk expands (a gzip of zeros inflates a thousandfold), and because multi-MiB output
#: buffers come from mmap and are page-faulted afresh every time.
_PIECE = 256 * 1024


class _DiffHasher:
    """Decompresses pushed chunks and hashes the result.

    ``feed`` does both; a caller that wants them on separate threads calls ``inflate_into`` on
    one and ``hasher.update`` on the other, in order.
    """

    def __init__(self, compression: str):
        self.hasher = Hasher()
        self.compression = compression
        self._emit: Callable[[bytes], object] = self.hasher.update
        if compression == "gzip":
            try:
                from isal import isal_zlib as zlib_module
            except ImportError:  # pragma: no cover
                import zlib as zlib_module
            self._zlib = zlib_module
            self._gzip = zlib_module.decompressobj(31)
        else:
            import zstandard

            self._zstd = zstandard.ZstdDecompressor().stream_writer(
                _Emitter(self), write_size=_PIECE, write_return_read=True, closefd=False)

    def feed(self, chunk: bytes) -> None:
        self.inflate_into(chunk, self.hasher.update)

    def inflate_into(self, chunk: bytes, emit: Callable[[bytes], object]) -> None:
        """Inflate the next compressed chunk, handing the output to ``emit`` in pieces of at most _PIECE."""
        if self.compression != "gzip":
            self._emit = emit
            try:
                self._zstd.write(chunk)
            except Exception as exc:  # zstandard.ZstdError
                raise ArchiveError(f"corrupt zstd layer: {exc}") from None
            return
        data = chunk
        while True:
            if self._gzip.eof:  # a new member of a concatenated stream, or trailing padding
                if not data or not data.strip(b"\0"):
                    return
                self._gzip = self._zlib.decompressobj(31)
            try:
                piece = self._gzip.decompress(data, _PIECE)
            except Exception as exc:
                raise ArchiveError(f"corrupt gzip layer: {exc}") from None
            if piece:
                emit(piece)
            if self._gzip.eof:
                data = self._gzip.unused_data
            else:
                data = self._gzip.unconsumed_tail
                if not data and len(piece) < _PIECE:
                    return  # all input taken and no output held back

    def finish(self) -> tuple[str, int]:
        if self.compression == "gzip" and not self._gzip.eof:
            raise ArchiveError("gzip layer is truncated")
        return self.hasher.digest, self.hasher.size


class _Emitter:
    """The file zstandard's stream writer writes inflated pieces to: passes them on."""

    def __init__(self, owner: _DiffHasher):
        self._owner = owner

    def write(self, piece: bytes) -> int:
        self._owner._emit(piece)
        return len(piece)


def layer_media_type(compression: str, *, oci: bool = True) -> str:
    return mt.oci_layer_type(compression) if oci else mt.docker_layer_type(compression)


