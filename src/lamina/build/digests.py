"""Content digests of build sources, remembered across builds by each file's stat identity.

The build cache keys COPY/ADD on the contents of their sources, so a cached rebuild would read
every source file again. Like git's index and BuildKit's content-hash cache, a file whose path,
device, inode, size, mtime and ctime are unchanged keeps the digest computed last time (a write
changes mtime and ctime; a replacement changes the inode); everything else is hashed again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

from lamina.store.repos.build import FileDigestRows
from lamina.store.store import Store


class FileDigests:
    """sha256 (hex) of files' contents for one build; ``save`` keeps what was learnt for the next."""

    def __init__(self, store: Store | None = None):
        self.store = store
        self._known: dict[str, str] = {}
        self._remembered: dict[str, tuple[tuple[int, ...], str]] = {}
        self._loaded: set[str] = set()
        self._learnt: dict[str, tuple[tuple[int, ...], str]] = {}

    def digest(self, path: str, info: os.stat_result) -> str:
        """The digest of the regular file ``path`` whose lstat (or stat) is ``info``."""
        known = self._known.get(path)
        if known is not None:
            return known
        identity = _identity(info)
        remembered = self._remembered.get(path)
        if remembered is not None and remembered[0] == identity:
            digest = remembered[1]
        else:
            with open(path, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            self._learnt[path] = (identity, digest)
        self._known[path] = digest
        return digest

    def learn(self, digests: Mapping[str, str]) -> None:
        """Digests computed elsewhere (while writing a layer) for files as they are now."""
        for path, digest in digests.items():
            self._known[path] = digest
            try:
                self._learnt[path] = (_identity(os.stat(path)), digest)
            except OSError:
                continue

    def save(self) -> None:
        if self.store is None or not self._learnt:
            return
        # sqlite TEXT is UTF-8: a path that is not (a context file named in Latin-1, kept by
        # Python as surrogates) is not remembered, only hashed again by the next build.
        rows = [(path, *identity, digest) for path, (identity, digest) in self._learnt.items() if _storable(path)]
        FileDigestRows(self.store.meta).remember(rows)
        self._learnt.clear()

    def prepare(self, top: str) -> None:
        """Read what is remembered for the files under ``top`` (one query per tree)."""
        if self.store is None or not _storable(top):
            return
        for loaded in self._loaded:
            if top == loaded or top.startswith(loaded + "/"):
                return
        self._loaded.add(top)
        for row in FileDigestRows(self.store.meta).under(top):
            self._remembered[row[0]] = ((row[1], row[2], row[3], row[4], row[5]), row[6])


def _identity(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _storable(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
