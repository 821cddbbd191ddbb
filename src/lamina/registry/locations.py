"""Where blobs live remotely (registry, repository), so a push to another repository can mount them.

A table of its own in the store's metadata database, created on first use; pull and push both
record what they moved, push asks before uploading.
"""

from __future__ import annotations

from lamina.store.store import Store

_LOCATIONS_SCHEMA = """CREATE TABLE IF NOT EXISTS blob_locations (
    blob_digest TEXT NOT NULL, registry TEXT NOT NULL, repository TEXT NOT NULL,
    PRIMARY KEY (blob_digest, registry, repository))"""


def record_locations(store: Store, registry: str, repository: str, digests: list[str]) -> None:
    """Remember that ``repository`` on ``registry`` holds these blobs."""
    store.meta.connection.execute(_LOCATIONS_SCHEMA)
    with store.meta.transaction() as db:
        db.executemany("INSERT OR IGNORE INTO blob_locations VALUES (?,?,?)",
                       [(d, registry, repository) for d in digests])


def known_locations(store: Store, registry: str, digest: str) -> list[str]:
    """The repositories of ``registry`` known to hold ``digest``."""
    store.meta.connection.execute(_LOCATIONS_SCHEMA)
    return [r[0] for r in store.meta.query(
        "SELECT repository FROM blob_locations WHERE blob_digest=? AND registry=?", (digest, registry))]
