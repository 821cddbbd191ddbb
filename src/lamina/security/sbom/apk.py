"""Alpine packages: the apk installed database, ``lib/apk/db/installed``.

The database is a list of blank-line separated records of one-letter fields (``P:`` name,
``V:`` version, ``A:`` arch, ``o:`` origin, i.e. the source package, ``L:`` license).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from lamina.security.inventory import OSInfo, Package
from lamina.security.sbom.catalogers import capped
from lamina.security.sbom.purl import os_purl
from lamina.security.sbom.walk import FileView

__all__ = ["ApkCataloger", "parse_installed"]

INSTALLED = "lib/apk/db/installed"
#: A record longer than this is not a package (a hostile database); it is skipped.
MAX_RECORD = 16 << 20
_FIELDS = frozenset("PVAoL")


class ApkCataloger:
    """Installed apk packages (Trivy's ``alpine`` type)."""

    name = "apk"

    def wants(self, path: str, mode: int, size: int) -> bool:
        return path == INSTALLED

    def catalog(self, files: FileView, os: OSInfo | None) -> list[Package]:
        if not files.exists(INSTALLED):
            return []
        origins = _origin_layers(files)
        last = files.layer_of(INSTALLED)
        packages = []
        with files.open(INSTALLED) as handle:
            for record in capped(parse_installed(handle, files.warn), INSTALLED, files.warn):
                name, version, arch = record["P"], record["V"], record.get("A", "")
                licenses = tuple(record["L"].split(" AND ")) if record.get("L") else ()
                packages.append(Package(
                    name=name, version=version, arch=arch, kind="alpine", ecosystem="Alpine",
                    purl=os_purl("apk", os, name, version, arch=arch),
                    source_name=record.get("o") or name, source_version=version, licenses=licenses,
                    layer_diff_id=origins.get((name, version), last),
                ))
        return packages


def parse_installed(handle: BinaryIO, warn) -> Iterator[dict[str, str]]:
    """The records of an installed database that name a package and a version."""
    record: dict[str, str] = {}
    size = 0
    line_number = start = 0
    for raw in handle:
        line_number += 1
        size += len(raw)
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if record.get("P") and record.get("V") and size <= MAX_RECORD:
                yield record
            record, size, start = {}, 0, line_number + 1
            continue
        if size > MAX_RECORD:
            if size - len(raw) <= MAX_RECORD:
                warn(f"{INSTALLED}:{start or 1}: a record over {MAX_RECORD} bytes, skipped")
            continue
        if len(line) > 1 and line[1] == ":" and line[0] in _FIELDS:
            record[line[0]] = line[2:].strip()
    if record.get("P") and record.get("V") and size <= MAX_RECORD:
        yield record


def _origin_layers(files: FileView) -> dict[tuple[str, str], str]:
    versions = files.history(INSTALLED)
    if len(versions) < 2:
        return {}
    origins: dict[tuple[str, str], str] = {}
    for diff_id in versions:
        with files.open_version(INSTALLED, diff_id) as handle:
            present = {(r["P"], r["V"]) for r in capped(parse_installed(handle, _quiet), INSTALLED, _quiet)}
        origins = {key: origins.get(key, diff_id) for key in present}
    return origins


def _quiet(message: str) -> None:
    """Warnings about earlier versions of a database: the current one already gave them."""
