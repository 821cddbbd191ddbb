"""Debian matching on a real debian:bookworm rootfs, with dpkg as the judge of every verdict.

No real Debian OSV corpus or tracker dump is reachable from here, so the advisories are
written for the real source packages and versions of the debootstrap'd bookworm image (the
``debian_rootfs_tar`` fixture), in both formats lamina reads: the Debian security tracker's
JSON and OSV records of ecosystem ``Debian:12``. Fixed versions are derived from the installed
ones (equal, just below, just above, another epoch), and ``dpkg --compare-versions`` decides
which packages must be reported.
"""

from __future__ import annotations

import json
import tarfile

import pytest

from lamina.security.inventory import Inventory, OSInfo, Package
from lamina.security.vulndb import import_sources, open_database
from lamina.security.vulndb.match import find_vulnerabilities

from . import oracles


def _bookworm_inventory(rootfs_tar) -> Inventory:
    """The dpkg status database of the rootfs as an inventory (source package and version included)."""
    with tarfile.open(rootfs_tar) as tar:
        status = tar.extractfile("./var/lib/dpkg/status").read().decode()
        debian_version = tar.extractfile("./etc/debian_version").read().decode().strip()
    packages = []
    for paragraph in status.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in paragraph.splitlines() if ": " in line and not line[0].isspace())
        if "installed" not in fields.get("Status", ""):
            continue
        epoch, _, version = fields["Version"].rpartition(":")
        source, _, source_version = fields.get("Source", fields["Package"]).partition(" (")
        source_version = source_version.rstrip(")") or fields["Version"]
        source_epoch, _, source_version = source_version.rpartition(":")
        packages.append(Package(
            name=fields["Package"], version=version, epoch=int(epoch or 0), kind="debian", ecosystem="Debian",
            purl=f"pkg:deb/debian/{fields['Package']}@{version}", source_name=source,
            source_version=source_version, source_epoch=int(source_epoch or 0), arch=fields.get("Architecture", ""),
        ))
    return Inventory(image_name="debian:bookworm", image_id="sha256:" + "0" * 64,
                     os=OSInfo(family="debian", name=debian_version), packages=packages, diff_ids=[])


def _source_versions(inventory: Inventory) -> dict[str, str]:
    return {p.source_name: (f"{p.source_epoch}:{p.source_version}" if p.source_epoch else p.source_version)
            for p in inventory.packages}


def _fix_candidates(installed: str) -> list[str]:
    epoch, colon, rest = installed.rpartition(":")
    upstream, _, revision = rest.rpartition("-")
    return [installed, installed + "~deb12u1", installed + "+deb12u1", f"{int(epoch or 0) + 1}:{rest}",
            (f"{epoch}:" if colon else "") + upstream + "-0", "0.1"]


@pytest.fixture(scope="module")
def bookworm(debian_rootfs_tar):
    return _bookworm_inventory(debian_rootfs_tar)


@pytest.mark.slow
def test_tracker_and_osv_records_match_by_source_package_exactly_where_dpkg_says_older(bookworm, tmp_path):
    sources = _source_versions(bookworm)
    assert {"glibc", "zlib", "util-linux", "e2fsprogs"} <= set(sources)  # binNMU, epoch and multi-binary sources
    tracker: dict[str, dict] = {}
    osv_records = []
    pairs = []  # (source, cve, installed source version, fixed version) for the oracle
    for index, source in enumerate(sorted(sources)):
        for candidate_index, fixed in enumerate(_fix_candidates(sources[source])):
            cve = f"CVE-2099-{index:03d}{candidate_index}"
            pairs.append((source, cve, sources[source], fixed))
            if candidate_index % 2:
                tracker.setdefault(source, {})[cve] = {
                    "description": "written for this test",
                    "releases": {"bookworm": {"status": "resolved", "fixed_version": fixed, "urgency": "low"}}}
            else:
                osv_records.append({"id": f"DEBIAN-{cve}", "aliases": [cve], "affected": [{
                    "package": {"ecosystem": "Debian:12", "name": source},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]})
    (tmp_path / "tracker.json").write_text(json.dumps(tracker))
    (tmp_path / "osv").mkdir()
    (tmp_path / "osv" / "all.json").write_text(json.dumps(osv_records))
    import_sources([str(tmp_path / "tracker.json"), str(tmp_path / "osv")], path=tmp_path / "vuln.db")

    verdicts = oracles.dpkg_compare([(installed, fixed) for _, _, installed, fixed in pairs], tmp_path)
    binaries: dict[str, list[str]] = {}
    for package in bookworm.packages:
        binaries.setdefault(package.source_name, []).append(package.name)
    expected = {(binary, cve) for (source, cve, _, _), verdict in zip(pairs, verdicts, strict=True) if verdict < 0
                for binary in binaries[source]}
    with open_database(path=tmp_path / "vuln.db") as db:
        found = find_vulnerabilities(bookworm, db)
    assert {(v.pkg_name, v.vulnerability_id) for v in found} == expected
    assert len(expected) > 100
    libc = next(v for v in found if v.pkg_name == "libc6")
    assert libc.installed_version == libc.package.full_version and libc.pkg_id == f"libc6@{libc.installed_version}"
    assert libc.status == "fixed" and libc.fixed_version


def test_tracker_statuses_map_to_trivys_words_and_other_releases_do_not_match(bookworm, tmp_path):
    tracker = {
        "coreutils": {"CVE-2099-0001": {"releases": {"bookworm": {"status": "open", "nodsa": "Minor issue",
                                                                 "nodsa_reason": "ignored"}}}},
        "gzip": {"CVE-2099-0002": {"releases": {"bookworm": {"status": "open", "nodsa_reason": "postponed"}}}},
        "tar": {"CVE-2099-0003": {"releases": {"bookworm": {"status": "open"}}},
                "CVE-2099-0004": {"releases": {"bullseye": {"status": "open"}}}},
        "bash": {"CVE-2099-0005": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "0"}}}},
        "sed": {"CVE-2099-0006": {"releases": {"bookworm": {"status": "undetermined"}}}},
    }
    (tmp_path / "tracker.json").write_text(json.dumps(tracker))
    import_sources([str(tmp_path / "tracker.json")], path=tmp_path / "vuln.db")
    with open_database(path=tmp_path / "vuln.db") as db:
        found = {v.vulnerability_id: v for v in find_vulnerabilities(bookworm, db)}
    assert {cve: (v.pkg_name, v.status, v.fixed_version) for cve, v in found.items()} == {
        "CVE-2099-0001": ("coreutils", "will_not_fix", ""),
        "CVE-2099-0002": ("gzip", "fix_deferred", ""),
        "CVE-2099-0003": ("tar", "affected", ""),
        "CVE-2099-0006": ("sed", "affected", ""),
    }
    assert all(v.severity == "UNKNOWN" for v in found.values())  # the tracker has no CVSS vectors
