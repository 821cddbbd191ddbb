"""One schema owner: every table of metadata.db is declared in store/schema.py, a store of the
oldest released schema is migrated on open with every row kept, a newer one is refused, and no
SQL on the store's metadata is written outside store/."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from lamina.store import schema
from lamina.store.metadata import Metadata
from tests.conftest import Lamina

SRC = Path(__file__).resolve().parents[2] / "src" / "lamina"

# The first released store (commit 40a811f, store/metadata.py, user_version 1), kept as data.
OLDEST_IMAGE_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, config_media_type TEXT NOT NULL, created TEXT NOT NULL DEFAULT '',
    created_ts REAL NOT NULL DEFAULT 0, size INTEGER NOT NULL, parent TEXT NOT NULL DEFAULT '',
    labels TEXT NOT NULL DEFAULT '{}', added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, position INTEGER NOT NULL,
    diff_id TEXT NOT NULL, PRIMARY KEY (image_id, position)
);
CREATE INDEX IF NOT EXISTS image_layers_diff ON image_layers(diff_id);
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT NOT NULL, blob_digest TEXT NOT NULL, media_type TEXT NOT NULL, blob_size INTEGER NOT NULL,
    diff_size INTEGER NOT NULL, PRIMARY KEY (diff_id, blob_digest)
);
CREATE TABLE IF NOT EXISTS manifests (
    digest TEXT PRIMARY KEY, media_type TEXT NOT NULL, image_id TEXT NOT NULL DEFAULT '',
    platform TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS index_children (
    index_digest TEXT NOT NULL, child_digest TEXT NOT NULL, PRIMARY KEY (index_digest, child_digest)
);
CREATE TABLE IF NOT EXISTS tags (
    name TEXT PRIMARY KEY, repository TEXT NOT NULL, tag TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id), target_digest TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id);
CREATE TABLE IF NOT EXISTS repo_digests (
    repository TEXT NOT NULL, manifest_digest TEXT NOT NULL, image_id TEXT NOT NULL REFERENCES images(id),
    PRIMARY KEY (repository, manifest_digest)
);
CREATE INDEX IF NOT EXISTS repo_digests_image ON repo_digests(image_id);
"""
# Tables version-1 stores gained lazily, as their first commits created them (371f4f4 build/cache.py,
# 2b86207 registry/locations.py).
OLDEST_LAZY_TABLES = """
CREATE TABLE IF NOT EXISTS build_cache (
    parent TEXT NOT NULL, key TEXT NOT NULL, image_id TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (parent, key)
);
CREATE TABLE IF NOT EXISTS blob_locations (
    blob_digest TEXT NOT NULL, registry TEXT NOT NULL, repository TEXT NOT NULL,
    PRIMARY KEY (blob_digest, registry, repository));
"""
IMAGE_TABLES = ("images", "image_layers", "layers", "manifests", "index_children", "tags", "repo_digests")


def _rows(database: Path, table: str) -> list[tuple]:
    with sqlite3.connect(database) as db:
        return sorted(db.execute(f"SELECT * FROM {table}").fetchall())


def _oldest_store(lamina: Lamina, busybox_tar: Path, *, lazy_tables: bool) -> dict[str, list[tuple]]:
    """A store whose metadata.db has the oldest schema (version 1), holding a real image, and
    the rows it was filled with, by table."""
    image_id = lamina.out("import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]').strip()
    lamina.out("tag", "busybox:latest", "example.test/old/busybox:1")
    current = lamina.root / "metadata.db"
    rows = {table: _rows(current, table) for table in IMAGE_TABLES}
    for suffix in ("", "-wal", "-shm"):
        Path(f"{current}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(current) as db:
        db.executescript(OLDEST_IMAGE_SCHEMA + ("" if not lazy_tables else OLDEST_LAZY_TABLES))
        for table, values in rows.items():
            for row in values:
                db.execute(f"INSERT INTO {table} VALUES ({','.join('?' * len(row))})", row)
        if lazy_tables:
            rows["build_cache"] = [("", "k" * 64, image_id, 1.5)]
            rows["blob_locations"] = [(image_id, "registry.example.test", "old/busybox")]
            for table in ("build_cache", "blob_locations"):
                for row in rows[table]:
                    db.execute(f"INSERT INTO {table} VALUES ({','.join('?' * len(row))})", row)
        db.execute("PRAGMA user_version=1")
    assert rows["images"] and rows["tags"] and rows["layers"]
    return rows


@pytest.mark.parametrize("lazy_tables", [False, True], ids=["images-only", "with-lazy-tables"])
def test_oldest_store_is_migrated_with_every_row(lamina: Lamina, busybox_tar: Path, lazy_tables: bool):
    rows = _oldest_store(lamina, busybox_tar, lazy_tables=lazy_tables)
    listing = lamina.out("images")
    assert "busybox" in listing and "example.test/old/busybox" in listing
    assert "0 problems, clean" in lamina.out("fsck")
    database = lamina.root / "metadata.db"
    for table, values in rows.items():
        assert _rows(database, table) == values, table
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    declared = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", schema.IMAGE_TABLES + schema.OWNER_TABLES))
    assert declared <= tables
    # the migrated store works for the other owners at once: a cache row's image is found, ps is empty
    assert lamina.out("ps", "-a").splitlines()[1:] == []
    if lazy_tables:
        from lamina.store.repos.build import BuildCacheRows

        meta = Metadata(database)
        try:
            assert BuildCacheRows(meta).lookup("", "k" * 64) == rows["build_cache"][0][2]
        finally:
            meta.close()


def test_newer_schema_is_refused(lamina: Lamina, imported_busybox: str, tmp_path: Path):
    database = lamina.root / "metadata.db"
    with sqlite3.connect(database) as db:
        db.execute(f"PRAGMA user_version={schema.SCHEMA_VERSION + 1}")
    before = _rows(database, "images")
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN true\n")
    # the store's doors: images, the no-op rebuild door, the run door, the containers' table
    for args in (["images"], ["build", "-t", "x", str(context)], ["run", "--rm", "busybox", "true"], ["ps"]):
        error = lamina.fails(*args)
        assert "metadata.db" in error and f"version {schema.SCHEMA_VERSION + 1} is newer" in error, args
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION + 1
    assert _rows(database, "images") == before


def test_failed_migration_leaves_the_old_version(tmp_path: Path, monkeypatch):
    """One transaction: a step that fails midway leaves no new table and the old version."""
    database = tmp_path / "metadata.db"
    with sqlite3.connect(database) as db:
        db.executescript(OLDEST_IMAGE_SCHEMA)
        db.execute("PRAGMA user_version=1")
    monkeypatch.setitem(schema.MIGRATIONS, 1, schema.OWNER_TABLES + "; CREATE TABLE broken (")
    with pytest.raises(sqlite3.OperationalError):
        Metadata(database)
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == set(IMAGE_TABLES)


def test_new_store_has_every_table(tmp_path: Path):
    meta = Metadata(tmp_path / "metadata.db")
    try:
        tables = {r[0] for r in meta.query("SELECT name FROM sqlite_master WHERE type='table'")}
        assert meta.query("PRAGMA user_version")[0][0] == schema.SCHEMA_VERSION
    finally:
        meta.close()
    assert tables == set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", schema.IMAGE_TABLES + schema.OWNER_TABLES))


# SQL on metadata.db lives under store/; these keep databases of their own.
OTHER_DATABASES = {"security/vulndb/database.py", "security/sbom/rpmdb.py"}
SQL_CALL = re.compile(r"\.(execute|executemany|executescript|query)\(|\.transaction\(\)|\bmeta\.connection\b")


def _sources() -> list[tuple[str, str]]:
    return [(str(p.relative_to(SRC)), p.read_text()) for p in sorted(SRC.rglob("*.py"))]


def test_tables_are_created_in_schema_only():
    creators = [name for name, text in _sources()
                if re.search(r"CREATE (TABLE|INDEX|UNIQUE INDEX)", text)
                and name != "store/schema.py" and name not in OTHER_DATABASES]
    assert creators == [], f"tables must be declared in store/schema.py, not in {creators}"


def test_no_metadata_sql_outside_store():
    offenders = [f"{name}:{number}" for name, text in _sources()
                 if not name.startswith("store/") and name not in OTHER_DATABASES
                 for number, line in enumerate(text.splitlines(), 1) if SQL_CALL.search(line)]
    assert offenders == [], f"SQL outside store/ (add a method to a store/repos class instead): {offenders}"


def test_every_table_naming_an_image_is_a_root_or_declared_not_one(tmp_path: Path):
    """A new table with an ``image_id`` column must say, in store/gcroots.py, whether it keeps the image."""
    from lamina.store import gcroots

    meta = Metadata(tmp_path / "metadata.db")
    try:
        tables = [r[0] for r in meta.query("SELECT name FROM sqlite_master WHERE type='table'")]
        naming = {t for t in tables if any(c[1] == "image_id" for c in meta.query(f"PRAGMA table_info({t})"))}
    finally:
        meta.close()
    roots = {re.search(r"FROM (\w+)", sql).group(1) for sql in gcroots.IMAGE_ROOTS.values()}
    assert naming, "no table names an image?"
    assert naming - roots - set(gcroots.NOT_ROOTS) == set()
    assert set(gcroots.NOT_ROOTS) <= set(tables)


def test_two_processes_migrate_an_old_store_once(lamina: Lamina, busybox_tar: Path):
    import subprocess

    rows = _oldest_store(lamina, busybox_tar, lazy_tables=True)
    openers = [subprocess.Popen(lamina_command, env=lamina.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for lamina_command in ([*_cli(), "images"], [*_cli(), "fsck"])]
    outputs = [opener.communicate(timeout=120) for opener in openers]
    assert [opener.returncode for opener in openers] == [0, 0], outputs
    assert b"busybox" in outputs[0][0] and b"0 problems, clean" in outputs[1][0]
    database = lamina.root / "metadata.db"
    for table, values in rows.items():
        assert _rows(database, table) == values, table


def _cli() -> list[str]:
    import sys

    return [sys.executable, "-m", "lamina"]
