"""Alpine secdb documents (``v3.19/main.yaml`` or ``.json``) to advisories.

A secdb document lists, per origin (source) package, the package version that fixed each CVE
in one Alpine release. A fix version of ``0`` means the CVE never affected Alpine's package:
no advisory. One advisory per CVE, with one affected entry per package it names.
"""

from __future__ import annotations

from typing import Any

from lamina.security.vulndb.advisory import Advisory, AffectedPackage, Range
from lamina.security.vulndb.osv import MalformedRecord


def is_secdb(document: Any) -> bool:
    """Whether a decoded document has the secdb shape."""
    return isinstance(document, dict) and "distroversion" in document and "packages" in document


def advisories_from_secdb(document: dict) -> tuple[str, list[Advisory], list[str]]:
    """``(release, advisories, problems)``: problems name the entries that were skipped."""
    release = str(document.get("distroversion") or "")
    if not release:
        raise MalformedRecord("secdb document has no 'distroversion'")
    packages = document.get("packages") or []
    if not isinstance(packages, list):
        raise MalformedRecord("secdb 'packages' is not a list")
    fixes: dict[str, list[AffectedPackage]] = {}
    problems: list[str] = []
    for entry in packages:
        package = entry.get("pkg") if isinstance(entry, dict) else None
        name = package.get("name") if isinstance(package, dict) else None
        secfixes = package.get("secfixes") if isinstance(package, dict) else None
        if not isinstance(name, str) or not isinstance(secfixes, dict | None):
            problems.append(f"package entry {entry!r:.60}")
            continue
        for fixed_version, ids in (secfixes or {}).items():
            fixed = str(fixed_version).strip()
            if not isinstance(ids, list):
                problems.append(f"{name} {fixed}: the CVE list is not a list")
                continue
            for raw_id in ids:
                cve = str(raw_id).split()[0] if raw_id else ""
                if not cve or fixed == "0":
                    continue
                range_ = Range(type="ECOSYSTEM", events=({"introduced": "0"}, {"fixed": fixed}))
                fixes.setdefault(cve, []).append(
                    AffectedPackage(ecosystem="Alpine", release=release, name=name, ranges=(range_,))
                )
    advisories = [Advisory(id=cve, affected=tuple(affected)) for cve, affected in fixes.items()]
    return release, advisories, problems
