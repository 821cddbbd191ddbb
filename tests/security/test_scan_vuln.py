"""lamina scan after lamina db import: the app's vulnerable packages with their fixes, filtered as asked.

The expected findings come from the advisories themselves: each real OSV record lists the
versions it affects, so the test knows which installed packages it must report without a
second scanner.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.security.scan_archives import PYTHON_APP, python_app_archive, write_docker_archive
from tests.security.vulndb_sources import PYPI_RECORDS

INSTALLED = PYTHON_APP


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture
def myapp(lamina, tmp_path) -> str:
    """myapp:latest (Python packages pip installed over a base layer) and the PyPI advisories imported."""
    archive = python_app_archive(tmp_path / "myapp.tar")
    lamina.out("load", "-i", str(archive))
    lamina.out("db", "import", str(PYPI_RECORDS))
    return "myapp:latest"


def expected_findings() -> dict[tuple[str, str], str]:
    """(package, vulnerability ID) → the first fixed version, from the records' own affected lists."""
    installed = {normalized(name): version for name, version in INSTALLED.items()}
    expected: dict[tuple[str, str], str] = {}
    for record_file in sorted(PYPI_RECORDS.rglob("*.yaml")):
        record = yaml.safe_load(record_file.read_text())
        cve = next((alias for alias in record.get("aliases") or [] if alias.startswith("CVE-")), record["id"])
        for affected in record["affected"]:
            name = normalized(affected["package"]["name"])
            if installed.get(name) in [str(version) for version in affected.get("versions") or []]:
                fixes = [event["fixed"] for r in affected.get("ranges") or [] if r["type"] == "ECOSYSTEM"
                         for event in r["events"] if "fixed" in event]
                expected[(name, cve)] = fixes[0] if fixes else ""
    return expected


def vulnerabilities(report: dict) -> dict[tuple[str, str], dict]:
    return {(normalized(v["PkgName"]), v["VulnerabilityID"]): v
            for result in report.get("Results") or [] for v in result.get("Vulnerabilities") or []}


def scan_json(lamina, image: str, *args: str) -> dict:
    return json.loads(lamina.out("scan", image, "--scanners", "vuln", "--format", "json", *args))


def test_the_apps_vulnerable_packages_are_reported_with_their_fixed_versions(lamina, myapp):
    report = scan_json(lamina, myapp)
    found = vulnerabilities(report)
    expected = expected_findings()
    assert expected, "the sample advisories should affect some installed package"
    assert set(found) == set(expected)
    for key, fixed in expected.items():
        if fixed:
            assert fixed in found[key]["FixedVersion"].split(", "), (key, found[key]["FixedVersion"])
        assert found[key]["InstalledVersion"] == INSTALLED[next(n for n in INSTALLED if normalized(n) == key[0])]
        assert found[key]["PkgIdentifier"]["PURL"].startswith("pkg:pypi/")
        assert found[key]["Layer"]["DiffID"] == report["Metadata"]["DiffIDs"][1]
    assert {r["Target"]: r["Class"] for r in report["Results"]}["Python"] == "lang-pkgs"
    inspected = json.loads(lamina.out("image", "inspect", myapp))[0]
    assert report["Metadata"]["RepoTags"] == inspected["RepoTags"] == ["myapp:latest"]
    assert report["Metadata"]["ImageID"] == inspected["Id"]


def test_a_ci_gate_exits_non_zero_on_high_and_zero_when_nothing_that_severe_is_left(lamina, myapp):
    report = scan_json(lamina, myapp)
    severities = {v["Severity"] for v in vulnerabilities(report).values()}
    assert "HIGH" in severities
    gate = lamina.run("scan", myapp, "--scanners", "vuln", "--severity", "HIGH", "--exit-code", "1", check=False)
    assert gate.returncode == 1
    assert "HIGH" in gate.stdout.decode()
    high = [v["VulnerabilityID"] for v in vulnerabilities(report).values() if v["Severity"] == "HIGH"]
    ignore = Path(lamina.root).parent / "reviewed.ignore"
    ignore.write_text("".join(f"{vuln_id}\n" for vuln_id in high))
    passed = lamina.run("scan", myapp, "--scanners", "vuln", "--severity", "HIGH", "--exit-code", "1",
                        "--ignorefile", str(ignore), check=False)
    assert passed.returncode == 0, passed.stdout.decode()


def test_severity_filter_keeps_only_the_named_severities(lamina, myapp):
    everything = vulnerabilities(scan_json(lamina, myapp))
    medium = vulnerabilities(scan_json(lamina, myapp, "--severity", "MEDIUM"))
    assert set(medium) == {key for key, v in everything.items() if v["Severity"] == "MEDIUM"}


def test_openvex_and_cyclonedx_vex_not_affected_statements_suppress_findings(lamina, myapp, tmp_path):
    everything = vulnerabilities(scan_json(lamina, myapp))
    (first_pkg, first_id), (second_pkg, second_id) = sorted(everything)[:2]
    openvex = tmp_path / "app.openvex.json"
    openvex.write_text(json.dumps({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://corp/vex/1", "author": "security", "version": 1,
        "statements": [
            {"vulnerability": {"name": first_id}, "products": [{"@id": "pkg:oci/myapp", "subcomponents": [
                {"@id": everything[(first_pkg, first_id)]["PkgIdentifier"]["PURL"]}]}],
             "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
            {"vulnerability": {"name": second_id}, "products": [{"@id": "pkg:pypi/some-other-package@1.0"}],
             "status": "not_affected", "justification": "component_not_present"},
        ]}))
    kept = vulnerabilities(scan_json(lamina, myapp, "--vex", str(openvex)))
    assert set(everything) - set(kept) == {(first_pkg, first_id)}  # the other statement names another product
    cyclonedx_vex = tmp_path / "app.cdx.json"
    cyclonedx_vex.write_text(json.dumps({
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "vulnerabilities": [{"id": second_id, "analysis": {"state": "not_affected",
                                                            "justification": "code_not_reachable"}},
                            {"id": first_id, "analysis": {"state": "exploitable"}}]}))
    kept = vulnerabilities(scan_json(lamina, myapp, "--vex", str(cyclonedx_vex)))
    assert set(everything) - set(kept) == {(second_pkg, second_id)}


def test_ignore_unfixed_leaves_out_what_has_no_fix(lamina, myapp):
    everything = vulnerabilities(scan_json(lamina, myapp))
    fixed_only = vulnerabilities(scan_json(lamina, myapp, "--ignore-unfixed"))
    assert set(fixed_only) == {key for key, v in everything.items() if v.get("FixedVersion")}


def test_cyclonedx_report_with_vulnerabilities_validates(lamina, myapp):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    document = lamina.out("scan", myapp, "--scanners", "vuln", "--format", "cyclonedx")
    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(document)
    assert error is None, error
    bom = json.loads(document)
    refs = {component["bom-ref"] for component in bom["components"]}
    assert bom["vulnerabilities"] and all(affect["ref"] in refs for v in bom["vulnerabilities"]
                                          for affect in v["affects"])
    assert {v["id"] for v in bom["vulnerabilities"]} == {key[1] for key in expected_findings()}


def test_without_a_database_the_default_scan_warns_and_an_explicit_vuln_scan_fails(lamina, tmp_path):
    archive = write_docker_archive(tmp_path / "plain.tar", [{"etc/hostname": b"plain-host\n"}])
    result = lamina.run("scan", f"docker-archive:{archive}", check=False)
    assert result.returncode == 0 and "lamina: warning:" in result.stderr.decode()
    assert "lamina db import" in lamina.fails("scan", f"docker-archive:{archive}", "--scanners", "vuln")


def test_the_python_api_scans_like_the_cli(lamina, myapp):
    import lamina as lamina_api
    from lamina.security.scan import render

    with lamina_api.Client(root=lamina.root) as client:
        report = client.scan(myapp, scanners="vuln,misconfig", severity="HIGH,CRITICAL")
    found = {(normalized(v.pkg_name), v.vulnerability_id) for result in report.results for v in result.vulnerabilities}
    cli = vulnerabilities(scan_json(lamina, myapp, "--severity", "HIGH,CRITICAL"))
    assert found == set(cli) and found
    assert json.loads(render(report, "json"))["ArtifactName"] == myapp
