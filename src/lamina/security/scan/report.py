"""What a scan found, in the shape of Trivy's report: one artifact, its metadata, its results.

A ``ScanResult`` is one target (the OS packages, one language's packages, the image config, one
file with secrets) of one class (``os-pkgs``, ``lang-pkgs``, ``config``, ``secret``), as Trivy
groups them; the writers (trivy_json, table, sarif, cyclonedx) lay the same report out.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lamina.security.inventory import Inventory, OSInfo
from lamina.security.misconfig import Misconfiguration
from lamina.security.secrets import SecretFinding
from lamina.security.vulndb.records import SEVERITIES, Vulnerability

__all__ = ["SEVERITIES", "ScanReport", "ScanResult"]


class ScanResult(msgspec.Struct, kw_only=True):
    """One target's findings."""

    target: str
    result_class: str  # Trivy's Class: os-pkgs | lang-pkgs | config | secret
    type: str = ""  # Trivy's Type: debian, alpine, python-pkg, …, dockerfile; "" for secrets
    vulnerabilities: list[Vulnerability] = msgspec.field(default_factory=list)
    secrets: list[SecretFinding] = msgspec.field(default_factory=list)
    misconfigurations: list[Misconfiguration] = msgspec.field(default_factory=list)
    misconf_successes: int = 0

    def severities(self) -> list[str]:
        """The severity of every finding, for totals and the exit-code gate."""
        return ([v.severity for v in self.vulnerabilities] + [s.severity for s in self.secrets]
                + [m.severity for m in self.misconfigurations])


class ScanReport(msgspec.Struct, kw_only=True):
    """One scanned image."""

    artifact_name: str
    image_id: str
    diff_ids: list[str]
    repo_tags: list[str]
    repo_digests: list[str]
    image_config: Any  # the config as parsed JSON
    os: OSInfo | None
    results: list[ScanResult]
    created_at: str
    inventory: Inventory | None = None  # when packages were catalogued (vuln scanner)

    def finding_count(self) -> int:
        """Every finding that survived the filters."""
        return sum(len(result.severities()) for result in self.results)
