"""lamina scan end to end: Trivy's JSON shape, SARIF 2.1.0 that validates, CI gates as Trivy's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.security.scan_archives import write_docker_archive
from tests.security.scan_oracle import trivy_binary, trivy_report
from tests.security.scan_planted import GITHUB_PAT, LINES, PRIVATE_KEY

DATA = Path(__file__).parent / "data"


def entry(created_by: str, empty: bool = False) -> dict:
    return {"created": "2024-01-01T00:00:00Z", "created_by": created_by, **({"empty_layer": True} if empty else {})}


@pytest.fixture
def app_archive(tmp_path: Path) -> Path:
    """An app image with secrets in its layers and ENV (and one in its base image's layer, which
    is not reported), and a root user without HEALTHCHECK."""
    layers = [{"etc/base.env": (LINES["gitlab-pat"] + "\n").encode()},
              {"app/settings.env": (LINES["aws-access-key-id"] + "\n" + LINES["slack-web-hook"] + "\n").encode(),
               "root/.ssh/id_rsa": PRIVATE_KEY.encode()},
              {"app/deploy.sh": ("#!/bin/sh\n" + LINES["stripe-publishable-token"] + "\n").encode()}]
    history = [entry("/bin/sh -c #(nop) ADD file:1 in / "), entry('/bin/sh -c #(nop)  CMD ["sh"]', True),
               entry("COPY . /app/ # buildkit"), entry("COPY deploy.sh /app/ # buildkit"),
               entry(f"ENV GITHUB_TOKEN={GITHUB_PAT}", True)]
    return write_docker_archive(tmp_path / "app.tar", layers, history=history,
                                config={"Env": ["PATH=/bin", f"GITHUB_TOKEN={GITHUB_PAT}"], "User": "root"})


def by_class(report: dict, artifact: str) -> dict[tuple[str, str], dict]:
    return {(result["Class"], "<image>" if result["Target"] == artifact else result["Target"]): result
            for result in report.get("Results") or []}


def test_json_report_has_trivys_results_targets_and_fields(lamina, app_archive, tmp_path):
    spec = f"docker-archive:{app_archive}"
    ours = json.loads(lamina.out("scan", spec, "--scanners", "secret,misconfig", "--format", "json"))
    theirs = trivy_report(app_archive, tmp_path / "cache", "--scanners", "secret,misconfig",
                          "--image-config-scanners", "misconfig,secret")
    assert ours["SchemaVersion"] == theirs["SchemaVersion"] == 2
    assert ours["ArtifactType"] == theirs["ArtifactType"]
    assert ours["Metadata"]["ImageID"] == theirs["Metadata"]["ImageID"]
    assert ours["Metadata"]["DiffIDs"] == theirs["Metadata"]["DiffIDs"]
    assert ours["Metadata"]["RepoTags"] == theirs["Metadata"]["RepoTags"] == ["scantest:latest"]
    our_results, their_results = by_class(ours, spec), by_class(theirs, theirs["ArtifactName"])
    assert set(our_results) == set(their_results)
    for key, theirs_result in their_results.items():
        ours_result = our_results[key]
        assert ours_result.get("Type") == theirs_result.get("Type"), key
        for field in ("Secrets", "Misconfigurations"):
            their_items, our_items = theirs_result.get(field) or [], ours_result.get(field) or []
            assert len(our_items) >= len(their_items), (key, field)
            for theirs_item in their_items:
                same = [item for item in our_items if item.get("RuleID", item.get("ID")) ==
                        theirs_item.get("RuleID", theirs_item.get("ID"))]
                assert same, (key, theirs_item)
                assert set(theirs_item) - {"AVDID"} <= set(same[0]), (key, set(theirs_item) - set(same[0]))
                if field == "Secrets":
                    assert [(s["StartLine"], s["Match"], s.get("Layer", {}).get("DiffID")) for s in same] == \
                           [(s["StartLine"], s["Match"], s.get("Layer", {}).get("DiffID")) for s in their_items
                            if s["RuleID"] == theirs_item["RuleID"]]
    assert GITHUB_PAT not in json.dumps(ours)
    assert ("secret", "/etc/base.env") not in our_results  # the base image's layer


def test_sarif_report_validates_against_the_sarif_2_1_0_schema(lamina, app_archive):
    import jsonschema

    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    log = json.loads(lamina.out("scan", f"docker-archive:{app_archive}", "--scanners", "secret,misconfig",
                                "--format", "sarif"))
    jsonschema.Draft4Validator(schema).validate(log)
    rule_ids = {rule["id"] for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    assert {"aws-access-key-id", "private-key", "github-pat", "DS-0002", "DS-0026"} <= rule_ids
    secret = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "private-key")
    assert secret["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "root/.ssh/id_rsa"


@pytest.mark.parametrize("severity", ["HIGH,CRITICAL", "LOW", "MEDIUM", "UNKNOWN"])
def test_exit_code_gate_follows_trivys_for_the_same_severities(lamina, app_archive, tmp_path, severity):
    ours = lamina.run("scan", f"docker-archive:{app_archive}", "--scanners", "secret", "--severity", severity,
                      "--exit-code", "7", "--format", "json", check=False)
    theirs = subprocess.run([trivy_binary(), "image", "--input", str(app_archive), "--cache-dir",
                             str(tmp_path / "cache"), "--scanners", "secret", "--severity", severity,
                             "--exit-code", "7", "--quiet", "--format", "json"], capture_output=True)
    assert ours.returncode == theirs.returncode, ours.stderr.decode()
    assert ours.returncode in (0, 7)


def test_ignore_file_drops_what_trivys_drops(lamina, app_archive, tmp_path):
    ignore = tmp_path / "ids.ignore"
    ignore.write_text("# reviewed\naws-access-key-id\nprivate-key exp:2999-01-01\nslack-web-hook exp:2000-01-01\n")
    spec = f"docker-archive:{app_archive}"
    ours = json.loads(lamina.out("scan", spec, "--scanners", "secret", "--ignorefile", str(ignore), "-f", "json"))
    theirs = trivy_report(app_archive, tmp_path / "cache", "--scanners", "secret", "--ignorefile", str(ignore))

    def rules(report: dict) -> set[str]:
        return {s["RuleID"] for r in report.get("Results") or [] for s in r.get("Secrets") or []}

    assert rules(ours) == rules(theirs)
    assert "slack-web-hook" in rules(ours) and "private-key" not in rules(ours)


def test_a_stored_image_is_scanned_by_name_and_the_table_names_the_file(lamina, tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc" / "app").mkdir(parents=True)
    (rootfs / "etc" / "app" / "token").write_text(LINES["github-pat"] + "\n")
    tar = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True)
    lamina.out("import", str(tar), "planted:1")
    table = lamina.out("scan", "planted:1", "--scanners", "secret")
    assert "/etc/app/token (secrets)" in table
    assert "CRITICAL: GitHub (github-pat)" in table
    assert GITHUB_PAT not in table


def test_a_missing_image_is_one_error_line(lamina, tmp_path):
    lamina.fails("scan", "no-such-image:1", "--scanners", "secret")
    lamina.fails("scan", f"docker-archive:{tmp_path / 'missing.tar'}")


def test_a_corrupt_archive_is_one_error_line(lamina, app_archive, tmp_path):
    broken = tmp_path / "broken.tar"
    broken.write_bytes(app_archive.read_bytes()[:3000])
    lamina.fails("scan", f"docker-archive:{broken}", "--scanners", "secret")


def test_bad_flags_are_one_error_line(lamina, app_archive, tmp_path):
    spec = f"docker-archive:{app_archive}"
    assert "unknown scanner" in lamina.fails("scan", spec, "--scanners", "vuln,licence")
    assert "unknown severity" in lamina.fails("scan", spec, "--severity", "SEVERE")
    assert "not found" in lamina.fails("scan", spec, "--vex", str(tmp_path / "none.json"))
    bad = tmp_path / "bad.vex.json"
    bad.write_text("[1, 2]")
    assert "VEX" in lamina.fails("scan", spec, "--scanners", "secret", "--vex", str(bad))


def test_on_a_terminal_progress_goes_to_stderr_and_the_report_is_unchanged(lamina, app_archive, tmp_path):
    import os
    import pty
    import sys

    spec = f"docker-archive:{app_archive}"
    plain = tmp_path / "plain.json"
    lamina.out("scan", spec, "--scanners", "secret", "-f", "json", "-o", str(plain))
    on_tty = tmp_path / "tty.json"
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "lamina", "scan", spec, "--scanners", "secret", "-f", "json",
                                "-o", str(on_tty)], stderr=terminal, stdout=subprocess.DEVNULL, env=lamina.env())
    os.close(terminal)
    transcript = b""
    while True:
        try:
            data = os.read(controller, 4096)
        except OSError:
            break
        if not data:
            break
        transcript += data
    assert process.wait(timeout=120) == 0
    os.close(controller)
    assert b"Traceback" not in transcript
    # the spinner, drawn on the terminal only: its first frame may already show a later step
    # ("scanning …", "layer N: …") when the scan is quick
    assert b"\x1b[?25l" in transcript and (b"scanning" in transcript or b"layer " in transcript), transcript
    strip = ("CreatedAt",)
    ours = {k: v for k, v in json.loads(on_tty.read_text()).items() if k not in strip}
    assert ours == {k: v for k, v in json.loads(plain.read_text()).items() if k not in strip}
