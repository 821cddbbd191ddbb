"""lamina's vulnerability findings equal Trivy's when both read the same advisories.

The real PyPI OSV records in data/ are imported into lamina's database and, for Trivy, written
into a Trivy DB (its BoltDB layout, as in Trivy's own test fixtures
integration/testdata/fixtures/db/*.yaml) by trivy_db's bbolt writer (Debian's Go). Both
scanners then scan the same archive offline; their (package, installed version, ID, fixes) sets
must be equal.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from tests.security.scan_archives import python_app_archive
from tests.security.scan_oracle import trivy_binary
from tests.security.trivy_db import write_trivy_db
from tests.security.vulndb_sources import PYPI_RECORDS

BUCKET = "pip::Open Source Vulnerability"


def pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


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


def finding_rows(report: dict) -> set[tuple[str, str, str, frozenset[str]]]:
    return {(pep503(v["PkgName"]), v["InstalledVersion"], v["VulnerabilityID"],
             frozenset(filter(None, v.get("FixedVersion", "").split(", "))))
            for result in report.get("Results") or [] for v in result.get("Vulnerabilities") or []}


@pytest.mark.slow
def test_findings_equal_trivys_from_a_trivy_db_of_the_same_records(lamina, tmp_path):
    records = [yaml.safe_load(path.read_text()) for path in sorted(PYPI_RECORDS.rglob("*.yaml"))]
    archive = python_app_archive(tmp_path / "myapp.tar")
    cache = tmp_path / "trivy-cache"
    write_trivy_db(trivy_tree(records), cache)
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
