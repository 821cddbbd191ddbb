"""Metadata in SQLite (WAL): images, their layers, tags and repo digests.

Content (blobs) is the truth; these tables say which blobs form which image and which names
point at it. Several lamina processes may share one store: every write is a transaction
(``BEGIN IMMEDIATE``) and readers never block writers.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,                 -- image ID = digest of the config bytes
    config_media_type TEXT NOT NULL,
    created TEXT NOT NULL DEFAULT '',    -- the config's RFC 3339 'created'
    created_ts REAL NOT NULL DEFAULT 0,  -- the same, as Unix seconds (filters, sorting)
    size INTEGER NOT NULL,               -- sum of the uncompressed layer sizes
    parent TEXT NOT NULL DEFAULT '',     -- the image this one was built on (local builds)
    labels TEXT NOT NULL DEFAULT '{}',   -- Config.Labels as JSON, for --filter label=
    added REAL NOT NULL                  -- when it entered this store
);
CREATE TABLE IF NOT EXISTS image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    diff_id TEXT NOT NULL,
    PRIMARY KEY (image_id, position)
);
CREATE INDEX IF NOT EXISTS image_layers_diff ON image_layers(diff_id);
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT NOT NULL,               -- sha256 of the uncompressed tar
    blob_digest TEXT NOT NULL,           -- digest of the stored bytes (== diff_id when uncompressed)
    media_type TEXT NOT NULL,
    blob_size INTEGER NOT NULL,
    diff_size INTEGER NOT NULL,          -- uncompressed size
    PRIMARY KEY (diff_id, blob_digest)
);
CREATE TABLE IF NOT EXISTS manifests (
    digest TEXT PRIMARY KEY,             -- a manifest or index kept as a blob
    media_type TEXT NOT NULL,
    image_id TEXT NOT NULL DEFAULT '',   -- for image manifests: the image they describe
    platform TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS index_children (
    index_digest TEXT NOT NULL,
    child_digest TEXT NOT NULL,
    PRIMARY KEY (index_digest, child_digest)
);
CREATE TABLE IF NOT EXISTS tags (
    name TEXT PRIMARY KEY,               -- full reference, e.g. docker.io/library/debian:bookworm
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id),
    target_digest TEXT NOT NULL DEFAULT ''  -- an index digest when the tag names a multi-platform image
);
CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id);
CREATE TABLE IF NOT EXISTS repo_digests (
    repository TEXT NOT NULL,
    manifest_digest TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id),
    PRIMARY KEY (repository, manifest_digest)
);
CREATE INDEX IF NOT EXISTS repo_digests_image ON repo_digests(image_id);
"""


class Metadata:
    """A connection to ``metadata.db``; one per Store object, one per thread."""

    def __init__(self, path: Path):
        self.path = path
        self.connection = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        self.connection.row_factory = sqlite3.Row
        self._lock = threading.RLock()  # one connection, shared by a command's worker threads
        self.connection.execute("PRAGMA busy_timeout=60000")
        if self.connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA foreign_keys=ON")
        version = self.connection.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            # executescript commits on its own; every statement is idempotent, so a race is harmless
            self.connection.executescript(_SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken up front so concurrent writers queue instead of failing."""
        with self._lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.connection.execute(sql, params).fetchall()

    def close(self) -> None:
        self.connection.close()
