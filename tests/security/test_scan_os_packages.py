"""OS packages in a scan report: Trivy's target ("IMAGE (debian 12.5)"), class and type, same findings."""

from __future__ import annotations

import json

from tests.security.scan_archives import write_docker_archive
from tests.security.scan_oracle import trivy_report
from tests.security.trivy_db import value, write_trivy_db

STATUS = """Package: openssl
Status: install ok installed
Priority: optional
Section: utils
Installed-Size: 2000
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - cryptographic utility

Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6000
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - shared libraries

Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 160
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime
"""

ADVISORIES = {  # source package → CVE → (fixed version or "" for unfixed)
    "openssl": {"CVE-2024-0727": "3.0.13-1~deb12u1", "CVE-2023-5678": "3.0.11-1~deb12u2", "CVE-2024-2511": ""},
    "zlib": {"CVE-2023-45853": ""},
}


def test_os_packages_are_one_result_named_and_typed_as_trivys(lamina, tmp_path):
    layers = [{"etc/os-release": b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
               "etc/debian_version": b"12.5\n", "var/lib/dpkg/status": STATUS.encode()}]
    archive = write_docker_archive(tmp_path / "deb.tar", layers)
    tracker = {source: {cve: {"description": f"test {cve}", "releases": {"bookworm": (
        {"status": "resolved", "fixed_version": fixed, "urgency": "low"} if fixed else
        {"status": "open", "urgency": "low"})}} for cve, fixed in cves.items()} for source, cves in ADVISORIES.items()}
    (tmp_path / "tracker.json").write_text(json.dumps(tracker))
    write_trivy_db({
        "debian 12": {source: {cve: value(FixedVersion=fixed) if fixed else value(Status=2)
                               for cve, fixed in cves.items()} for source, cves in ADVISORIES.items()},
        "data-source": {"debian 12": value(ID="debian", Name="Debian Security Tracker",
                                           URL="https://salsa.debian.org/security-tracker-team/security-tracker")},
        "vulnerability": {cve: value(Title=f"test {cve}") for cves in ADVISORIES.values() for cve in cves},
    }, tmp_path / "trivy-cache")
    lamina.out("db", "import", str(tmp_path / "tracker.json"))
    spec = f"docker-archive:{archive}"
    ours = json.loads(lamina.out("scan", spec, "--scanners", "vuln", "-f", "json"))
    theirs = trivy_report(archive, tmp_path / "trivy-cache", "--scanners", "vuln")

    def shape(report: dict, artifact: str) -> list[tuple]:
        return [(result["Target"].replace(artifact, "IMAGE"), result["Class"], result.get("Type"),
                 sorted((v["PkgName"], v["VulnerabilityID"], v["InstalledVersion"], v.get("FixedVersion", ""),
                         v["Status"]) for v in result.get("Vulnerabilities") or []))
                for result in report["Results"]]

    assert shape(ours, spec) == shape(theirs, theirs["ArtifactName"])
    assert ours["Metadata"]["OS"] == theirs["Metadata"]["OS"]
    assert shape(ours, spec)[0][0] == "IMAGE (debian 12.5)"
