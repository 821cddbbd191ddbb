"""Garbage-collection roots: what keeps an image or a blob alive, declared once.

An image stays while a root holds it: a tag, a repo digest, an image built on it (its child),
or a container made from it. Build-cache and fast-path rows are *not* roots: a cached step whose
image was removed is a miss (``builder prune`` drops such rows). A blob stays while an image,
a layer row or a kept manifest names it. Blobs written but not yet recorded are protected by
the *lease* (``locks.lease``, held shared by every writer; GC takes it exclusively), not by a row.

``rmi``/``image prune`` (``Store._delete``), the sweep (``Store._sweep``), ``fsck`` and the
clean-up of a failed ``pull`` or ``load`` all ask here, so adding a root is one edit.
"""

from __future__ import annotations

from lamina import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

    from lamina.store.metadata import Metadata

IMAGE_ROOTS: dict[str, str] = {
    "tag": "SELECT COUNT(*) FROM tags WHERE image_id=?",
    "repo digest": "SELECT COUNT(*) FROM repo_digests WHERE image_id=?",
    "child image": "SELECT COUNT(*) FROM images WHERE parent=?",
    "container": "SELECT COUNT(*) FROM containers WHERE image_id=?",
}
"""Root kind -> how many of them hold the image given as the only parameter."""

NOT_ROOTS: dict[str, str] = {
    "image_layers": "the image's own layer list, deleted with it",
    "manifests": "the image's manifests, deleted with it",
    "build_cache": "a cached step whose image is gone is a miss; builder prune drops the row",
    "build_fastpath": "a recorded answer whose images are gone is a miss; builder prune drops the row",
}
"""Tables that name an image without keeping it: every table with an ``image_id`` column is a
root above or listed here (tests/store/test_schema.py checks), so a new owner's table decides."""

NAME_ROOTS = ("tag", "repo digest")
"""The roots that are names: ``rmi NAME`` removes one of these, never the others."""

BLOB_ROOTS = (
    "SELECT id FROM images",            # image configs
    "SELECT blob_digest FROM layers",   # layer blobs (rows are swept with the last image using them)
    "SELECT digest FROM manifests",     # kept manifests and indexes
)
"""Queries whose union is every digest a stored row names."""


def _rows(db: Metadata | sqlite3.Connection, sql: str, params: tuple = ()) -> list:
    """Rows through a Metadata (its lock) or a connection inside an open transaction."""
    query = getattr(db, "query", None)
    return query(sql, params) if query is not None else db.execute(sql, params).fetchall()


def image_roots(db: Metadata | sqlite3.Connection, image_id: str, kinds: tuple[str, ...] | None = None) -> dict[str, int]:
    """The roots holding ``image_id``, by kind (only kinds with at least one)."""
    held = {}
    for kind, sql in IMAGE_ROOTS.items():
        if kinds is None or kind in kinds:
            count = _rows(db, sql, (image_id,))[0][0]
            if count:
                held[kind] = count
    return held


def live_blobs(db: Metadata | sqlite3.Connection) -> set[str]:
    """Every blob digest a row names (to be kept by a sweep or a failed transfer's clean-up)."""
    return {row[0] for row in _rows(db, " UNION ".join(BLOB_ROOTS))}
