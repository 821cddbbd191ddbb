"""Where blobs live remotely (registry, repository), so a push to another repository can mount them.

Rows of the store's metadata (``store/repos/locations.py``); pull and push both record what
they moved, push asks before uploading.
"""

from __future__ import annotations

from lamina.store.repos.locations import BlobLocationRows
from lamina.store.store import Store


def record_locations(store: Store, registry: str, repository: str, digests: list[str]) -> None:
    """Remember that ``repository`` on ``registry`` holds these blobs."""
    BlobLocationRows(store.meta).record(registry, repository, digests)


def known_locations(store: Store, registry: str, digest: str) -> list[str]:
    """The repositories of ``registry`` known to hold ``digest``."""
    return BlobLocationRows(store.meta).repositories(registry, digest)
