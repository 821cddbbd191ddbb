"""The content store: immutable blobs addressed by digest.

Every blob is written to a temp file inside the store, hashed while it streams in, checked
against the digest (and size) it was announced with, and only then renamed into
``blobs/<alg>/<hex>``. A crash or a mismatch never leaves a wrong or partial blob visible.

A temp file is flocked by its writer for as long as it writes, so a writer killed with SIGKILL
leaves one whose lock anyone can take: the next writer's ``sweep_ingest`` (and ``fsck``)
knows it is garbage at once, without guessing from its age.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from lamina import TYPE_CHECKING
from lamina.errors import StoreError
from lamina.oci.digest import Hasher, split_digest, validate_digest

if TYPE_CHECKING:
    from typing import BinaryIO

CHUNK = 1 << 20
#: A temp file younger than this is never swept even when unlocked: its writer may be between
#: creating it and taking its lock.
INGEST_GRACE_SECONDS = 10
_TEMP_PREFIX = "blob-"
#: What a temp file in ``ingest/`` is named with, by any writer that flocks it while it writes.
INGEST_TEMP_PREFIX = _TEMP_PREFIX


class ContentStore:
    def __init__(self, root: Path):
        self.root = root
        self.blobs = root / "blobs"
        self.ingest_dir = root / "ingest"

    def ensure(self) -> None:
        (self.blobs / "sha256").mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        algorithm, encoded = split_digest(digest)
        return self.blobs / algorithm / encoded

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise StoreError(f"blob {digest} is missing from the store (run 'lamina fsck')") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as blob:
            return blob.read()

    def writer(self, expected_digest: str | None = None, expected_size: int | None = None, *,
               verified_upstream: bool = False) -> BlobWriter:
        """A writer for one blob. ``verified_upstream``: the caller hashes the same bytes itself
        and raises before ``commit`` on a mismatch (a registry download), so we only count them."""
        if expected_digest is not None:
            validate_digest(expected_digest)
        if verified_upstream and expected_digest is None:
            raise ValueError("verified_upstream needs the expected digest")
        return BlobWriter(self, expected_digest, expected_size, hash_bytes=not verified_upstream)

    def ingest(
        self, stream: BinaryIO, expected_digest: str | None = None, expected_size: int | None = None
    ) -> tuple[str, int]:
        """Copy a stream into the store; returns (digest, size)."""
        with self.writer(expected_digest, expected_size) as writer:
            while chunk := stream.read(CHUNK):
                writer.write(chunk)
            return writer.commit()

    def ingest_bytes(self, data: bytes, expected_digest: str | None = None) -> str:
        with self.writer(expected_digest, len(data)) as writer:
            writer.write(data)
            return writer.commit()[0]

    def delete(self, digest: str) -> int:
        """Remove a blob; returns the bytes freed (0 if it was not there)."""
        path = self.path(digest)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def abandoned_ingests(self) -> Iterator[tuple[Path, int]]:
        """(path, size) of the temp files in ``ingest/`` whose writer is gone (their flock is free)."""
        try:
            entries = list(os.scandir(self.ingest_dir))
        except FileNotFoundError:
            return
        now = time.time()
        for entry in entries:
            if not entry.name.startswith(_TEMP_PREFIX):
                continue  # not a flocked temp file: its writer has rules of its own
            try:
                fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                st = os.fstat(fd)
                if now - st.st_mtime > INGEST_GRACE_SECONDS:
                    yield Path(entry.path), st.st_size
            except BlockingIOError:
                pass  # a live writer holds it
            finally:
                os.close(fd)

    def sweep_ingest(self) -> int:
        """Delete the temp files of writers that died (killed mid-blob); returns the bytes freed."""
        freed = 0
        for path, size in self.abandoned_ingests():
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            freed += size
        return freed

    def digests(self) -> Iterator[str]:
        if not self.blobs.exists():
            return
        for algorithm_dir in self.blobs.iterdir():
            for entry in os.scandir(algorithm_dir):
                yield f"{algorithm_dir.name}:{entry.name}"

    def verify(self, digest: str) -> bool:
        hasher = Hasher.for_digest(digest)
        with self.open(digest) as blob:
            while chunk := blob.read(CHUNK):
                hasher.update(chunk)
        return hasher.digest == digest


class BlobWriter:
    """Streams bytes into a temp file while hashing; ``commit`` verifies and publishes it."""

    def __init__(self, store: ContentStore, expected_digest: str | None, expected_size: int | None,
                 *, hash_bytes: bool = True):
        self.store = store
        self.expected_digest = expected_digest
        self.expected_size = expected_size
        self.hasher = Hasher.for_digest(expected_digest)
        self.hash_bytes = hash_bytes
        store.ensure()
        import tempfile  # only writers need it (≈5 ms to import: run and ps never write blobs)

        fd, self.temp_path = tempfile.mkstemp(dir=store.ingest_dir, prefix=_TEMP_PREFIX)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until the file is closed: see sweep_ingest
        self.file = os.fdopen(fd, "wb", buffering=0)
        self.committed: tuple[str, int] | None = None
        self.created = False  # whether commit() put a new blob in place (vs one already there)

    def write(self, chunk: bytes | memoryview) -> None:
        if self.hash_bytes:
            self.hasher.update(chunk)
        else:
            self.hasher.size += len(chunk)
        view = memoryview(chunk)
        while view:
            written = self.file.write(view)
            view = view[written:]

    def commit(self, what: str = "blob") -> tuple[str, int]:
        # The file stays open (and flocked) until it is renamed: closed first, a sweeper could
        # take it for an abandoned one. Writes are unbuffered, so nothing is pending.
        if self.hash_bytes:
            digest = self.hasher.verify(self.expected_digest, self.expected_size, what)
        else:
            self.hasher.verify(None, self.expected_size, what)
            digest = self.expected_digest
        target = self.store.path(digest)
        if target.exists():
            os.unlink(self.temp_path)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(self.temp_path, 0o644)
            os.rename(self.temp_path, target)
            self.created = True
        self.file.close()
        self.committed = (digest, self.hasher.size)
        return self.committed

    def abort(self) -> None:
        if not self.file.closed:
            self.file.close()
        try:
            os.unlink(self.temp_path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.committed is None:
            self.abort()
