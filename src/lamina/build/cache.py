"""The build cache: a step already built on the same parent image is reused, as docker does.

Docker's classic builder finds a cached step by looking for a child of the current image whose
config and step command equal the ones about to be committed. lamina keeps the same key in a
table of its own: ``(parent image, sha256 of the step's created_by + resulting config)`` →
the image the step made. COPY/ADD's created_by carries the checksum of its sources (contents,
modes, owners, never mtimes), RUN's its command and build args. A row whose image was removed
since (rmi, prune) is simply a miss.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from lamina.store.repos.build import BuildCacheRows
from lamina.store.store import Store


def step_key(created_by: str, config: Mapping[str, Any], author: str | None) -> str:
    """What identifies a step on a given parent: its history text, the config it leaves, the author."""
    payload = json.dumps({"created_by": created_by, "config": config, "author": author or ""},
                         sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


class BuildCache:
    """The step cache of one store (rows: ``store/repos/build.py``)."""

    def __init__(self, store: Store):
        self.store = store
        self.rows = BuildCacheRows(store.meta)

    def lookup(self, parent: str, key: str) -> str | None:
        """The image a step with ``key`` made on ``parent``, if it is still in the store."""
        return self.rows.lookup(parent, key)

    def record(self, parent: str, key: str, image_id: str) -> None:
        self.rows.record(parent, key, image_id, time.time())
