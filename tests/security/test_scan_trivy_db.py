"""lamina's vulnerability findings equal Trivy's when both read the same advisories.

The real PyPI OSV records in data/ are imported into lamina's database and, for Trivy, written
into a Trivy DB (its BoltDB layout, as in Trivy's own test fixtures
integration/testdata/fixtures/db/*.yaml) by a tiny bbolt writer built with Debian's Go. Both
scanners then scan the same archive offline; their (package, installed version, ID, fixes) sets
must be equal.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_tool
from tests.security.scan_archives import python_app_archive
from tests.security.scan_oracle import trivy_binary
from tests.security.vulndb_sources import PYPI_RECORDS

BOLTWRITE = Path(__file__).parent / "data" / "boltwrite" / "main.go"
GOPATH = "/usr/share/gocode"  # Debian's golang-*-dev packages install their sources here
BUCKET = "pip::Open Source Vulnerability"


def pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="session")
def boltwrite(tmp_path_factory) -> Path:
    go = require_tool("go", "golang-go")
    if not Path(GOPATH, "src", "go.etcd.io", "bbolt").is_dir():
        pytest.fail("bbolt's Go sources are missing: run 'make test' as root (installs golang-github-coreos-bbolt-dev)")
    out = tmp_path_factory.mktemp("boltwrite") / "boltwrite"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOCACHE": str(out.parent / "cache"),
           "GOFLAGS": ""}
    subprocess.run([go, "build", "-o", str(out), str(BOLTWRITE)], check=True, env=env, capture_output=True,
                   timeout=600)
    return out


def trivy_tree(records: list[dict]) -> dict:
    """The Trivy DB buckets for PyPI OSV records: advisories per package, details per ID, the source."""
    advisories: dict[str, dict[str, dict]] = {}
    details: dict[str, str] = {}
    for record in records:
        vuln_id = next((alias for alias in record.get("aliases") or [] if alias.startswith("CVE-")), record["id"])
        for affected in record["affected"]:
            if affected["package"]["ecosystem"] != "PyPI":
                continue
            entry = advisories.setdefault(pep503(affected["package"]["name"]), {}).setdefault(
                vuln_id, {"PatchedVersions": [], "VulnerableVersions": []})
            for version_range in affected.get("ranges") or []:
                if version_range["type"] != "ECOSYSTEM":
                    continue
                lower = ""
                for event in version_range["events"]:
                    if "introduced" in event:
                        lower = "" if str(event["introduced"]) == "0" else f">={event['introduced']}"
                    elif "fixed" in event or "last_affected" in event:
                        upper = f"<{event['fixed']}" if "fixed" in event else f"<={event['last_affected']}"
                        entry["VulnerableVersions"].append(", ".join(part for part in (lower, upper) if part))
                        if "fixed" in event:
                            entry["PatchedVersions"].append(str(event["fixed"]))
                        lower = None
                if lower is not None:  # introduced with no end: every later version
                    entry["VulnerableVersions"].append(lower or ">=0")
        details[vuln_id] = json.dumps({"Title": record.get("summary") or record["details"].split("\n")[0],
                                       "Description": record.get("details", ""), "Severity": "UNKNOWN"})
    return {
        BUCKET: {package: {vuln_id: json.dumps(entry) for vuln_id, entry in entries.items()}
                 for package, entries in advisories.items()},
        "vulnerability": details,
        "data-source": {BUCKET: json.dumps({"ID": "osv", "Name": "Python Packaging Advisory Database",
                                            "URL": "https://github.com/pypa/advisory-database"})},
    }


def write_trivy_db(cache: Path, boltwrite: Path, records: list[dict]) -> None:
    database = cache / "db"
    database.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(boltwrite), str(database / "trivy.db")], input=json.dumps(trivy_tree(records)).encode(),
                   check=True, capture_output=True)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (database / "metadata.json").write_text(json.dumps(
        {"Version": 2, "NextUpdate": "2999-01-01T00:00:00Z", "UpdatedAt": now, "DownloadedAt": now}))


def finding_rows(report: dict) -> set[tuple[str, str, str, frozenset[str]]]:
    return {(pep503(v["PkgName"]), v["InstalledVersion"], v["VulnerabilityID"],
             frozenset(filter(None, v.get("FixedVersion", "").split(", "))))
            for result in report.get("Results") or [] for v in result.get("Vulnerabilities") or []}


@pytest.mark.slow
def test_findings_equal_trivys_from_a_trivy_db_of_the_same_records(lamina, boltwrite, tmp_path):
    records = [yaml.safe_load(path.read_text()) for path in sorted(PYPI_RECORDS.rglob("*.yaml"))]
    archive = python_app_archive(tmp_path / "myapp.tar")
    cache = tmp_path / "trivy-cache"
    write_trivy_db(cache, boltwrite, records)
    done = subprocess.run([trivy_binary(), "image", "--input", str(archive), "--cache-dir", str(cache),
                           "--scanners", "vuln", "--skip-db-update", "--offline-scan", "--quiet",
                           "--format", "json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = finding_rows(json.loads(done.stdout))

    lamina.out("db", "import", str(PYPI_RECORDS))
    ours = finding_rows(json.loads(lamina.out("scan", f"docker-archive:{archive}", "--scanners", "vuln",
                                              "--format", "json")))
    assert len(theirs) >= 5, f"Trivy found too little, the DB layout is wrong: {theirs}"
    assert ours == theirs, f"only lamina: {sorted(ours - theirs)}\nonly Trivy: {sorted(theirs - ours)}"
    shutil.rmtree(cache, ignore_errors=True)
