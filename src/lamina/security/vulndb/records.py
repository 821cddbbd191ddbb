"""What the vulnerability matcher hands to the scan reports: one finding per package and advisory.

The field names are Trivy's JSON report names in snake_case (``VulnerabilityID`` →
``vulnerability_id``), so a report writer maps them one to one and a reader of Trivy's reports
finds every value where they expect it.
"""

from __future__ import annotations

import msgspec

from lamina.security.inventory import Package

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
"""Most severe first; the order reports sort and filter by."""


class DataSource(msgspec.Struct, frozen=True, kw_only=True):
    """Where an advisory came from: one imported source (Trivy's ``DataSource``)."""

    id: str  # the source's short name: "osv-PyPI", "alpine-secdb", "debian-tracker", …
    name: str  # for people: "OSV PyPI (all.zip)", "Alpine secdb v3.19 main"
    url: str  # the file or URL it was imported from


class Vulnerability(msgspec.Struct, frozen=True, kw_only=True):
    """One advisory that affects one installed package."""

    vulnerability_id: str  # the CVE when one of the IDs is a CVE, else the record's own ID
    pkg_name: str
    installed_version: str  # as the package manager states it, epoch included for dpkg/rpm
    severity: str  # one of SEVERITIES
    package: Package
    aliases: tuple[str, ...] = ()  # every other ID of the same advisory (GHSA-…, PYSEC-…, GO-…)
    pkg_id: str = ""  # Trivy's PkgID: "openssl@3.0.11-1~deb12u2"
    pkg_purl: str = ""
    fixed_version: str = ""  # "" when no fix is known; several are joined with ", " as Trivy does
    status: str = "affected"  # Trivy's words: "fixed", "affected", "will_not_fix", "fix_deferred", "end_of_life"
    cvss_score: float | None = None  # the CVSS v3 base score computed from cvss_vector
    cvss_vector: str = ""
    title: str = ""
    description: str = ""
    references: tuple[str, ...] = ()
    published: str = ""  # RFC 3339 as the record states it
    last_modified: str = ""
    data_source: DataSource | None = None
    layer_diff_id: str = ""  # the layer that installed the package (Trivy's Layer.DiffID)
