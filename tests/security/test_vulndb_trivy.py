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


def _trivy_constraints(ranges: list[dict]) -> list[str]:
    """OSV ECOSYSTEM ranges as Trivy's VulnerableVersions (one ``>=a, <b`` conjunction per interval)."""
    constraints = []
    for osv_range in ranges:
        if osv_range["type"] != "ECOSYSTEM":
            continue
        lower = None
        for event in osv_range["events"]:
            ((kind, version),) = event.items()
            if kind == "introduced":
                lower = None if str(version) == "0" else str(version)
            elif kind in ("fixed", "last_affected"):
                bound = ("<" if kind == "fixed" else "<=") + str(version)
                constraints.append(f">={lower}, {bound}" if lower else bound)
                lower = None
        if lower is not None:
            constraints.append(f">={lower}")
    return constraints


@pytest.mark.slow
def test_pypi_findings_equal_trivys_on_the_pypa_records(lamina, tmp_path):
    """Every version pypa's records list, and every fixed version, installed side by side in one image."""
    import io
    import tarfile

    import yaml

    from lamina.security.inventory import Inventory, Package
    from lamina.security.vulndb.advisory import package_key

    from .vulndb_sources import PYPI_RECORDS

    installs: dict[tuple[str, str], None] = {}
    pip_bucket: dict[str, dict] = {}
    for record_file in sorted(PYPI_RECORDS.rglob("*.yaml")):
        record = yaml.safe_load(record_file.read_text())
        cve = next((a for a in record.get("aliases", []) if a.startswith("CVE-")), record["id"])
        for affected in record["affected"]:
            name = affected["package"]["name"]
            constraints = _trivy_constraints(affected.get("ranges", []))
            fixed = [str(e["fixed"]) for r in affected.get("ranges", []) if r["type"] == "ECOSYSTEM"
                     for e in r["events"] if "fixed" in e]
            pip_bucket.setdefault(package_key("PyPI", name), {})[cve] = value(
                VulnerableVersions=constraints, PatchedVersions=fixed)
            for version in [*affected.get("versions", []), *fixed]:
                installs[(name, str(version))] = None
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for index, (name, version) in enumerate(installs):
            metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
            info = tarfile.TarInfo(f"opt/env{index}/lib/python3.11/site-packages/{name}-{version}.dist-info/METADATA")
            info.size, info.mode, info.mtime = len(metadata), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(metadata))
    (tmp_path / "rootfs.tar").write_bytes(layer.getvalue())
    lamina.out("import", str(tmp_path / "rootfs.tar"), "pypi-sample:latest")
    archive = tmp_path / "pypi.tar"
    lamina.run("save", "-o", str(archive), "pypi-sample:latest")
    write_trivy_db({
        "pip::Open Source Vulnerability": pip_bucket,
        "vulnerability": {cve: value(Title=cve) for advisories in pip_bucket.values() for cve in advisories},
        "data-source": {"pip::Open Source Vulnerability": value(ID="osv", Name="Python Packaging Advisory Database",
                                                                 URL="https://github.com/pypa/advisory-db")},
    }, tmp_path / "trivy-cache")
    report = trivy_report(archive, tmp_path / "trivy-cache", "--scanners", "vuln")
    theirs = {(v["PkgName"], v["InstalledVersion"], v["VulnerabilityID"])
              for result in report.get("Results") or [] for v in result.get("Vulnerabilities") or []}

    import_sources([str(PYPI_RECORDS)], path=tmp_path / "vuln.db")
    inventory = Inventory(image_name="pypi-sample", image_id="sha256:" + "0" * 64, os=None, diff_ids=[], packages=[
        Package(name=name, version=version, kind="python-pkg", ecosystem="PyPI", purl="") for name, version in installs])
    with open_database(path=tmp_path / "vuln.db") as db:
        ours = {(v.pkg_name, v.installed_version, v.vulnerability_id) for v in find_vulnerabilities(inventory, db)}
    assert len(theirs) > 300
    assert ours == theirs


def _apk_candidates(fixed: str) -> list[str]:
    """Versions around an Alpine fix: equal, one revision either side, pre- and post-release suffixes."""
    base, _, revision = fixed.rpartition("-r")
    number = int(revision) if revision.isdigit() else 0
    out = [fixed, f"{base}-r{number + 1}", f"{base}_rc1-r{number}", f"{base}_p1-r0"]
    if number:
        out.append(f"{base}-r{number - 1}")
    return out


@pytest.mark.slow
def test_alpine_findings_equal_trivys_on_the_alpine_secdb_sample(lamina, tmp_path):
    """apk's order and origin matching: packages at versions around every fix of the real secdb sample."""
    import io
    import tarfile

    import yaml

    from lamina.security.inventory import Inventory, OSInfo, Package

    from .vulndb_sources import ALPINE_SECDB

    document = yaml.safe_load(ALPINE_SECDB.read_text())
    alpine_bucket: dict[str, dict] = {}
    installs: list[tuple[str, str, str]] = []  # (binary name, version, origin)
    for entry in document["packages"]:
        origin, secfixes = entry["pkg"]["name"], entry["pkg"]["secfixes"]
        versions_of = {}
        for fixed, cves in secfixes.items():
            for cve in cves:
                versions_of.setdefault(cve, set()).add(str(fixed))
        kept = {cve: versions.pop() for cve, versions in versions_of.items() if len(versions) == 1}
        entry["pkg"]["secfixes"] = {fixed: [c for c, f in kept.items() if f == str(fixed)] for fixed in secfixes}
        alpine_bucket[origin] = {cve: value(FixedVersion=fixed) for cve, fixed in kept.items()}
        candidates = dict.fromkeys(v for fixed in secfixes for v in _apk_candidates(str(fixed)))
        installs += [(f"{origin}-c{index}", version, origin) for index, version in enumerate(candidates)]
    (tmp_path / "secdb.yaml").write_text(yaml.safe_dump(document))

    installed = "".join(f"P:{name}\nV:{version}\nA:x86_64\no:{origin}\n\n" for name, version, origin in installs)
    files = {"etc/alpine-release": "3.11.6\n", "lib/apk/db/installed": installed,
             "etc/os-release": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.11.6\n'}
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for path, text in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(text.encode()), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(text.encode()))
    (tmp_path / "rootfs.tar").write_bytes(layer.getvalue())
    lamina.out("import", str(tmp_path / "rootfs.tar"), "alpine-sample:3.11")
    archive = tmp_path / "alpine.tar"
    lamina.run("save", "-o", str(archive), "alpine-sample:3.11")
    write_trivy_db({
        "alpine 3.11": alpine_bucket,
        "data-source": {"alpine 3.11": value(ID="alpine", Name="Alpine Secdb", URL="https://secdb.alpinelinux.org/")},
        "vulnerability": {cve: value(Title=cve) for advisories in alpine_bucket.values() for cve in advisories},
    }, tmp_path / "trivy-cache")
    report = trivy_report(archive, tmp_path / "trivy-cache", "--scanners", "vuln")
    theirs = {(v["PkgName"], v["InstalledVersion"], v["VulnerabilityID"], v.get("FixedVersion", ""))
              for result in report.get("Results") or [] for v in result.get("Vulnerabilities") or []}

    import_sources([str(tmp_path / "secdb.yaml")], path=tmp_path / "vuln.db")
    inventory = Inventory(image_name="alpine-sample", image_id="sha256:" + "0" * 64, diff_ids=[],
                          os=OSInfo(family="alpine", name="3.11.6"), packages=[
        Package(name=name, version=version, kind="alpine", ecosystem="Alpine", source_name=origin, purl="")
        for name, version, origin in installs])
    with open_database(path=tmp_path / "vuln.db") as db:
        ours = {(v.pkg_name, v.installed_version, v.vulnerability_id, v.fixed_version)
                for v in find_vulnerabilities(inventory, db)}
    assert len(theirs) > 100
    assert ours == theirs


def _go_neighbours(version: str) -> list[str]:
    """A Go version from an OSV event, the one just below it and one above (pseudo-versions by timestamp)."""
    import re

    core, plus, build = version.partition("+")
    suffix = plus + build
    pseudo = re.match(r"^(.*?)(\d{14})-([0-9a-f]{12})$", core)
    if pseudo:
        stamp = int(pseudo.group(2))
        return [f"v{core}{suffix}", f"v{pseudo.group(1)}{stamp - 1}-{'0' * 12}{suffix}",
                f"v{pseudo.group(1)}{stamp + 1}-{'f' * 12}{suffix}"]
    numbers, dash, pre = core.partition("-")
    major, minor, patch = (int(n) for n in numbers.split("."))
    below = f"{major}.{minor}.{patch - 1}" if patch else f"{major}.{max(minor - 1, 0)}.99" if minor else "0.0.1"
    return [f"v{core}{suffix}", f"v{below}{suffix}", f"v{major}.{minor}.{patch + 1}{suffix}"]


def _go_binary(directory, modules: dict[str, str], cache) -> bytes:
    """A real Go binary whose build info lists ``modules`` at these versions (vendored stand-ins, offline)."""
    import os
    import subprocess

    from tests.conftest import require_tool

    go = require_tool("go", "golang-go")
    directory.mkdir(parents=True)
    requires = "".join(f"\t{path} {version}\n" for path, version in modules.items())
    (directory / "go.mod").write_text(f"module example.com/app\n\ngo 1.19\n\nrequire (\n{requires})\n")
    vendor_list = ""
    imports = ""
    for path, version in modules.items():
        (directory / "vendor" / path).mkdir(parents=True)
        (directory / "vendor" / path / "stub.go").write_text("package stub\n")
        vendor_list += f"# {path} {version}\n## explicit\n{path}\n"
        imports += f'import _ "{path}"\n'
    (directory / "vendor" / "modules.txt").write_text(vendor_list)
    (directory / "main.go").write_text(f"package main\n\n{imports}\nfunc main() {{}}\n")
    env = {**os.environ, "GOFLAGS": "-mod=vendor", "GOPROXY": "off", "GOCACHE": str(cache),
           "GOPATH": str(directory / "gopath"), "GO111MODULE": "on", "CGO_ENABLED": "0"}
    subprocess.run([go, "build", "-o", "app", "."], cwd=directory, env=env, check=True, capture_output=True,
                   timeout=300)
    return (directory / "app").read_bytes()


@pytest.mark.slow
def test_go_findings_equal_trivys_on_the_go_vulndb_records(lamina, tmp_path):
    """Go binaries whose modules sit at, just below and just above every event of golang/vulndb's records."""
    import io
    import subprocess
    import tarfile

    from lamina.security.inventory import Inventory, Package

    from .vulndb_sources import GO_RECORDS

    go_bucket: dict[str, dict] = {}
    candidates: dict[str, dict[str, None]] = {}
    for record_file in sorted(GO_RECORDS.glob("*.json")):
        record = json.loads(record_file.read_text())
        cve = next((a for a in record.get("aliases", []) if a.startswith("CVE-")), record["id"])
        for affected in record["affected"]:
            module = affected["package"]["name"]
            constraints = _trivy_constraints([{**r, "type": "ECOSYSTEM"} for r in affected["ranges"]])
            fixed = [e["fixed"] for r in affected["ranges"] for e in r["events"] if "fixed" in e]
            go_bucket.setdefault(module, {})[cve] = value(VulnerableVersions=constraints, PatchedVersions=fixed)
            if module != "stdlib" and not module.endswith("/v4"):
                for event in (e for r in affected["ranges"] for e in r["events"]):
                    for version in (v for v in event.values() if v != "0"):
                        candidates.setdefault(module, {}).update(dict.fromkeys(_go_neighbours(version)))
    columns = max(len(versions) for versions in candidates.values())
    go_version = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
    layer = io.BytesIO()
    installs: set[tuple[str, str]] = {("stdlib", "v" + go_version.removeprefix("go"))}
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for column in range(columns):
            modules = {module: list(versions)[column % len(versions)] for module, versions in candidates.items()}
            installs.update(modules.items())
            binary = _go_binary(tmp_path / f"app{column}", modules, tmp_path / "gocache")
            info = tarfile.TarInfo(f"usr/local/bin/app{column}")
            info.size, info.mode, info.mtime = len(binary), 0o755, 1700000000
            tar.addfile(info, io.BytesIO(binary))
    (tmp_path / "rootfs.tar").write_bytes(layer.getvalue())
    lamina.out("import", str(tmp_path / "rootfs.tar"), "go-sample:latest")
    archive = tmp_path / "go.tar"
    lamina.run("save", "-o", str(archive), "go-sample:latest")
    write_trivy_db({
        "go::The Go Vulnerability Database": go_bucket,
        "data-source": {"go::The Go Vulnerability Database": value(ID="go-vulndb", Name="The Go Vulnerability Database",
                                                                    URL="https://pkg.go.dev/vuln/")},
        "vulnerability": {cve: value(Title=cve) for advisories in go_bucket.values() for cve in advisories},
    }, tmp_path / "trivy-cache")
    report = trivy_report(archive, tmp_path / "trivy-cache", "--scanners", "vuln")
    theirs = {(v["PkgName"], v["InstalledVersion"], v["VulnerabilityID"])
              for result in report.get("Results") or [] for v in result.get("Vulnerabilities") or []}

    import_sources([str(GO_RECORDS)], path=tmp_path / "vuln.db")
    inventory = Inventory(image_name="go-sample", image_id="sha256:" + "0" * 64, os=None, diff_ids=[], packages=[
        Package(name=module, version=version, kind="gobinary", ecosystem="Go", purl="") for module, version in installs])
    with open_database(path=tmp_path / "vuln.db") as db:
        ours = {(v.pkg_name, v.installed_version, v.vulnerability_id) for v in find_vulnerabilities(inventory, db)}
    assert len(theirs) > 20
    assert {name for name, *_ in theirs} == {"stdlib", "golang.org/x/net", "golang.org/x/text",
                                            "github.com/docker/distribution", "github.com/dgrijalva/jwt-go"}
    assert ours == theirs
