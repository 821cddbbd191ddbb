"""The image's CycloneDX 1.5 BOM (security.sbom's writer) with its vulnerabilities added.

Each vulnerability names the affected component by the component's ``bom-ref``, with its rating
(severity, CVSS v3 score and vector), its advisories and the version that fixes it.
"""

from __future__ import annotations

import json

from lamina.errors import LaminaError
from lamina.security.scan.report import ScanReport

_RATING = {"CRITICAL": "critical", "HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNKNOWN": "unknown"}


def cyclonedx_with_vulnerabilities(report: ScanReport) -> bytes:
    """The BOM with a ``vulnerabilities`` array (needs the vuln scanner's inventory)."""
    if report.inventory is None:
        raise LaminaError("--format cyclonedx needs the package inventory: scan with --scanners vuln "
                          "and a vulnerability database (lamina db import)")
    from lamina.security.sbom.formats import cyclonedx

    bom = cyclonedx(report.inventory)
    refs: dict[tuple[str, str], str] = {}
    for component in bom.get("components", []):
        refs.setdefault((component.get("purl", ""), component.get("name", "")), component["bom-ref"])
    merged: dict[str, dict] = {}
    for result in report.results:
        for v in result.vulnerabilities:
            purl = v.pkg_purl or v.package.purl
            ref = refs.get((purl, v.pkg_name)) or next(
                (value for (component_purl, name), value in refs.items() if name == v.pkg_name), None)
            entry = merged.get(v.vulnerability_id)
            if entry is None:
                entry = merged[v.vulnerability_id] = _entry(v)
            if ref is not None and all(affect["ref"] != ref for affect in entry["affects"]):
                entry["affects"].append({"ref": ref, "versions": [
                    {"version": v.installed_version, "status": "affected"}]})
            if v.fixed_version and "recommendation" not in entry:
                entry["recommendation"] = f"Upgrade {v.pkg_name} to version {v.fixed_version}"
    bom["vulnerabilities"] = list(merged.values())
    return (json.dumps(bom, indent=2, ensure_ascii=False) + "\n").encode()


def _entry(v) -> dict:
    rating: dict = {"severity": _RATING.get(v.severity, "unknown")}
    if v.cvss_score is not None:
        rating["score"] = v.cvss_score
    if v.cvss_vector:
        rating["vector"] = v.cvss_vector
        rating["method"] = "CVSSv31" if v.cvss_vector.startswith("CVSS:3.1") else "CVSSv3"
    if v.data_source is not None:
        rating["source"] = {"name": v.data_source.id, "url": v.data_source.url}
    entry: dict = {"id": v.vulnerability_id, "ratings": [rating]}
    if v.data_source is not None:
        entry["source"] = {"name": v.data_source.id, "url": v.data_source.url}
    if v.description or v.title:
        entry["description"] = v.description or v.title
    if v.references:
        entry["advisories"] = [{"url": url} for url in v.references]
    if v.published:
        entry["published"] = v.published
    if v.last_modified:
        entry["updated"] = v.last_modified
    if v.aliases:
        entry["references"] = [{"id": alias, "source": {"name": alias.split("-")[0]}} for alias in v.aliases]
    entry["affects"] = []
    return entry
