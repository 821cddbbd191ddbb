"""``lamina db import / update / status`` through the real CLI, ``update`` against a local HTTP server."""

from __future__ import annotations

import functools
import json
import os
import threading
import zipfile
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from .vulndb_sources import ALPINE_SECDB, GO_RECORDS, PYPI_RECORDS, all_zip


@pytest.fixture
def osv_mirror(tmp_path):
    """A directory in osv.dev's bucket layout (``<Ecosystem>/all.zip``) served by http.server on loopback."""
    root = tmp_path / "mirror"
    all_zip(GO_RECORDS, root / "Go" / "all.zip")
    (root / "PyPI").mkdir()
    with zipfile.ZipFile(root / "PyPI" / "all.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for record_file in sorted(PYPI_RECORDS.rglob("*.yaml")):
            record = yaml.safe_load(record_file.read_text())
            archive.writestr(f"{record['id']}.json", json.dumps(record, default=str))
    stamp = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC).timestamp()
    os.utime(root / "Go" / "all.zip", (stamp, stamp))
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Mirror(url=f"http://127.0.0.1:{server.server_address[1]}", root=root)
    server.shutdown()
    server.server_close()


class Mirror(NamedTuple):
    url: str
    root: Path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        pass


def test_status_without_a_database_says_how_to_make_one(lamina):
    assert "lamina db import" in lamina.fails("db", "status")


def test_import_then_status_lists_each_source_with_its_origin(lamina):
    out = lamina.out("db", "import", str(PYPI_RECORDS), str(ALPINE_SECDB))
    assert f"{PYPI_RECORDS}: {len(list(PYPI_RECORDS.rglob('*.yaml')))} advisories (osv)" in out
    assert "(alpine-secdb)" in out
    status = json.loads(lamina.out("db", "status", "--format", "json"))
    assert status["Path"] == str(lamina.root / "vulndb" / "vuln.db")
    assert [(s["Kind"], s["Name"], s["Origin"]) for s in status["Sources"]] == [
        ("osv", "OSV PyPI", str(PYPI_RECORDS)), ("alpine-secdb", "Alpine secdb v3.11 main", str(ALPINE_SECDB))]
    table = lamina.out("db", "status")
    assert table.splitlines()[1].split()[:3] == ["KIND", "NAME", "ADVISORIES"]
    assert str(ALPINE_SECDB) in table


def test_a_malformed_record_is_a_warning_and_the_import_succeeds(lamina, tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    (records / "GO-2021-0113.json").write_text((GO_RECORDS / "GO-2021-0113.json").read_text())
    (records / "broken.json").write_text('{"id": "GO-BROKEN", "affected": [{"package": "x"}], "aliases": 3}')
    result = lamina.run("db", "import", str(records))
    stderr = result.stderr.decode()
    assert stderr.count("lamina: warning: ") == 1 and "broken.json" in stderr and "GO-BROKEN" in stderr
    assert "1 advisories (osv, 1 skipped)" in result.stdout.decode()


def test_import_of_garbage_and_of_a_missing_path_fail_with_one_line(lamina, tmp_path):
    (tmp_path / "garbage.bin").write_bytes(os.urandom(4096))
    assert "garbage.bin" in lamina.fails("db", "import", str(tmp_path / "garbage.bin"))
    assert "no such file" in lamina.fails("db", "import", str(tmp_path / "missing"))


def test_update_downloads_each_ecosystem_zip_and_records_where_and_when(lamina, osv_mirror):
    mirror = osv_mirror.url
    result = lamina.run("db", "update", "--source", mirror, "--ecosystem", "Go", "--ecosystem", "PyPI")
    assert f"downloading {mirror}/Go/all.zip" in result.stdout.decode()
    sources = {s["Origin"]: s for s in json.loads(lamina.out("db", "status", "-f", "json"))["Sources"]}
    go = sources[f"{mirror}/Go/all.zip"]
    assert go["Name"] == "OSV Go" and go["Advisories"] == len(list(GO_RECORDS.glob("*.json")))
    assert go["OriginModified"] == "2024-05-06T07:08:09Z"  # the server's Last-Modified
    assert sources[f"{mirror}/PyPI/all.zip"]["Advisories"] == len(list(PYPI_RECORDS.rglob("*.yaml")))
    # asked again, the server says "not modified": nothing is downloaded or imported
    assert f"{mirror}/Go/all.zip: unchanged ({go['Advisories']} advisories)" in lamina.out(
        "db", "update", "--source", mirror, "--ecosystem", "Go")
    unchanged = {s["Origin"]: s for s in json.loads(lamina.out("db", "status", "-f", "json"))["Sources"]}
    assert unchanged[go["Origin"]]["ImportedAt"] == go["ImportedAt"]
    # a newer file on the server is downloaded and replaces the source, never duplicates it
    newer = datetime(2024, 6, 1, tzinfo=UTC).timestamp()
    os.utime(osv_mirror.root / "Go" / "all.zip", (newer, newer))
    assert "unchanged" not in lamina.out("db", "update", "--source", mirror, "--ecosystem", "Go")
    again = {s["Origin"]: s for s in json.loads(lamina.out("db", "status", "-f", "json"))["Sources"]}
    assert again[go["Origin"]]["OriginModified"] == "2024-06-01T00:00:00Z"
    assert sorted(s["Advisories"] for s in again.values()) == sorted(s["Advisories"] for s in sources.values())
    assert not list((lamina.root / "vulndb").glob(".download-*"))


def test_update_reads_a_file_url_mirror_for_air_gapped_hosts(lamina, tmp_path):
    all_zip(GO_RECORDS, tmp_path / "mirror" / "Go" / "all.zip")
    lamina.run("db", "update", "--source", (tmp_path / "mirror").as_uri(), "--ecosystem", "Go")
    (source,) = json.loads(lamina.out("db", "status", "-f", "json"))["Sources"]
    assert source["Origin"] == (tmp_path / "mirror").as_uri() + "/Go/all.zip" and source["Advisories"] > 0


def test_update_of_a_missing_ecosystem_or_an_unreachable_source_fails_with_one_line(lamina, osv_mirror):
    mirror = osv_mirror.url
    assert f"{mirror}/npm/all.zip: HTTP 404" in lamina.fails("db", "update", "--source", mirror,
                                                                   "--ecosystem", "npm")
    assert "127.0.0.1:9" in lamina.fails("db", "update", "--source", "http://127.0.0.1:9", "--ecosystem", "Go")
