"""Matching inventories against real advisories: each ecosystem's order, ranges, aliases, distros."""

from __future__ import annotations

import json
import time
import zipfile

import pytest
import yaml

from lamina.security.inventory import Inventory, OSInfo, Package
from lamina.security.vulndb import import_sources, open_database
from lamina.security.vulndb.match import find_vulnerabilities

from .vulndb_sources import ALPINE_SECDB, GO_RECORDS, PYPI_RECORDS, all_zip


def _inventory(packages: list[Package], os_info: OSInfo | None = None) -> Inventory:
    return Inventory(image_name="test", image_id="sha256:" + "0" * 64, os=os_info, packages=packages, diff_ids=[])


def _pypi(name: str, version: str) -> Package:
    return Package(name=name, version=version, kind="python-pkg", ecosystem="PyPI", purl=f"pkg:pypi/{name}@{version}")


def _go(name: str, version: str) -> Package:
    return Package(name=name, version=version, kind="gobinary", ecosystem="Go", purl=f"pkg:golang/{name}@{version}")


@pytest.fixture(scope="module")
def ranges_only_pypi_db(tmp_path_factory):
    """The real PyPI records with their explicit ``versions`` lists removed: ranges alone decide."""
    directory = tmp_path_factory.mktemp("pypi-ranges")
    records = {}
    for record_file in sorted(PYPI_RECORDS.rglob("*.yaml")):
        record = yaml.safe_load(record_file.read_text())
        records[record["id"]] = record
        stripped = {**record, "affected": [{k: v for k, v in a.items() if k != "versions"} for a in record["affected"]]}
        (directory / f"{record['id']}.json").write_text(json.dumps(stripped, default=str))
    db_path = directory / "vuln.db"
    import_sources([str(directory)], path=db_path)
    return db_path, records


def test_pep440_ranges_agree_with_each_records_own_list_of_affected_versions(ranges_only_pypi_db):
    """pypa's records enumerate every released version their ranges cover: the ranges must say the same."""
    db_path, records = ranges_only_pypi_db
    packages, expected = [], set()
    for record_id, record in records.items():
        for affected in record["affected"]:
            name = affected["package"]["name"]
            for version in affected.get("versions", []):
                packages.append(_pypi(name, str(version)))
                expected.add((name, str(version), record_id))
    assert len(expected) > 300
    with open_database(path=db_path) as db:
        found = find_vulnerabilities(_inventory(packages), db)
    found_keys = {(v.pkg_name, v.installed_version, record_id)
                  for v in found for record_id in (v.vulnerability_id, *v.aliases)}
    assert not expected - found_keys


def test_a_fixed_version_is_not_affected_and_the_finding_names_the_fix(ranges_only_pypi_db):
    db_path, records = ranges_only_pypi_db
    record = records["PYSEC-2019-217"]  # jinja2 < 2.10.1, CVE-2019-10906
    with open_database(path=db_path) as db:
        at_fix = find_vulnerabilities(_inventory([_pypi("Jinja2", "2.10.1")]), db)
        before_fix = find_vulnerabilities(_inventory([_pypi("Jinja2", "2.10")]), db)
    assert "CVE-2019-10906" not in {v.vulnerability_id for v in at_fix}
    (finding,) = [v for v in before_fix if v.vulnerability_id == "CVE-2019-10906"]
    assert finding.fixed_version == "2.10.1" and finding.status == "fixed"
    assert set(finding.aliases) == set(record["aliases"]) - {"CVE-2019-10906"} | {"PYSEC-2019-217"}
    assert finding.pkg_id == "Jinja2@2.10" and finding.pkg_purl == "pkg:pypi/Jinja2@2.10"
    assert finding.data_source is not None and finding.data_source.id == "osv"


def test_severity_is_the_records_cvss_v3_base_score(tmp_path):
    import_sources([str(PYPI_RECORDS)], path=tmp_path / "vuln.db")
    with open_database(path=tmp_path / "vuln.db") as db:
        found = find_vulnerabilities(_inventory([_pypi("aiohttp", "3.8.5"), _pypi("jinja2", "2.10")]), db)
    by_id = {v.vulnerability_id: v for v in found}
    smuggling = by_id["CVE-2023-47627"]  # CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N
    assert smuggling.cvss_vector.startswith("CVSS:3.1/") and smuggling.cvss_score == 7.5
    assert smuggling.severity == "HIGH"
    assert by_id["CVE-2019-10906"].severity == "UNKNOWN" and by_id["CVE-2019-10906"].cvss_score is None


def test_go_semver_ranges_pseudo_versions_and_incompatible(tmp_path):
    import_sources([str(all_zip(GO_RECORDS, tmp_path / "all.zip"))], path=tmp_path / "vuln.db")
    inventory = _inventory([
        _go("stdlib", "v1.21.1"),  # GO-2023-2102: fixed in 1.20.10 and 1.21.3
        _go("golang.org/x/net", "v0.0.0-20220906165145-000000000000"),  # one second before GO-2022-0969's fix
        _go("golang.org/x/text", "v0.3.7"),  # GO-2021-0113 fixed exactly here
        _go("github.com/docker/distribution", "v2.6.2+incompatible"),  # GO-2021-0072: fixed 2.7.0-rc.0+incompatible
    ])
    with open_database(path=tmp_path / "vuln.db") as db:
        found = {(v.pkg_name, v.vulnerability_id): v for v in find_vulnerabilities(inventory, db)}
    assert found["stdlib", "CVE-2023-39325"].fixed_version == "1.20.10, 1.21.3"
    assert ("stdlib", "CVE-2022-27664") not in found  # GO-2022-0969: 1.21.1 is past both fixes
    assert ("golang.org/x/net", "CVE-2022-27664") in found
    assert not [key for key in found if key[0] == "golang.org/x/text"]
    assert found["github.com/docker/distribution", "CVE-2017-11468"].aliases == ("GHSA-h62f-wm92-2cmw", "GO-2021-0072")


def test_records_from_different_sources_about_one_vulnerability_merge_into_one_finding(tmp_path):
    """A GHSA record and the GO record of the same CVE: one finding, every ID, the vector of the one that has it."""
    go_record = json.loads((GO_RECORDS / "GO-2022-0969.json").read_text())
    ghsa = {**go_record, "id": "GHSA-69cg-p879-7622", "aliases": ["CVE-2022-27664", "GO-2022-0969"],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}]}
    (tmp_path / "ghsa").mkdir()
    (tmp_path / "ghsa" / "GHSA-69cg-p879-7622.json").write_text(json.dumps(ghsa))
    import_sources([str(GO_RECORDS), str(tmp_path / "ghsa")], path=tmp_path / "vuln.db")
    inventory = _inventory([_go("golang.org/x/net", "v0.0.0-20220101000000-000000000000")])
    with open_database(path=tmp_path / "vuln.db") as db:
        found = [v for v in find_vulnerabilities(inventory, db) if "GO-2022-0969" in (v.vulnerability_id, *v.aliases)]
    (finding,) = found
    assert finding.vulnerability_id == "CVE-2022-27664"
    assert finding.aliases == ("GHSA-69cg-p879-7622", "GO-2022-0969")
    assert finding.severity == "HIGH" and finding.cvss_score == 7.5


def _apk(name: str, version: str, origin: str) -> Package:
    return Package(name=name, version=version, kind="alpine", ecosystem="Alpine", source_name=origin,
                   purl=f"pkg:apk/alpine/{name}@{version}")


def test_alpine_records_match_by_origin_package_in_their_release_only(tmp_path):
    import_sources([str(ALPINE_SECDB)], path=tmp_path / "vuln.db")
    packages = [_apk("libcrypto1.1", "1.1.1d-r2", "openssl"), _apk("libssl1.1", "1.1.1d-r3", "openssl"),
                _apk("musl", "1.1.24-r0", "musl")]
    with open_database(path=tmp_path / "vuln.db") as db:
        in_3_11 = find_vulnerabilities(_inventory(packages, OSInfo(family="alpine", name="3.11.6")), db)
        in_3_12 = find_vulnerabilities(_inventory(packages, OSInfo(family="alpine", name="3.12.0")), db)
    assert {(v.pkg_name, v.vulnerability_id, v.fixed_version) for v in in_3_11} == {
        ("libcrypto1.1", "CVE-2019-1551", "1.1.1d-r3")}
    assert in_3_12 == []


@pytest.mark.slow
def test_a_warm_scan_of_a_large_database_is_index_driven(tmp_path):
    """20 000 advisories over 5 000 packages: opening the DB and matching 300 packages stays well under Trivy's 0.4 s."""
    archive = tmp_path / "PyPI" / "all.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for n in range(20_000):
            record = {"id": f"PYSEC-9999-{n}", "aliases": [f"CVE-2099-{n}"], "details": "synthetic",
                      "affected": [{"package": {"ecosystem": "PyPI", "name": f"package-{n % 5000}"},
                                    "ranges": [{"type": "ECOSYSTEM", "events": [
                                        {"introduced": "0"}, {"fixed": f"{n % 7}.{n % 11}.1"}]}]}]}
            out.writestr(f"PYSEC-9999-{n}.json", json.dumps(record))
    started = time.perf_counter()
    import_sources([str(archive)], path=tmp_path / "vuln.db")
    first_import = time.perf_counter() - started
    started = time.perf_counter()
    import_sources([str(archive)], path=tmp_path / "vuln.db")  # replaces the source: deletes by index
    assert time.perf_counter() - started < 2 * first_import + 1
    inventory = _inventory([_pypi(f"Package_{i * 16}", "3.5.0") for i in range(300)])
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        with open_database(path=tmp_path / "vuln.db") as db:
            found = find_vulnerabilities(inventory, db)
        timings.append(time.perf_counter() - started)
    assert len(found) > 300
    assert min(timings) < 0.2, timings


def test_ubuntu_records_match_their_release_and_pro_records_match_no_plain_image(tmp_path):
    records = [{"id": f"UBUNTU-CVE-2099-000{n}", "aliases": [f"CVE-2099-000{n}"], "affected": [{
        "package": {"ecosystem": ecosystem, "name": "openssl"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.2-0ubuntu1.15"}]}]}]}
        for n, ecosystem in enumerate(["Ubuntu:22.04:LTS", "Ubuntu:Pro:22.04:LTS", "Ubuntu:20.04:LTS"])]
    (tmp_path / "ubuntu.json").write_text(json.dumps(records))
    import_sources([str(tmp_path / "ubuntu.json")], path=tmp_path / "vuln.db")
    libssl = Package(name="libssl3", version="3.0.2-0ubuntu1.10", kind="ubuntu", ecosystem="Ubuntu",
                     source_name="openssl", purl="pkg:deb/ubuntu/libssl3@3.0.2-0ubuntu1.10")
    with open_database(path=tmp_path / "vuln.db") as db:
        found = find_vulnerabilities(_inventory([libssl], OSInfo(family="ubuntu", name="22.04")), db)
    assert [(v.vulnerability_id, v.fixed_version) for v in found] == [("CVE-2099-0000", "3.0.2-0ubuntu1.15")]


def test_red_hat_stream_records_match_the_major_release_with_rpm_order_and_epochs(tmp_path):
    records = [{"id": f"RHSA-2099:000{n}", "aliases": [f"CVE-2099-100{n}"], "affected": [{
        "package": {"ecosystem": ecosystem, "name": "openssl"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]}
        for n, (ecosystem, fixed) in enumerate([("Red Hat:enterprise_linux:9::baseos", "1:3.0.7-18.el9_2"),
                                                ("Red Hat:enterprise_linux:9::baseos", "1:3.0.7-16.el9_2"),
                                                ("Red Hat:enterprise_linux:8::baseos", "1:1.1.1k-9.el8_7")])]
    (tmp_path / "rhsa.json").write_text(json.dumps(records))
    import_sources([str(tmp_path / "rhsa.json")], path=tmp_path / "vuln.db")
    openssl = Package(name="openssl", version="3.0.7", release="17.el9_2", epoch=1, kind="redhat",
                      ecosystem="Red Hat", purl="pkg:rpm/redhat/openssl@3.0.7-17.el9_2?epoch=1")
    with open_database(path=tmp_path / "vuln.db") as db:
        found = find_vulnerabilities(_inventory([openssl], OSInfo(family="redhat", name="9.2")), db)
    assert [(v.vulnerability_id, v.fixed_version, v.installed_version) for v in found] == [
        ("CVE-2099-1000", "1:3.0.7-18.el9_2", "1:3.0.7-17.el9_2")]


def test_osv_range_events_last_affected_several_ranges_and_explicit_versions(tmp_path):
    """OSV's evaluation on npm records: events out of order, last_affected, versions-only records."""
    records = [
        {"id": "GHSA-aaaa-0001", "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"}, "ranges": [
            {"type": "SEMVER", "events": [{"fixed": "1.3.1"}, {"introduced": "1.2.0"}, {"introduced": "2.0.0-rc.1"},
                                          {"last_affected": "2.1.0"}]}]}]},
        {"id": "GHSA-aaaa-0002", "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
                                               "versions": ["0.9.0", "3.0.0-beta.2"]}]},
        {"id": "GHSA-aaaa-0003", "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"}, "ranges": [
            {"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "not-a-version"}]},
            {"type": "GIT", "repo": "https://example.invalid/left-pad", "events": [{"introduced": "0"}]}]}]},
    ]
    (tmp_path / "npm.json").write_text(json.dumps(records))
    import_sources([str(tmp_path / "npm.json")], path=tmp_path / "vuln.db")
    expected = {  # version → the records that affect it
        "1.1.9": set(), "1.2.0": {"GHSA-aaaa-0001"}, "1.3.0": {"GHSA-aaaa-0001"}, "1.3.1": set(),
        "2.0.0-beta.1": set(), "2.0.0-rc.1": {"GHSA-aaaa-0001"}, "2.1.0": {"GHSA-aaaa-0001"}, "2.1.1": set(),
        "0.9.0": {"GHSA-aaaa-0002"}, "3.0.0-beta.2": {"GHSA-aaaa-0002"}, "3.0.0": set(),
    }
    packages = [Package(name="left-pad", version=v, kind="node-pkg", ecosystem="npm", purl="", path=f"/app{i}")
                for i, v in enumerate(expected)]
    with open_database(path=tmp_path / "vuln.db") as db:
        found = find_vulnerabilities(_inventory(packages), db)
    got = {version: set() for version in expected}
    for v in found:
        got[v.installed_version].add(v.vulnerability_id)
    assert got == expected
    fixed = {v.installed_version: v.fixed_version for v in found if v.vulnerability_id == "GHSA-aaaa-0001"}
    assert set(fixed.values()) == {"1.3.1"}
