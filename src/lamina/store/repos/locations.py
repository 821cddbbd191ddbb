"""The ``blob_locations`` table: which repository of which registry is known to hold a blob,
so a push to another repository of that registry can mount it instead of uploading."""

from __future__ import annotations

from lamina import TYPE_CHECKING

if TYPE_CHECKING:

    from lamina.store.metadata import Metadata


class BlobLocationRows:
    def __init__(self, meta: Metadata):
        self.meta = meta

    def record(self, registry: str, repository: str, digests: list[str]) -> None:
        with self.meta.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO blob_locations VALUES (?,?,?)",
                           [(d, registry, repository) for d in digests])

    def repositories(self, registry: str, digest: str) -> list[str]:
        return [r[0] for r in self.meta.query(
            "SELECT repository FROM blob_locations WHERE blob_digest=? AND registry=?", (digest, registry))]
