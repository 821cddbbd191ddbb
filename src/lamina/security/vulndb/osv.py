"""OSV records (JSON or YAML, schema 1.x) to advisories.

A record that is not an object, lacks an ``id`` or has fields of the wrong type is malformed:
``MalformedRecord`` names what is wrong; the importer turns it into a warning and goes on.
Ranges of type GIT carry commits, not versions, and are dropped; affected entries with no
usable range and no versions list are dropped too.
"""

from __future__ import annotations

from typing import Any

from lamina.security.vulndb.advisory import Advisory, AffectedPackage, Range, package_key, split_ecosystem


class MalformedRecord(ValueError):
    """An OSV record does not follow the schema; the message says which field."""


def advisory_from_osv(record: Any) -> Advisory:
    """The advisory of one decoded OSV record."""
    if not isinstance(record, dict):
        raise MalformedRecord("not an OSV object")
    record_id = record.get("id")
    if not isinstance(record_id, str) or not record_id:
        raise MalformedRecord("no 'id'")
    affected_entries = _list(record, "affected")
    affected = tuple(entry for raw in affected_entries if (entry := _affected(raw)) is not None)
    return Advisory(
        id=record_id,
        aliases=tuple(_strings(record, "aliases")),
        summary=_string(record, "summary"),
        details=_string(record, "details"),
        cvss_vector=_cvss_v3_vector(record, affected_entries),
        published=_string(record, "published"),
        modified=_string(record, "modified"),
        references=tuple(
            ref["url"] for ref in _list(record, "references") if isinstance(ref, dict) and isinstance(ref.get("url"), str)
        ),
        affected=affected,
    )


def _affected(raw: Any) -> AffectedPackage | None:
    if not isinstance(raw, dict):
        raise MalformedRecord("an 'affected' entry is not an object")
    package = raw.get("package")
    if not isinstance(package, dict):
        return None  # OSV allows affected entries without a package (git-only); nothing to match
    ecosystem, name = package.get("ecosystem"), package.get("name")
    if not isinstance(ecosystem, str) or not isinstance(name, str) or not ecosystem or not name:
        raise MalformedRecord("an affected package has no 'ecosystem' or 'name'")
    base, release = split_ecosystem(ecosystem)
    ranges = []
    for raw_range in _list(raw, "ranges"):
        if not isinstance(raw_range, dict) or not isinstance(raw_range.get("events"), list):
            raise MalformedRecord(f"a range of {name} has no 'events' list")
        if raw_range.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue
        events = []
        for event in raw_range["events"]:
            if not isinstance(event, dict) or len(event) != 1:
                raise MalformedRecord(f"a range event of {name} is not one key and value")
            ((kind, version),) = event.items()
            if kind not in ("introduced", "fixed", "last_affected", "limit") or not isinstance(version, str | int | float):
                raise MalformedRecord(f"a range event of {name} is {event!r}")
            events.append({kind: str(version)})
        ranges.append(Range(type=raw_range["type"], events=tuple(events)))
    versions = tuple(str(v) for v in _list(raw, "versions") if isinstance(v, str | int | float))
    if not ranges and not versions:
        return None
    return AffectedPackage(
        ecosystem=base, release=release, name=package_key(base, name), ranges=tuple(ranges), versions=versions
    )


def _cvss_v3_vector(record: dict, affected_entries: list) -> str:
    """The record's CVSS v3 vector (top-level ``severity``, else the first affected entry's)."""
    candidates = list(_list(record, "severity"))
    for entry in affected_entries:
        if isinstance(entry, dict):
            candidates.extend(_list(entry, "severity"))
    for severity in candidates:
        if isinstance(severity, dict) and severity.get("type") == "CVSS_V3" and isinstance(severity.get("score"), str):
            return severity["score"]
    return ""


def _list(mapping: dict, key: str) -> list:
    value = mapping.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedRecord(f"'{key}' is not a list")
    return value


def _strings(mapping: dict, key: str) -> list[str]:
    return [item for item in _list(mapping, key) if isinstance(item, str)]


def _string(mapping: dict, key: str) -> str:
    value = mapping.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat"):  # YAML turns unquoted timestamps into datetimes
        text = value.isoformat()
        return text.replace("+00:00", "Z")
    raise MalformedRecord(f"'{key}' is not a string")
