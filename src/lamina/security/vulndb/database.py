"""The vulnerability database file: ``<store root>/vulndb/vuln.db``, SQLite, indexed by package.

Every advisory belongs to the source it was imported from (a file, directory, zip or URL, with
when it was imported and how old the source said it was); importing the same source again
replaces what it brought before, in one transaction. The matcher asks for the affected
entries of (ecosystem, package names) and gets them by index. Opening is one ``sqlite3``
connect and one query: cheap enough for every scan.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from lamina.security.vulndb.advisory import Advisory, AffectedPackage
from lamina.security.vulndb.errors import VulnDBError
from lamina.security.vulndb.records import DataSource

SCHEMA_VERSION = "3"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE source (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,            -- osv, alpine-secdb, debian-tracker
    name TEXT NOT NULL,            -- for people
    origin TEXT NOT NULL UNIQUE,   -- the path or URL it was imported from
    imported_at TEXT NOT NULL,     -- RFC 3339, UTC
    origin_modified TEXT NOT NULL, -- Last-Modified of a download or mtime of a file
    etag TEXT NOT NULL,            -- a download's ETag, for a conditional next update
    advisories INTEGER NOT NULL,
    skipped INTEGER NOT NULL
);
CREATE TABLE advisory (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES source(id) ON DELETE CASCADE,
    record_id TEXT NOT NULL,
    body BLOB NOT NULL,            -- the Advisory without its affected list, msgspec JSON
    UNIQUE (source_id, record_id)
);
CREATE TABLE affected (
    advisory_id INTEGER NOT NULL REFERENCES advisory(id) ON DELETE CASCADE,
    ecosystem TEXT NOT NULL,       -- lower case, without release
    name TEXT NOT NULL,            -- advisory.package_key
    body BLOB NOT NULL             -- the AffectedPackage, msgspec JSON
);
CREATE INDEX affected_by_package ON affected (ecosystem, name);
CREATE INDEX affected_by_advisory ON affected (advisory_id);  -- replacing a source deletes by it
CREATE INDEX advisory_by_source ON advisory (source_id);
"""

_MAX_SQL_VARIABLES = 900


class SourceInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One imported source as ``lamina db status`` shows it."""

    kind: str
    name: str
    origin: str
    imported_at: str
    origin_modified: str
    advisories: int
    skipped: int
    etag: str = ""


class AffectedMatch(msgspec.Struct, frozen=True, kw_only=True):
    """An affected entry the index found, with its advisory and where that came from."""

    affected: AffectedPackage
    advisory: Advisory  # without ``affected``
    data_source: DataSource


def database_path(root: str | os.PathLike[str] | None = None) -> Path:
    """``<root>/vulndb/vuln.db``; root None is the default store root."""
    if root is None:
        from lamina.store.location import default_root

        root = default_root()
    return Path(root) / "vulndb" / "vuln.db"


def open_existing(root: str | None = None, *, path: str | os.PathLike[str] | None = None) -> VulnDatabase:
    """Open a database that must already exist (for scanning and ``db status``)."""
    db_path = Path(path) if path is not None else database_path(root)
    if not db_path.is_file():
        raise VulnDBError(
            f"no vulnerability database at {db_path}: run 'lamina db import PATH' or 'lamina db update' first"
        )
    return VulnDatabase(db_path, create=False)


def open_for_import(root: str | None = None, *, path: str | os.PathLike[str] | None = None) -> VulnDatabase:
    """Open the database for writing, creating it (and its directory) when missing."""
    db_path = Path(path) if path is not None else database_path(root)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    return VulnDatabase(db_path, create=True)


class VulnDatabase:
    """An open vulnerability database."""

    def __init__(self, path: Path, *, create: bool):
        self.path = path
        self._open(create)
        self._sources: dict[int, DataSource] | None = None

    def _open(self, create: bool, *, replacing_old_schema: bool = True) -> None:
        """Connect and check the schema; an import replaces a database of another schema version
        (its sources must be imported again: the data is derived, the sources are the truth)."""
        path = self.path
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA foreign_keys = ON")
            has_meta = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
            ).fetchone()
            if has_meta is None and create:
                self._create()
            elif has_meta is None:
                raise VulnDBError(f"{path} is not a lamina vulnerability database (no schema)")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError as error:
            raise VulnDBError(f"{path} is not a lamina vulnerability database ({error})") from None
        if row is None or row[0] != SCHEMA_VERSION:
            found = row[0] if row else "none"
            if create and replacing_old_schema:
                self._db.close()
                path.unlink()
                self._open(create, replacing_old_schema=False)
                return
            raise VulnDBError(f"{path} has schema version {found}, this lamina reads {SCHEMA_VERSION}: run"
                              " 'lamina db import' or 'lamina db update' again (it starts a new database)")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> VulnDatabase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- reading ----------------------------------------------------------------------------

    def sources(self) -> list[SourceInfo]:
        """Every imported source, oldest import first."""
        rows = self._db.execute(
            "SELECT kind, name, origin, imported_at, origin_modified, advisories, skipped, etag FROM source ORDER BY id"
        ).fetchall()
        return [
            SourceInfo(kind=k, name=n, origin=o, imported_at=i, origin_modified=m, advisories=a, skipped=s, etag=e)
            for k, n, o, i, m, a, s, e in rows
        ]

    def source(self, origin: str) -> SourceInfo | None:
        """The source imported from ``origin``, if any."""
        return next((s for s in self.sources() if s.origin == origin), None)

    def affected(self, ecosystem: str, names: Iterable[str]) -> Iterator[AffectedMatch]:
        """The affected entries for these package names (``package_key`` form) in one ecosystem."""
        wanted = sorted(set(names))
        advisory_decoder = msgspec.json.Decoder(Advisory)
        affected_decoder = msgspec.json.Decoder(AffectedPackage)
        sources = self._data_sources()
        for start in range(0, len(wanted), _MAX_SQL_VARIABLES):
            chunk = wanted[start : start + _MAX_SQL_VARIABLES]
            marks = ",".join("?" * len(chunk))
            try:
                rows = self._db.execute(
                    "SELECT f.body, a.body, a.source_id FROM affected f JOIN advisory a ON a.id = f.advisory_id"
                    f" WHERE f.ecosystem = ? AND f.name IN ({marks})",
                    (ecosystem.lower(), *chunk),
                ).fetchall()
            except sqlite3.DatabaseError as error:
                raise VulnDBError(f"{self.path}: cannot be read ({error})") from None
            for affected_body, advisory_body, source_id in rows:
                yield AffectedMatch(
                    affected=affected_decoder.decode(affected_body),
                    advisory=advisory_decoder.decode(advisory_body),
                    data_source=sources[source_id],
                )

    def _data_sources(self) -> dict[int, DataSource]:
        if self._sources is None:
            try:
                rows = self._db.execute("SELECT id, kind, name, origin FROM source").fetchall()
            except sqlite3.DatabaseError as error:
                raise VulnDBError(f"{self.path}: cannot be read ({error})") from None
            self._sources = {source_id: DataSource(id=kind, name=name, url=origin) for source_id, kind, name, origin in rows}
        return self._sources

    # --- writing ----------------------------------------------------------------------------

    @contextmanager
    def replacing_source(self, *, kind: str, name: str, origin: str, origin_modified: str = "",
                         etag: str = "") -> Iterator[SourceWriter]:
        """A writer for one source's advisories; on success they replace what it brought before.

        Everything happens in one transaction: a failed import leaves the database as it was.
        """
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise VulnDBError(f"{self.path}: cannot write ({error}; is another import running?)") from None
        try:
            self._db.execute("DELETE FROM source WHERE origin = ?", (origin,))
            cursor = self._db.execute(
                "INSERT INTO source (kind, name, origin, imported_at, origin_modified, etag, advisories, skipped)"
                " VALUES (?, ?, ?, ?, ?, ?, 0, 0)",
                (kind, name, origin, _now(), origin_modified, etag),
            )
            writer = SourceWriter(self._db, cursor.lastrowid)
            yield writer
            self._db.execute(
                "UPDATE source SET advisories = ?, skipped = ?, kind = ?, name = ? WHERE id = ?",
                (writer.advisories, writer.skipped, writer.kind or kind, writer.name or name, writer.source_id),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._sources = None

    def _create(self) -> None:
        self._db.execute("PRAGMA journal_mode = DELETE")
        self._db.executescript("BEGIN;" + _SCHEMA + "COMMIT;")
        self._db.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))


class SourceWriter:
    """Adds one source's advisories inside ``replacing_source``'s transaction."""

    def __init__(self, db: sqlite3.Connection, source_id: int):
        self._db = db
        self.source_id = source_id
        self.advisories = 0
        self.skipped = 0
        self.kind = ""  # set by the importer once it knows what the source holds
        self.name = ""
        self._encoder = msgspec.json.Encoder()
        self._seen: set[str] = set()

    def add(self, advisory: Advisory) -> None:
        """Store one advisory (a second one with the same ID in this source replaces the first)."""
        if advisory.id in self._seen:
            self._db.execute("DELETE FROM advisory WHERE source_id = ? AND record_id = ?", (self.source_id, advisory.id))
            self.advisories -= 1
        self._seen.add(advisory.id)
        body = self._encoder.encode(msgspec.structs.replace(advisory, affected=()))
        cursor = self._db.execute(
            "INSERT INTO advisory (source_id, record_id, body) VALUES (?, ?, ?)", (self.source_id, advisory.id, body)
        )
        self._db.executemany(
            "INSERT INTO affected (advisory_id, ecosystem, name, body) VALUES (?, ?, ?, ?)",
            [(cursor.lastrowid, a.ecosystem.lower(), a.name, self._encoder.encode(a)) for a in advisory.affected],
        )
        self.advisories += 1


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
