"""Trivy as the judge of Debian matching: the same advisories in both databases, the same findings.

The advisories are written for the real source packages of the debootstrap'd bookworm image
(no real Debian corpus is reachable here): fixed versions around each installed source version
(equal, just below, just above, another epoch, a binNMU's source), and unfixed ones with the
tracker's statuses. lamina reads them as Debian tracker JSON; Trivy reads them from a BoltDB
in its own layout. Every (package, vulnerability, installed, fixed, status, PkgID) must agree.
"""

from __future__ import annotations

import json

import pytest

from lamina.security.vulndb import import_sources, open_database
from lamina.security.vulndb.match import find_vulnerabilities

from .scan_oracle import trivy_report
from .test_vulndb_debian import _bookworm_inventory, _fix_candidates, _source_versions
from .trivy_db import STATUS_NUMBERS, value, write_trivy_db

_UNFIXED = [("open", "", "affected"), ("open", "ignored", "will_not_fix"), ("open", "postponed", "fix_deferred")]


@pytest.mark.slow
def test_debian_findings_equal_trivys_on_the_same_advisories(lamina, debian_rootfs_tar, tmp_path):
    inventory = _bookworm_inventory(debian_rootfs_tar)
    sources = _source_versions(inventory)
    tracker: dict[str, dict] = {}
    trivy_debian: dict[str, dict] = {}
    trivy_details: dict[str, dict] = {}
    for index, source in enumerate(sorted(sources)):
        cases = [(fixed, "resolved", "", "fixed") for fixed in _fix_candidates(sources[source])]
        cases.append(("", *_UNFIXED[index % len(_UNFIXED)]))
        for case_index, (fixed, status, nodsa_reason, trivy_status) in enumerate(cases):
            cve = f"CVE-2099-{index:03d}{case_index}"
            state = {"status": status, "urgency": "low"}
            if fixed:
                state["fixed_version"] = fixed
            if nodsa_reason:
                state["nodsa"], state["nodsa_reason"] = "Minor issue", nodsa_reason
            tracker.setdefault(source, {})[cve] = {"description": f"test {cve}", "releases": {"bookworm": state}}
            trivy_debian.setdefault(source, {})[cve] = (
                value(FixedVersion=fixed) if fixed else value(Status=STATUS_NUMBERS[trivy_status]))
            trivy_details[cve] = value(Title=f"test {cve}")
    (tmp_path / "tracker.json").write_text(json.dumps(tracker))
    import_sources([str(tmp_path / "tracker.json")], path=tmp_path / "vuln.db")
    write_trivy_db({
        "debian 12": trivy_debian,
        "data-source": {"debian 12": value(ID="debian", Name="Debian Security Tracker",
                                           URL="https://salsa.debian.org/security-tracker-team/security-tracker")},
        "vulnerability": trivy_details,
    }, tmp_path / "trivy-cache")

    lamina.out("import", str(debian_rootfs_tar), "debian:bookworm")
    archive = tmp_path / "bookworm.tar"
    lamina.run("save", "-o", str(archive), "debian:bookworm")
    report = trivy_report(archive, tmp_path / "trivy-cache", "--scanners", "vuln")
    theirs = {(v["PkgName"], v["VulnerabilityID"], v["InstalledVersion"], v.get("FixedVersion", ""), v["Status"],
               v["PkgID"])
              for result in report.get("Results") or [] for v in result.get("Vulnerabilities") or []}

    with open_database(path=tmp_path / "vuln.db") as db:
        found = find_vulnerabilities(inventory, db)
    ours = {(v.pkg_name, v.vulnerability_id, v.installed_version, v.fixed_version, v.status, v.pkg_id) for v in found}
    assert len(theirs) > 100
    assert ours == theirs
    assert {status for *_, status, _ in theirs} == {"fixed", "affected", "will_not_fix", "fix_deferred"}
