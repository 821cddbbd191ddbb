"""The Debian security tracker's JSON (``/tracker/data/json``) to advisories.

The tracker maps source package → CVE → release codename → status. ``resolved`` with a fixed
version is fixed there (a fixed version of ``0`` means the release was never affected: no
entry); ``open`` and ``undetermined`` are affected without a fix; a ``no-dsa`` reason of
``postponed`` or ``ignored`` becomes Trivy's ``fix_deferred`` / ``will_not_fix``. Releases are
keyed by version number (``Debian:12``) as OSV does; ``sid`` has none and is left out.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lamina.security.vulndb.advisory import Advisory, AffectedPackage, Range
from lamina.security.vulndb.osv import MalformedRecord

CODENAMES = {
    "wheezy": "7", "jessie": "8", "stretch": "9", "buster": "10", "bullseye": "11",
    "bookworm": "12", "trixie": "13", "forky": "14", "duke": "15",
}
_NODSA_STATUS = {"postponed": "fix_deferred", "ignored": "will_not_fix"}


class _ReleaseState(msgspec.Struct, gc=False):
    status: str | None = None
    fixed_version: str | None = None
    nodsa_reason: str | None = None


class _Entry(msgspec.Struct, gc=False):
    description: str | None = None
    releases: dict[str, _ReleaseState] = {}


_TRACKER_DECODER = msgspec.json.Decoder(dict[str, dict[str, _Entry]])


def decode_tracker(data: bytes) -> dict | None:
    """The tracker's JSON decoded into small typed records (a third of the memory of plain
    objects: only the fields the matcher needs are kept), or None when ``data`` is not one."""
    try:
        document = _TRACKER_DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None
    return document if any(document.values()) else None


def is_tracker(document: Any) -> bool:
    """Whether a decoded document looks like the tracker's JSON (package → CVE → releases)."""
    if not isinstance(document, dict) or not document or "id" in document or "distroversion" in document:
        return False
    first = next(iter(document.values()))
    if not isinstance(first, dict) or not first:
        return False
    entry = next(iter(first.values()))
    return isinstance(entry, dict) and "releases" in entry


def advisories_from_tracker(document: dict) -> tuple[list[Advisory], list[str]]:
    """``(advisories, problems)``: one advisory per CVE, one affected entry per package and release."""
    by_cve: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for source_package, cves in document.items():
        if not isinstance(cves, dict):
            problems.append(f"package {source_package}: not an object")
            continue
        for cve, entry in cves.items():
            if isinstance(entry, _Entry):
                description, releases = entry.description, entry.releases
            elif isinstance(entry, dict) and isinstance(entry.get("releases", {}), dict):
                description, releases = entry.get("description"), entry.get("releases", {})
            else:
                problems.append(f"{source_package} {cve}: not an object with 'releases'")
                continue
            collected = by_cve.setdefault(cve, {"description": "", "affected": []})
            collected["description"] = collected["description"] or str(description or "")
            for codename, state in releases.items():
                try:
                    affected = _affected(source_package, codename, state)
                except MalformedRecord as problem:
                    problems.append(f"{source_package} {cve}: {problem}")
                    continue
                if affected is not None:
                    collected["affected"].append(affected)
    advisories = [
        Advisory(id=cve, summary=c["description"], affected=tuple(c["affected"]))
        for cve, c in by_cve.items()
        if c["affected"]
    ]
    return advisories, problems


def _affected(package: str, codename: str, state: Any) -> AffectedPackage | None:
    release = CODENAMES.get(codename)
    if release is None:
        return None
    if isinstance(state, dict):
        state = _ReleaseState(status=state.get("status"), fixed_version=state.get("fixed_version"),
                              nodsa_reason=state.get("nodsa_reason"))
    elif not isinstance(state, _ReleaseState):
        return None
    status = state.status
    fixed = str(state.fixed_version or "")
    if status == "resolved":
        if not fixed or fixed == "0":
            return None
        events: tuple[dict[str, str], ...] = ({"introduced": "0"}, {"fixed": fixed})
        override = ""
    elif status in ("open", "undetermined"):
        events = ({"introduced": "0"},)
        override = _NODSA_STATUS.get(str(state.nodsa_reason or ""), "")
    elif status is None:
        raise MalformedRecord(f"{package} in {codename} has no 'status'")
    else:
        return None
    return AffectedPackage(
        ecosystem="Debian", release=release, name=package,
        ranges=(Range(type="ECOSYSTEM", events=events),), status=override,
    )
