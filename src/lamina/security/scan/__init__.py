"""``lamina scan``: vulnerabilities, secrets and misconfigurations of an image, reported as Trivy does.

    from lamina.security.scan import scan
    report = scan("docker-archive:app.tar", scanners="vuln,secret,misconfig", severity="HIGH,CRITICAL")
    print(render(report, "json"))

The engine (engine.py) runs the scanners, filters.py decides what is kept, and the writers
(trivy_json, table, sarif, cyclonedx) lay the report out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lamina.security.scan.report import ScanReport

__all__ = ["FORMATS", "render", "scan"]

FORMATS = ("table", "json", "sarif", "cyclonedx")


def scan(spec: str, *, root: str | None = None, platform: str | None = None, scanners: str | None = None,
         severity: str | None = None, ignore_unfixed: bool = False, vex: Sequence[str] = (),
         ignore_files: Sequence[str] = (), progress: Callable[[str], None] | None = None,
         on_warning: Callable[[str], None] | None = None) -> ScanReport:
    """Scan the image ``spec`` names (store name, ``docker-archive:PATH``, ``oci:DIR``, a registry ref)."""
    from lamina.image import open_image
    from lamina.security.scan.engine import DEFAULT_SCANNERS, ScanOptions, parse_scanners, scan_image
    from lamina.security.scan.filters import FindingFilter, read_ignore_files, read_vex
    from lamina.security.vulndb.records import SEVERITIES

    chosen = parse_scanners(scanners) if scanners else DEFAULT_SCANNERS
    finding_filter = FindingFilter(severities=parse_severities(severity) if severity else SEVERITIES,
                                   ignore_unfixed=ignore_unfixed, ignored_ids=read_ignore_files(ignore_files),
                                   vex=read_vex(vex))
    options = ScanOptions(scanners=chosen, scanners_explicit=scanners is not None,
                          finding_filter=finding_filter, root=root)
    store = _local_store(spec, root)
    try:
        image = open_image(spec, root=root, platform=platform, store=store)
        try:
            report = scan_image(image, options, progress=progress, warn=on_warning)
            image_id = getattr(image, "image_id", None)
            if store is not None and image_id:
                report.repo_tags, report.repo_digests = _store_names(store, image_id)
            elif spec.startswith("docker-archive:"):
                report.repo_tags = _archive_tags(spec, image.config_digest())
            return report
        finally:
            image.close()
    finally:
        if store is not None:
            store.close()


def _local_store(spec: str, root: str | None):
    """The store a plain name is looked up in (None for file and registry specs, or no store)."""
    from pathlib import Path

    from lamina.image.spec import parse_spec

    if parse_spec(spec).transport not in ("", "store"):
        return None
    from lamina.store.location import default_root
    from lamina.store.store import Store

    location = Path(root) if root is not None else default_root()
    return Store(location) if (location / "metadata.db").exists() else None


def _archive_tags(spec: str, config_digest: str) -> list[str]:
    """The RepoTags manifest.json gives the image in a docker-archive (as Trivy reports them)."""
    import json
    import tarfile

    from lamina.image.spec import parse_spec

    try:
        with tarfile.open(parse_spec(spec).location, "r:") as archive:
            member = archive.getmember("manifest.json")
            if member.size > 16 * 1024 * 1024:
                return []
            stream = archive.extractfile(member)
            entries = json.load(stream) if stream is not None else []
    except (OSError, KeyError, ValueError, tarfile.TarError):
        return []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and config_digest.split(":")[-1] in str(entry.get("Config", "")):
            return [tag for tag in entry.get("RepoTags") or [] if isinstance(tag, str)]
    return []


def _store_names(store, image_id: str) -> tuple[list[str], list[str]]:
    """RepoTags and RepoDigests as docker inspect shows them (familiar names)."""
    from lamina.errors import LaminaError
    from lamina.oci.reference import parse_reference

    record = store.image(image_id)
    tags = []
    for tag in record.tags:
        try:
            tags.append(parse_reference(tag).familiar)
        except LaminaError:
            tags.append(tag)
    digests = []
    for digest in record.repo_digests:
        name, _, manifest = digest.partition("@")
        try:
            digests.append(f"{parse_reference(name).familiar}@{manifest}")
        except LaminaError:
            digests.append(digest)
    return tags, digests


def parse_severities(text: str) -> tuple[str, ...]:
    """``HIGH,CRITICAL`` → ('HIGH', 'CRITICAL'); an unknown severity is a usage error."""
    from lamina.errors import UsageError
    from lamina.security.vulndb.records import SEVERITIES

    names = tuple(dict.fromkeys(name.strip().upper() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in SEVERITIES]
    if unknown or not names:
        raise UsageError(f"unknown severity {', '.join(unknown) or text!r} (choose from {', '.join(SEVERITIES)})")
    return names


def render(report: ScanReport, format: str) -> bytes:
    """The report as ``table``, Trivy ``json``, ``sarif`` 2.1.0 or ``cyclonedx`` 1.5 with vulnerabilities."""
    if format == "table":
        from lamina.security.scan.table import table

        return table(report).encode()
    if format == "json":
        from lamina.security.scan.trivy_json import trivy_json

        return trivy_json(report)
    if format == "sarif":
        from lamina.security.scan.sarif import sarif

        return sarif(report)
    if format == "cyclonedx":
        from lamina.security.scan.cyclonedx import cyclonedx_with_vulnerabilities

        return cyclonedx_with_vulnerabilities(report)
    from lamina.errors import UsageError

    raise UsageError(f"unknown report format {format!r} (one of {', '.join(FORMATS)})")
