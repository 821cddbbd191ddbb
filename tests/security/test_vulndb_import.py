"""Importing advisory sources: every supported layout, replacement, and bad input.

Bad-input decisions (docs/security.md): a malformed record is skipped with one warning naming
the file and the record and the import goes on; an unrecognised path, a broken zip or a zip
bomb fails that path's import with one line and leaves the database as it was.
"""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest

from lamina.security.vulndb import import_sources, open_database
from lamina.security.vulndb.database import open_for_import
from lamina.security.vulndb.errors import VulnDBError
from lamina.security.vulndb.importer import import_path

from .vulndb_sources import ALPINE_SECDB, GO_RECORDS, PYPI_RECORDS, all_zip, zip_bomb


def _count_files(directory, pattern):
    return len(list(directory.rglob(pattern)))


def test_a_directory_of_osv_yaml_records_imports_every_record(tmp_path):
    (report,) = import_sources([str(PYPI_RECORDS)], path=tmp_path / "vuln.db")
    assert report.kind == "osv" and report.skipped == 0
    assert report.advisories == _count_files(PYPI_RECORDS, "*.yaml")


def test_an_osv_all_zip_imports_every_record(tmp_path):
    archive = all_zip(GO_RECORDS, tmp_path / "Go" / "all.zip")
    (report,) = import_sources([str(archive)], path=tmp_path / "vuln.db")
    assert report.advisories == _count_files(GO_RECORDS, "*.json")
    with open_database(path=tmp_path / "vuln.db") as db:
        (source,) = db.sources()
        assert source.name == "OSV Go" and source.origin == str(archive.resolve())
        # indexed by ecosystem and package: every Go sample names golang.org/x/net or stdlib
        assert {m.advisory.id for m in db.affected("Go", ["stdlib"])} >= {"GO-2022-0969", "GO-2023-2102"}


def test_an_alpine_secdb_document_imports_one_advisory_per_cve(tmp_path):
    import yaml

    document = yaml.safe_load(ALPINE_SECDB.read_text())
    cves = {cve for p in document["packages"] for version, ids in (p["pkg"]["secfixes"] or {}).items()
            if str(version) != "0" for cve in ids}
    (report,) = import_sources([str(ALPINE_SECDB)], path=tmp_path / "vuln.db")
    assert report.kind == "alpine-secdb" and report.advisories == len(cves)
    with open_database(path=tmp_path / "vuln.db") as db:
        (match,) = [m for m in db.affected("Alpine", ["musl"]) if m.advisory.id == "CVE-2019-14697"]
        assert match.affected.release == "v3.11"


def test_importing_the_same_source_again_replaces_it(tmp_path):
    db_path = tmp_path / "vuln.db"
    import_sources([str(PYPI_RECORDS)], path=db_path)
    first = open_database(path=db_path).sources()
    import_sources([str(PYPI_RECORDS)], path=db_path)
    with open_database(path=db_path) as db:
        (source,) = db.sources()
        assert source.advisories == first[0].advisories
        jinja = [m.advisory.id for m in db.affected("PyPI", ["jinja2"])]
        assert len(jinja) == len(set(jinja)) == _count_files(PYPI_RECORDS / "jinja2", "*.yaml")


def test_a_malformed_record_is_one_warning_naming_file_and_record_and_the_rest_imports(tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    good = json.loads((GO_RECORDS / "GO-2021-0113.json").read_text())
    (records / "GO-2021-0113.json").write_text(json.dumps(good))
    (records / "GO-BAD-1.json").write_text(json.dumps({**good, "id": "GO-BAD-1", "affected": "everything"}))
    (records / "GO-BAD-2.json").write_text('{"id": "GO-BAD-2", "affected": [')
    (report,) = import_sources([str(records)], path=tmp_path / "vuln.db")
    assert report.advisories == 1 and report.skipped == 2
    assert len(report.warnings) == 2
    assert any("GO-BAD-1.json" in w and "record GO-BAD-1" in w and "'affected'" in w for w in report.warnings)
    assert any("GO-BAD-2.json" in w and "not JSON" in w for w in report.warnings)
    assert all("\n" not in w for w in report.warnings)


def test_a_path_with_nothing_recognisable_fails_with_one_line(tmp_path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(VulnDBError, match="garbage.bin") as failure:
        import_sources([str(garbage)], path=tmp_path / "vuln.db")
    assert "\n" not in str(failure.value)


def test_a_zip_bomb_fails_in_bounded_time_and_memory_and_leaves_the_database_as_it_was(tmp_path):
    db_path = tmp_path / "vuln.db"
    import_sources([str(all_zip(GO_RECORDS, tmp_path / "Go" / "all.zip"))], path=db_path)
    before = open_database(path=db_path).sources()
    bomb = zip_bomb(tmp_path / "bomb.zip")
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    started = time.monotonic()
    with open_for_import(path=db_path) as db, pytest.raises(VulnDBError, match=r"bomb\.zip:GO-0000-0000\.json.*zip bomb"):
        import_path(db, bomb)
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 5 and peak < 80 << 20
    assert open_database(path=db_path).sources() == before


def test_a_truncated_zip_fails_with_one_line(tmp_path):
    archive = all_zip(GO_RECORDS, tmp_path / "all.zip")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(VulnDBError, match="truncated.zip"):
        import_sources([str(truncated)], path=tmp_path / "vuln.db")


def test_a_garbage_database_file_is_one_line_naming_it(tmp_path):
    db_path = tmp_path / "vuln.db"
    db_path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(VulnDBError, match=r"vuln\.db is not a lamina vulnerability database"):
        open_database(path=db_path)


def test_a_missing_database_says_how_to_make_one(tmp_path):
    with pytest.raises(VulnDBError, match="lamina db import"):
        open_database(str(tmp_path / "store"))


def test_a_yaml_alias_bomb_and_deeply_nested_json_are_skipped_in_bounded_time(tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    lines = ["id: PYSEC-BOMB-1", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 12)]  # 9**12 if expanded
    lines += ["aliases: *a11", "references: *a11",
              "affected: [{package: {ecosystem: PyPI, name: x}, versions: *a11, ranges: [{type: ECOSYSTEM, events: *a11}]}]"]
    (records / "PYSEC-BOMB-1.yaml").write_text("\n".join(lines) + "\n")
    (records / "deep.json").write_text('{"id": "X", "affected": ' + "[" * 100_000 + "]" * 100_000 + "}")
    (records / "GO-2021-0113.json").write_text((GO_RECORDS / "GO-2021-0113.json").read_text())
    started = time.monotonic()
    (report,) = import_sources([str(records)], path=tmp_path / "vuln.db")
    assert time.monotonic() - started < 5
    assert report.advisories == 1 and report.skipped == 2
    assert any("deep.json" in w and "nested too deeply" in w for w in report.warnings)
    assert any("PYSEC-BOMB-1" in w for w in report.warnings)


def test_a_malformed_tracker_entry_is_skipped_with_a_warning_naming_package_and_cve(tmp_path):
    tracker = {
        "glibc": {"CVE-2099-0001": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "2.36-9+deb12u9"}}},
                  "CVE-2099-0002": "not an object"},
        "zlib": {"CVE-2099-0003": {"releases": {"bookworm": {"urgency": "low"}}}},
    }
    (tmp_path / "tracker.json").write_text(json.dumps(tracker))
    (report,) = import_sources([str(tmp_path / "tracker.json")], path=tmp_path / "vuln.db")
    assert report.kind == "debian-tracker" and report.advisories == 1 and report.skipped == 2
    assert any("glibc CVE-2099-0002" in w for w in report.warnings)
    assert any("zlib CVE-2099-0003" in w and "status" in w for w in report.warnings)


def test_a_second_writer_waits_and_then_fails_with_one_line_naming_the_database(tmp_path):
    import sqlite3

    from lamina.security.vulndb import database

    db_path = tmp_path / "vuln.db"
    import_sources([str(PYPI_RECORDS)], path=db_path)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another import holds the write lock
    try:
        db = database.VulnDatabase(db_path, create=False)
        db._db.execute("PRAGMA busy_timeout = 200")
        with pytest.raises(VulnDBError, match=r"vuln\.db: cannot write .*another import"):
            import_path(db, GO_RECORDS)
        assert [s.origin for s in db.sources()] == [str(PYPI_RECORDS)]  # readers are not blocked
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_database_damaged_after_opening_is_one_line_when_read(tmp_path):
    db_path = tmp_path / "vuln.db"
    import_sources([str(PYPI_RECORDS)], path=db_path)
    with open_database(path=db_path) as db:
        data = bytearray(db_path.read_bytes())
        data[4096:] = bytes(len(data) - 4096)  # every page after the first zeroed
        db_path.write_bytes(data)
        with pytest.raises(VulnDBError, match=r"vuln\.db: cannot be read"):
            list(db.affected("PyPI", ["jinja2"]))


def test_a_database_of_another_schema_version_is_refused_for_reading_and_replaced_by_an_import(tmp_path):
    import sqlite3

    db_path = tmp_path / "vuln.db"
    import_sources([str(PYPI_RECORDS)], path=db_path)
    with sqlite3.connect(db_path) as old:
        old.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    with pytest.raises(VulnDBError, match=r"schema version 0.*lamina db import"):
        open_database(path=db_path)
    (report,) = import_sources([str(GO_RECORDS)], path=db_path)
    with open_database(path=db_path) as db:
        assert [s.origin for s in db.sources()] == [report.origin]
