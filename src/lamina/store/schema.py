"""Every table of ``metadata.db``, in one place, with one ``SCHEMA_VERSION`` and its migrations.

The store's metadata has several owners (images, containers, the build cache, the no-op rebuild
answers, remembered file digests, blob locations in registries) but one database, one version
and one upgrade path: each owner used to create its table on first use, so a store's version
said nothing about which tables it had. Here every table is declared once; :func:`migrate`
brings a store of any earlier version to the current one inside one write transaction (so two
processes opening an old store at once migrate it once), and refuses a store written by a newer
lamina instead of guessing at its tables.

Only the standard library is imported: the no-op rebuild door opens the database through
``store.metadata`` and must stay fast.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 2
"""Version 1: the image tables (the first released store); the other owners' tables were
created lazily and may or may not exist. Version 2: every table exists, created here."""

IMAGE_TABLES = """
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

OWNER_TABLES = """
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,                   -- 64 hex digits
    name TEXT NOT NULL UNIQUE,             -- without docker's leading '/'
    image_id TEXT NOT NULL,                -- the image's config digest
    image TEXT NOT NULL,                   -- the image as the user named it
    created REAL NOT NULL,
    status TEXT NOT NULL,                  -- created, running, paused, exited, dead
    pid INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER NOT NULL DEFAULT 0,
    oom_killed INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    started_at REAL NOT NULL DEFAULT 0,
    finished_at REAL NOT NULL DEFAULT 0,
    document TEXT NOT NULL                 -- JSON: Path, Args, Config, HostConfig, Mounts, Ports
);
CREATE INDEX IF NOT EXISTS containers_image ON containers(image_id);
CREATE TABLE IF NOT EXISTS build_cache (
    parent TEXT NOT NULL,        -- image the step ran on ('' for FROM scratch)
    key TEXT NOT NULL,           -- sha256 of created_by + the config after the step
    image_id TEXT NOT NULL,      -- the image the step made
    created REAL NOT NULL,
    PRIMARY KEY (parent, key)
);
CREATE TABLE IF NOT EXISTS build_fastpath (
    key TEXT PRIMARY KEY,          -- the request: Dockerfile, arguments, context path, lamina version
    context TEXT NOT NULL,         -- fingerprint of the context's metadata
    tags TEXT NOT NULL,            -- hash of the whole tags table after that build
    image_id TEXT NOT NULL,
    step_images TEXT NOT NULL,     -- JSON list: every image the replayed output names
    transcript TEXT NOT NULL,      -- JSON list of [stream, text] lines, as a fully cached build prints
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS build_file_digests (
    path TEXT PRIMARY KEY,       -- absolute path of a source file on this host
    dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL         -- sha256 of the content, hex
);
CREATE TABLE IF NOT EXISTS blob_locations (
    blob_digest TEXT NOT NULL, registry TEXT NOT NULL, repository TEXT NOT NULL,
    PRIMARY KEY (blob_digest, registry, repository));
"""

MIGRATIONS: dict[int, str] = {
    0: IMAGE_TABLES,   # a new, empty database
    1: OWNER_TABLES,   # version 1 -> 2: the owners' tables (IF NOT EXISTS: a v1 store may have some)
}
"""``MIGRATIONS[v]`` takes a store of version ``v`` to ``v + 1``; run in order up to SCHEMA_VERSION."""


def statements(script: str) -> list[str]:
    """The statements of a script (none of ours has a ';' inside a statement)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def migrate(connection: sqlite3.Connection, where: str) -> None:
    """Bring the database to SCHEMA_VERSION in one ``BEGIN IMMEDIATE`` transaction.

    ``executescript`` is not used: it commits on its own, and a half-migrated store must not
    exist. The version is read again under the write lock, so a racing opener finds the work done.
    """
    if _version(connection) == SCHEMA_VERSION:
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = _version(connection)
        if version > SCHEMA_VERSION:
            from lamina.errors import StoreError

            raise StoreError(f"{where}: metadata schema version {version} is newer than this lamina's "
                             f"{SCHEMA_VERSION}; use a newer lamina with this store")
        for step in range(version, SCHEMA_VERSION):
            for statement in statements(MIGRATIONS[step]):
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _version(connection: sqlite3.Connection) -> int:
    return connection.execute("PRAGMA user_version").fetchone()[0]
