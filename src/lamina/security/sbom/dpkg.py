"""Debian packages: ``var/lib/dpkg/status`` and the distroless ``var/lib/dpkg/status.d/`` files.

Each package is attributed to the layer that added it: the status file is rewritten by every
layer that installs anything, so its earlier versions (the walker keeps them) tell in which
layer this exact name and version first appeared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from lamina.security.inventory import OSInfo, Package
from lamina.security.sbom.catalogers import capped
from lamina.security.sbom.purl import os_purl
from lamina.security.sbom.walk import FileView

__all__ = ["DpkgCataloger", "parse_status", "split_version"]

STATUS = "var/lib/dpkg/status"
STATUS_D = "var/lib/dpkg/status.d/"
#: A paragraph longer than this is not a package record (a hostile status file); it is skipped.
MAX_PARAGRAPH = 1 << 20
_FIELDS = frozenset(("Package", "Version", "Architecture", "Source", "Status"))
_SOURCE = re.compile(r"^(\S+)(?:\s+\((\S+)\))?\s*$")


class DpkgCataloger:
    """Installed dpkg packages (Trivy's ``debian``/``ubuntu`` types)."""

    name = "dpkg"

    def wants(self, path: str, mode: int, size: int) -> bool:
        if path == STATUS:
            return True
        return path.startswith(STATUS_D) and not path.endswith(".md5sums")

    def catalog(self, files: FileView, os: OSInfo | None) -> list[Package]:
        packages: list[Package] = []
        sources = [STATUS] if files.exists(STATUS) else []
        sources += [path for path in files.paths(STATUS_D) if self.wants(path, 0, 0)]
        for path in sources:
            origins = _origin_layers(files, path) if path == STATUS else {}
            layer = files.layer_of(path)
            with files.open(path) as handle:
                for record in capped(parse_status(handle, path, files.warn), path, files.warn):
                    package = _package(record, os, path, files.warn)
                    if package is not None:
                        key = (package.name, package.full_version)
                        packages.append(_with_layer(package, origins.get(key, layer)))
        return packages


def parse_status(handle: BinaryIO, path: str, warn) -> Iterator[dict[str, str]]:
    """The installed packages' paragraphs of a dpkg status file, only the fields we use."""
    record: dict[str, str] = {}
    size = 0
    line_number = 0
    start = 1
    for raw in handle:
        line_number += 1
        size += len(raw)
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line.strip():
            if record:
                yield from _installed(record)
            record, size, start = {}, 0, line_number + 1
            continue
        if size > MAX_PARAGRAPH:
            if size - len(raw) <= MAX_PARAGRAPH:
                warn(f"{path}:{start}: a paragraph over {MAX_PARAGRAPH} bytes, skipped")
            record = {}
            continue
        if line[0] in " \t":
            continue  # continuation of a field we do not keep (descriptions, conffiles)
        key, colon, value = line.partition(":")
        if colon and key in _FIELDS:
            record[key] = value.strip()
    if record and size <= MAX_PARAGRAPH:
        yield from _installed(record)


def split_version(version: str) -> tuple[int, str]:
    """``1:2.38-5`` → ``(1, "2.38-5")``; a malformed epoch is kept as part of the version."""
    epoch, colon, rest = version.partition(":")
    if colon and epoch.isdigit():
        return int(epoch), rest
    return 0, version


def _installed(record: dict[str, str]) -> Iterator[dict[str, str]]:
    status = record.get("Status", "install ok installed").split()
    if "deinstall" in status or "purge" in status:
        return
    if record.get("Package") and record.get("Version"):
        yield record


def _package(record: dict[str, str], os: OSInfo | None, path: str, warn) -> Package | None:
    name, full_version = record["Package"], record["Version"]
    epoch, version = split_version(full_version)
    source_name, source_epoch, source_version = name, epoch, version
    if record.get("Source"):
        match = _SOURCE.match(record["Source"])
        if match is None:
            warn(f"{path}: package {name}: unreadable Source field {record['Source']!r}")
        else:
            source_name = match.group(1)
            if match.group(2):
                source_epoch, source_version = split_version(match.group(2))
    arch = record.get("Architecture", "")
    family = os.family if os else "debian"
    return Package(
        name=name, version=version, epoch=epoch, arch=arch, kind=family,
        ecosystem=family.capitalize(), purl=os_purl("deb", os, name, version, arch=arch, epoch=epoch),
        source_name=source_name, source_version=source_version, source_epoch=source_epoch,
    )


def _origin_layers(files: FileView, path: str) -> dict[tuple[str, str], str]:
    """(name, full version) → the layer whose status file first listed it, in an unbroken run."""
    versions = files.history(path)
    if len(versions) < 2:
        return {}
    origins: dict[tuple[str, str], str] = {}
    for diff_id in versions:
        present: set[tuple[str, str]] = set()
        with files.open_version(path, diff_id) as handle:
            for record in capped(parse_status(handle, path, _quiet), path, _quiet):
                present.add((record["Package"], record["Version"]))
        origins = {key: origins.get(key, diff_id) for key in present}
    return origins


def _with_layer(package: Package, diff_id: str) -> Package:
    import msgspec

    return msgspec.structs.replace(package, layer_diff_id=diff_id)


def _quiet(message: str) -> None:
    """Warnings about earlier versions of a database: the current one already gave them."""
