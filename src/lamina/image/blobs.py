"""Readers every source shares: a slice of a file, and a stream checked against its digest.

Why here: each source (store, archive, layout, registry) hands out layer bytes from somewhere
else, but all of them must be verified while read, so that a consumer that streams a layer
(a sink, a scanner) learns of a wrong blob at its end instead of trusting it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import BinaryIO

from lamina.errors import DigestMismatchError, ManifestError
from lamina.layer.compression import decompressing_reader
from lamina.oci import mediatypes as mt
from lamina.oci.digest import Hasher


class VerifyingReader(io.RawIOBase):
    """Passes a stream through, hashing it; at its end the digest (and size) must match.

    A stream longer than ``expected_size`` fails as soon as it overruns, so a hostile source
    cannot make a reader consume more than it announced.
    """

    def __init__(self, inner: BinaryIO, expected_digest: str | None, expected_size: int | None, what: str):
        self._inner = inner
        self._expected_digest = expected_digest
        self._expected_size = expected_size if expected_size is not None and expected_size >= 0 else None
        self._hasher = Hasher.for_digest(expected_digest)
        self._what = what
        self._verified = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(1 << 20):
                parts.append(chunk)
            return b"".join(parts)
        chunk = self._inner.read(size) if size else b""
        if chunk:
            self._hasher.update(chunk)
            if self._expected_size is not None and self._hasher.size > self._expected_size:
                raise DigestMismatchError(
                    f"{self._what} {self._expected_digest or ''}: larger than the {self._expected_size} bytes "
                    "its descriptor says")
        elif size and not self._verified:
            self._hasher.verify(self._expected_digest, self._expected_size, self._what)
            self._verified = True
        return chunk

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


class FileSlice(io.RawIOBase):
    """``size`` bytes of a file from ``offset`` (a member inside an archive); its own descriptor.

    Each slice opens the file afresh, so several layers of one archive may be read at once.
    """

    def __init__(self, path: str | os.PathLike[str], offset: int, size: int):
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._file.seek(offset)
        self._left = size

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self._left:
            size = self._left
        if not size:
            return b""
        chunk = self._file.read(size)
        self._left -= len(chunk)
        return chunk

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


class BlobLayer:
    """A layer whose stored bytes some opener gives; both readers verify while streaming.

    ``path`` is set only for blobs the store verified when it took them in: a writer may copy
    such a file with ``sendfile`` instead of reading (and hashing) it through Python, and the
    readers give the file itself (seekable, so a tar reader skips the data it does not want)
    rather than hashing every byte again — ``lamina fsck`` is what checks stored blobs.
    """

    def __init__(self, *, digest: str, diff_id: str, media_type: str, size: int,
                 opener: Callable[[], BinaryIO], what: str, path: str | None = None):
        self.digest = digest
        self.diff_id = diff_id
        self.media_type = media_type
        self.size = size
        self.path = path
        self._opener = opener
        self._what = what

    @property
    def compression(self) -> str:
        """'' (plain tar), 'gzip' or 'zstd', from the media type."""
        try:
            return mt.layer_compression(self.media_type)
        except KeyError:
            raise ManifestError(f"{self._what}: unknown layer media type {self.media_type}") from None

    def open_compressed(self) -> BinaryIO:
        if self.path is not None:
            return self._opener()
        return VerifyingReader(self._opener(), self.digest, self.size, self._what)  # type: ignore[return-value]

    def open_uncompressed(self) -> BinaryIO:
        compression = self.compression
        stored = self.open_compressed()
        if not compression:
            return stored
        plain = decompressing_reader(stored, compression, what=self._what)
        if self.path is not None:
            return plain
        return VerifyingReader(plain, self.diff_id, None, f"{self._what} (uncompressed)")  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"<Layer {self.digest} diff_id={self.diff_id} {self.media_type}>"
