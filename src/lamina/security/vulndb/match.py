"""Matching an image's inventory against the vulnerability database.

Each package is looked up by index under its ecosystem and name — distribution packages under
their source package, as Trivy does, since distributions publish advisories per source package —
and every affected entry found is decided with that ecosystem's own version order: an explicit
``versions`` list, then OSV's range algorithm over ``introduced``/``fixed``/``last_affected``
events sorted in that order. Distribution entries apply only to their release (``Debian:12``
to Debian 12 images). Findings for one package whose IDs overlap (CVE ↔ GHSA ↔ PYSEC ↔ GO)
are merged into one, shown under the CVE when there is one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from functools import cmp_to_key

from lamina.security import versions
from lamina.security.inventory import Inventory, OSInfo, Package
from lamina.security.vulndb.advisory import AffectedPackage, package_key
from lamina.security.vulndb.cvss import base_score, severity
from lamina.security.vulndb.database import AffectedMatch, VulnDatabase
from lamina.security.vulndb.records import Vulnerability

_DISTRO_ECOSYSTEMS = {"debian", "ubuntu", "alpine", "red hat", "almalinux", "rocky linux", "wolfi", "chainguard"}
_RPM_ECOSYSTEMS = {"red hat", "almalinux", "rocky linux", "opensuse", "suse", "mageia", "photon os"}


def find_vulnerabilities(inventory: Inventory, db: VulnDatabase) -> list[Vulnerability]:
    """Every advisory in ``db`` that affects a package of ``inventory``, one per package and vulnerability."""
    wanted: dict[str, dict[str, list[tuple[Package, str]]]] = defaultdict(lambda: defaultdict(list))
    for package in inventory.packages:
        if not package.ecosystem or not versions.known_ecosystem(package.ecosystem):
            continue
        ecosystem = package.ecosystem.lower()
        wanted[ecosystem][_lookup_name(package)].append((package, _compared_version(package)))
    findings: dict[int, list[_Finding]] = defaultdict(list)
    packages_by_id: dict[int, Package] = {}
    for ecosystem, by_name in wanted.items():
        compare = versions.comparator(ecosystem)
        release = _release(ecosystem, inventory.os)
        for match in db.affected(ecosystem, by_name):
            if match.affected.release and match.affected.release != release:
                continue
            for package, version in by_name.get(match.affected.name, ()):
                fixed = _affects(match.affected, version, compare)
                if fixed is not None:
                    findings[id(package)].append(_Finding(match, fixed))
                    packages_by_id[id(package)] = package
    result = [
        vulnerability
        for key, package_findings in findings.items()
        for vulnerability in _merge(packages_by_id[key], package_findings)
    ]
    result.sort(key=lambda v: (v.pkg_name, v.installed_version, v.vulnerability_id))
    return result


class _Finding:
    """One affected entry that matched one package, with the fixed versions it names."""

    __slots__ = ("match", "fixed")

    def __init__(self, match: AffectedMatch, fixed: list[str]):
        self.match = match
        self.fixed = fixed

    @property
    def ids(self) -> list[str]:
        return [self.match.advisory.id, *self.match.advisory.aliases]


def _lookup_name(package: Package) -> str:
    if package.ecosystem.lower() in _DISTRO_ECOSYSTEMS:
        return package.source_name or package.name
    return package_key(package.ecosystem, package.name)


def _compared_version(package: Package) -> str:
    """The version advisories speak of: the source version for Debian, epoch and release included."""
    ecosystem = package.ecosystem.lower()
    if ecosystem in ("debian", "ubuntu") and package.source_version:
        return f"{package.source_epoch}:{package.source_version}" if package.source_epoch else package.source_version
    return _installed_version(package)


def _installed_version(package: Package) -> str:
    """The version as Trivy shows it: epoch, version and (rpm) release."""
    if package.ecosystem.lower() in _RPM_ECOSYSTEMS and package.release:
        version = f"{package.version}-{package.release}"
        return f"{package.epoch}:{version}" if package.epoch else version
    return package.full_version


def _release(ecosystem: str, os_info: OSInfo | None) -> str:
    """The image's release as OSV writes it after the ecosystem: ``12``, ``22.04``, ``v3.19``."""
    if os_info is None or not os_info.name:
        return ""
    parts = os_info.name.split(".")
    if ecosystem == "alpine":
        return "v" + ".".join(parts[:2])
    if ecosystem == "ubuntu":
        return ".".join(parts[:2])
    return parts[0]


def _affects(affected: AffectedPackage, version: str, compare: Callable[[str, str], int]) -> list[str] | None:
    """None when ``version`` is not affected, else the fixed versions the entry names (maybe none)."""
    hit = version in affected.versions
    fixed: list[str] = []
    for range_ in affected.ranges:
        try:
            if not hit and _in_range(range_.events, version, compare):
                hit = True
            fixed.extend(v for event in range_.events for kind, v in event.items() if kind == "fixed")
        except versions.VersionFormatError:
            continue  # a version we cannot place in the order: this range cannot be decided
    if not hit:
        return None
    unique = list(dict.fromkeys(fixed))
    try:
        unique.sort(key=cmp_to_key(compare))
    except versions.VersionFormatError:
        pass
    return unique


def _in_range(events: tuple[dict[str, str], ...], version: str, compare: Callable[[str, str], int]) -> bool:
    """OSV's evaluation: walk the events in version order, ``introduced`` opens, ``fixed`` closes."""

    def event_order(left: dict[str, str], right: dict[str, str]) -> int:
        (left_kind, left_version), (right_kind, right_version) = next(iter(left.items())), next(iter(right.items()))
        if left_version == "0" and left_kind == "introduced":
            return 0 if right_version == "0" and right_kind == "introduced" else -1
        if right_version == "0" and right_kind == "introduced":
            return 1
        return compare(left_version, right_version)

    affected = False
    for event in sorted(events, key=cmp_to_key(event_order)):
        ((kind, boundary),) = event.items()
        if kind == "introduced":
            if boundary == "0" or compare(version, boundary) >= 0:
                affected = True
        elif kind == "fixed":
            if compare(version, boundary) >= 0:
                affected = False
        elif kind == "last_affected" and compare(version, boundary) > 0:
            affected = False
    return affected


def _merge(package: Package, findings: list[_Finding]) -> list[Vulnerability]:
    """One Vulnerability per group of findings whose IDs overlap."""
    groups: list[tuple[set[str], list[_Finding]]] = []
    for finding in findings:
        ids = set(finding.ids)
        joined = [group for group in groups if group[0] & ids]
        merged_ids, merged_findings = ids, [finding]
        for group in joined:
            merged_ids |= group[0]
            merged_findings = group[1] + merged_findings
            groups.remove(group)
        groups.append((merged_ids, merged_findings))
    return [_vulnerability(package, ids, group) for ids, group in groups]


def _primary_id(ids: set[str]) -> str:
    for prefix in ("CVE-", "GHSA-"):
        candidates = sorted(i for i in ids if i.startswith(prefix))
        if candidates:
            return candidates[0]
    return sorted(ids)[0]


def _vulnerability(package: Package, ids: set[str], group: list[_Finding]) -> Vulnerability:
    primary = _primary_id(ids)
    with_vector = [f for f in group if f.match.advisory.cvss_vector]
    chosen = (with_vector or group)[0].match
    advisory = chosen.advisory
    vector = advisory.cvss_vector
    score = base_score(vector) if vector else None
    fixed = list(dict.fromkeys(v for f in group for v in f.fixed))
    overrides = [f.match.affected.status for f in group if f.match.affected.status]
    status = "fixed" if fixed else (overrides[0] if overrides else "affected")
    texts = next((f.match.advisory for f in group if f.match.advisory.summary or f.match.advisory.details), advisory)
    references = list(dict.fromkeys(r for f in group for r in f.match.advisory.references))
    return Vulnerability(
        vulnerability_id=primary,
        aliases=tuple(sorted(ids - {primary})),
        pkg_name=package.name,
        pkg_id=f"{package.name}@{_installed_version(package)}",
        pkg_purl=package.purl,
        installed_version=_installed_version(package),
        fixed_version=", ".join(fixed),
        status=status,
        severity=severity(score),
        cvss_score=score,
        cvss_vector=vector,
        title=texts.summary or _first_sentence(texts.details),
        description=texts.details or texts.summary,
        references=tuple(references),
        published=advisory.published,
        last_modified=advisory.modified,
        data_source=chosen.data_source,
        layer_diff_id=package.layer_diff_id,
        package=package,
    )


def _first_sentence(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= 120 else line[:117] + "..."
