"""The builder's rows: step cache, no-op rebuild answers, remembered file digests.

``BuildCacheRows`` maps (parent image, step key) to the image the step made; ``FastpathRows``
keeps whole-build answers for the no-op rebuild door (which imports only the standard library,
``store.metadata`` and this module); ``FileDigestRows`` keeps source files' digests by stat
identity. A row naming an image that was removed since is a miss, never an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from lamina import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from lamina.store.metadata import Metadata


class BuildCacheRows:
    """The ``build_cache`` table."""

    def __init__(self, meta: Metadata):
        self.meta = meta

    def lookup(self, parent: str, key: str) -> str | None:
        """The image a step with ``key`` made on ``parent``, if that image is still in the store."""
        rows = self.meta.query(
            "SELECT c.image_id FROM build_cache c JOIN images i ON i.id = c.image_id "
            "WHERE c.parent=? AND c.key=?", (parent, key))
        return rows[0][0] if rows else None

    def record(self, parent: str, key: str, image_id: str, created: float) -> None:
        with self.meta.transaction() as db:
            db.execute("INSERT OR REPLACE INTO build_cache VALUES (?,?,?,?)", (parent, key, image_id, created))


class FastpathRows:
    """The ``build_fastpath`` table, and the hash of the tags table its answers depend on."""

    def __init__(self, meta: Metadata):
        self.meta = meta

    def tags_hash(self) -> str:
        """One hash of every (tag, image): any moved tag makes recorded answers stale."""
        digest = hashlib.sha256()
        for name, image_id in self.meta.query("SELECT name, image_id FROM tags ORDER BY name"):
            digest.update(f"{name}\0{image_id}\n".encode())
        return digest.hexdigest()

    def get(self, key: str) -> Any | None:
        """The row recorded for ``key`` (columns by name), or None."""
        rows = self.meta.query("SELECT * FROM build_fastpath WHERE key=?", (key,))
        return rows[0] if rows else None

    def missing_images(self, image_ids: Sequence[str]) -> set[str]:
        """Which of these image IDs the store no longer has."""
        present = {r[0] for r in self.meta.query(
            f"SELECT id FROM images WHERE id IN ({','.join('?' * len(image_ids))})", tuple(image_ids))}
        return set(image_ids) - present

    def put(self, key: str, context: str, tags: str, image_id: str, step_images: str, transcript: str,
            created: float) -> None:
        with self.meta.transaction() as db:
            db.execute("INSERT OR REPLACE INTO build_fastpath VALUES (?,?,?,?,?,?,?)",
                       (key, context, tags, image_id, step_images, transcript, created))


class FileDigestRows:
    """The ``build_file_digests`` table: (path, dev, ino, size, mtime_ns, ctime_ns, digest)."""

    def __init__(self, meta: Metadata):
        self.meta = meta

    def remember(self, rows: Iterable[tuple]) -> None:
        with self.meta.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO build_file_digests VALUES (?,?,?,?,?,?,?)", list(rows))

    def under(self, top: str) -> list[tuple]:
        """Every remembered file strictly below the directory ``top`` (one range scan)."""
        return [tuple(r) for r in self.meta.query(
            "SELECT path, dev, ino, size, mtime_ns, ctime_ns, digest FROM build_file_digests "
            "WHERE path > ? AND path < ?", (top + "/", top + "0"))]


def prune_build_records(meta: Metadata, *, everything: bool) -> int:
    """``builder prune``: delete cache and fast-path rows whose image is gone (all with
    ``everything``); the number of rows removed."""
    condition = "" if everything else " WHERE image_id NOT IN (SELECT id FROM images)"
    with meta.transaction() as db:
        return (db.execute(f"DELETE FROM build_cache{condition}").rowcount
                + db.execute(f"DELETE FROM build_fastpath{condition}").rowcount)
