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

from lamina.store.store import Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS build_cache (
    parent TEXT NOT NULL,        -- image the step ran on ('' for FROM scratch)
    key TEXT NOT NULL,           -- sha256 of created_by + the config after the step
    image_id TEXT NOT NULL,      -- the image the step made
    created REAL NOT NULL,
    PRIMARY KEY (parent, key)
)
"""


def step_key(created_by: str, config: Mapping[str, Any], author: str | None) -> str:
    """What identifies a step on a given parent: its history text, the config it leaves, the author."""
    payload = json.dumps({"created_by": created_by, "config": config, "author": author or ""},
                         sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


class BuildCache:
    def __init__(self, store: Store):
        self.store = store
        with store.meta.transaction() as db:
            db.execute(_SCHEMA)

    def lookup(self, parent: str, key: str) -> str | None:
        """The image a step with ``key`` made on ``parent``, if it is still in the store."""
        rows = self.store.meta.query("SELECT image_id FROM build_cache WHERE parent=? AND key=?", (parent, key))
        if not rows:
            return None
        image_id = rows[0][0]
        if not self.store.meta.query("SELECT 1 FROM images WHERE id=?", (image_id,)):
            return None
        return image_id

    def record(self, parent: str, key: str, image_id: str) -> None:
        with self.store.meta.transaction() as db:
            db.execute("INSERT OR REPLACE INTO build_cache VALUES (?,?,?,?)", (parent, key, image_id, time.time()))
