"""``lamina policy check IMAGE --policy FILE``: images that break each rule fail it and a clean image
passes; secrets are judged with Trivy as the oracle, layer counts with skopeo, vulnerabilities
with lamina scan over real PyPI advisories; the signature and SBOM-attestation rules read a
loopback registry; table/json/sarif reports (SARIF validated); exit 1 for CI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lamina.security.signing.keys import generate_key_pair
from tests.conftest import require_tool
from tests.security import sign_support
from tests.security.scan_archives import python_app_archive, write_docker_archive
from tests.security.scan_oracle import trivy_report
from tests.security.scan_planted import LINES
from tests.security.sign_support import push_tiny
from tests.security.vulndb_sources import PYPI_RECORDS

sign_registry = sign_support.sign_registry
DATA = Path(__file__).parent / "data"
BASE = "org.opencontainers.image.base.name"
GOOD_LABELS = {"org.opencontainers.image.source": "https://example.invalid/app", BASE: "docker.io/library/debian:12"}


def _archive(tmp_path: Path, name: str, *, layers=None, labels=None, user="app") -> str:
    config = {"Env": ["PATH=/usr/bin:/bin"], "User": user, "Labels": GOOD_LABELS if labels is None else labels}
    files = layers or [{"etc/os-release": b"ID=test\n"}, {"app/run.sh": b"#!/bin/sh\necho hi\n"}]
    return f"docker-archive:{write_docker_archive(tmp_path / f'{name}.tar', files, config=config)}"


def _policy(tmp_path: Path, rules: dict, name: str = "rules.yaml") -> Path:
    import yaml

    path = tmp_path / name
    path.write_text(yaml.safe_dump({"rules": rules}))
    return path


def _check(lamina, image: str, policy: Path, *args: str) -> tuple[int, dict]:
    result = lamina.run("policy", "check", image, "--policy", str(policy), "--format", "json", *args, check=False)
    assert "Traceback" not in result.stderr.decode()
    return result.returncode, {r["rule"]: r for r in json.loads(result.stdout)["results"]}


OFFLINE_RULES = {"base-images": ["docker.io/library/debian"], "labels": ["org.opencontainers.image.source"],
                 "non-root": True, "max-size": "1MB", "max-layers": 2}


def test_a_clean_image_passes_every_rule_and_exits_zero(lamina, tmp_path):
    code, results = _check(lamina, _archive(tmp_path, "good"), _policy(tmp_path, OFFLINE_RULES))
    assert code == 0
    assert {name: r["status"] for name, r in results.items()} == {name: "pass" for name in OFFLINE_RULES}


@pytest.mark.parametrize("rule, kwargs, message", [
    ("non-root", {"user": ""}, "runs as root (no User set)"),
    ("non-root", {"user": "0:0"}, "runs as root (User '0:0')"),
    ("labels", {"labels": {BASE: "docker.io/library/debian:12"}}, "missing label: org.opencontainers.image.source"),
    ("base-images", {"labels": {**GOOD_LABELS, BASE: "docker.io/library/alpine:3"}},
     "base image docker.io/library/alpine:3 is not one of"),
    ("base-images", {"labels": {"org.opencontainers.image.source": "x"}}, "base image not recorded"),
    ("max-size", {"layers": [{"big.bin": b"\0" * 1_100_000}]}, "> 1000000"),
])
def test_each_broken_rule_fails_with_its_reason(lamina, tmp_path, rule, kwargs, message):
    code, results = _check(lamina, _archive(tmp_path, "bad", **kwargs), _policy(tmp_path, OFFLINE_RULES))
    assert code == 1
    assert results[rule]["status"] == "fail" and message in results[rule]["message"]
    assert [name for name, r in results.items() if r["status"] != "pass"] == [rule]


def test_layer_count_agrees_with_skopeo(lamina, tmp_path):
    skopeo = require_tool("skopeo", "skopeo")
    image = _archive(tmp_path, "layers", layers=[{"a": b"a"}, {"b": b"b"}, {"c": b"c"}])
    inspected = json.loads(subprocess.run([skopeo, "inspect", image], check=True, capture_output=True).stdout)
    code, results = _check(lamina, image, _policy(tmp_path, {"max-layers": 2}))
    assert code == 1 and results["max-layers"]["message"] == f"{len(inspected['Layers'])} layers > 2"
    code, results = _check(lamina, image, _policy(tmp_path, {"max-layers": len(inspected["Layers"])}))
    assert code == 0


@pytest.mark.slow
def test_secrets_rule_agrees_with_trivy(lamina, tmp_path):
    leaky = _archive(tmp_path, "leaky", layers=[{"etc/os-release": b"ID=test\n"},
                                                {"app/settings.env": (LINES["aws-access-key-id"] + "\n").encode()}])
    clean = _archive(tmp_path, "clean")
    policy = _policy(tmp_path, {"no-secrets": True})
    for image in (leaky, clean):
        trivy = trivy_report(Path(image.removeprefix("docker-archive:")), tmp_path / "cache", "--scanners", "secret")
        trivy_found = sum(len(r.get("Secrets") or []) for r in trivy.get("Results") or [])
        code, results = _check(lamina, image, policy)
        assert (results["no-secrets"]["status"] == "fail") == (trivy_found > 0) == (image == leaky)
        assert code == (1 if trivy_found else 0)
    assert "aws-access-key-id in /app/settings.env" in _check(lamina, leaky, policy)[1]["no-secrets"]["message"]


@pytest.mark.slow
def test_vulnerability_rule_matches_lamina_scan(lamina, tmp_path):
    order = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
    image = f"docker-archive:{python_app_archive(tmp_path / 'myapp.tar')}"
    lamina.out("db", "import", str(PYPI_RECORDS))
    scanned = json.loads(lamina.out("scan", image, "--scanners", "vuln", "--format", "json"))
    severities = [v["Severity"] for r in scanned.get("Results") or [] for v in r.get("Vulnerabilities") or []]
    worst = max(severities, key=order.index)
    allowed = order[order.index(worst) - 1]
    assert worst != "UNKNOWN"
    code, results = _check(lamina, image, _policy(tmp_path, {"vulnerabilities": {"max-severity": allowed}}))
    assert code == 1
    assert results["vulnerabilities"]["message"].startswith(f"{severities.count(worst)} vulnerabilit")
    assert f" {worst} in " in results["vulnerabilities"]["message"]
    code, results = _check(lamina, image, _policy(tmp_path, {"vulnerabilities": {"max-severity": worst}}))
    assert code == 0 and results["vulnerabilities"]["status"] == "pass"


def test_without_a_vulnerability_database_the_rule_is_an_error_not_a_pass(lamina, tmp_path):
    code, results = _check(lamina, _archive(tmp_path, "nodb"), _policy(tmp_path, {"vulnerabilities": {}}))
    assert code == 1 and results["vulnerabilities"]["status"] == "error"


def test_registry_signature_and_sbom_attestation_rules(lamina, sign_registry, tmp_path, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", "pc")
    pair = generate_key_pair("pc")
    (tmp_path / "k.key").write_bytes(pair.private_pem)
    (tmp_path / "k.pub").write_bytes(pair.public_pem)
    host = sign_registry.host
    push_tiny(host, "pc/app", "v1", "pc-app")
    image = f"{host}/pc/app:v1"
    rules = {"registries": [f"{host}/pc"], "signature": {"key": str(tmp_path / "k.pub")},
             "sbom-attestation": {"key": str(tmp_path / "k.pub"), "type": "cyclonedx"}}
    policy = _policy(tmp_path, rules)
    code, results = _check(lamina, image, policy)
    assert code == 1 and results["registries"]["status"] == "pass"
    assert "no signatures found" in results["signature"]["message"]
    assert "no attestations found" in results["sbom-attestation"]["message"]
    lamina.run("sign", "--key", str(tmp_path / "k.key"), image)
    (tmp_path / "sbom.json").write_bytes(lamina.run("sbom", "--format", "cyclonedx-json", image).stdout)
    lamina.run("attest", "--key", str(tmp_path / "k.key"), "--type", "cyclonedx", "--predicate",
               str(tmp_path / "sbom.json"), image)
    code, results = _check(lamina, image, policy)
    assert code == 0, results
    code, results = _check(lamina, image, _policy(tmp_path, {"registries": ["registry.example.com"]}, "other.yaml"))
    assert code == 1 and "is not under any of: registry.example.com" in results["registries"]["message"]


def test_sarif_report_validates_and_table_says_failed(lamina, tmp_path):
    import jsonschema

    image = _archive(tmp_path, "root", user="root")
    policy = _policy(tmp_path, OFFLINE_RULES)
    sarif = lamina.run("policy", "check", image, "--policy", str(policy), "--format", "sarif", check=False)
    assert sarif.returncode == 1
    log = json.loads(sarif.stdout)
    jsonschema.Draft4Validator(json.loads((DATA / "sarif-schema-2.1.0.json").read_text())).validate(log)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["non-root"]
    table = lamina.run("policy", "check", image, "--policy", str(policy), check=False)
    assert table.returncode == 1 and b"FAILED (4/5 rules passed" in table.stdout
    assert b"non-root" in table.stdout and b"FAIL" in table.stdout


@pytest.mark.parametrize("text, message", [
    ("rules: [", "rules.yaml:"),
    ("rules:\n  colour: blue\n", "unknown rule 'colour'"),
    ("rules:\n  max-layers: many\n", "rule max-layers: expected a whole number"),
    ("rules:\n  max-size: huge\n", "is not a size"),
    ("rules:\n  vulnerabilities: {max-severity: SEVERE}\n", "max-severity must be one of"),
    ("nothing: here\n", "expected a mapping with a 'rules' mapping"),
])
def test_malformed_rules_are_one_line_errors(lamina, tmp_path, text, message):
    (tmp_path / "rules.yaml").write_text(text)
    err = lamina.fails("policy", "check", _archive(tmp_path, "any"), "--policy", str(tmp_path / "rules.yaml"))
    assert message in err
