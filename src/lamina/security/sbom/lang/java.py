"""Java archives (jar, war, ear, par): Maven coordinates from inside the archive, offline.

Trivy's reading, which this follows: every ``pom.properties`` in the archive with groupId,
artifactId and version is a package (``group:artifact``); nested jar/war/ear archives are read
the same way, their packages' path being ``outer.war/WEB-INF/lib/inner.jar``. An archive with
no valid pom.properties of its own is named by its MANIFEST.MF main section
(Implementation-*/Specification-*/Bundle-* fields, Trivy's precedence). Trivy asks its Java DB
whether such a manifest names a real artifact (and searches the jar's SHA-1 there) whenever no
pom.properties matches the file name; lamina never asks a network service or a database, so it
trusts a manifest only where no pom.properties speaks for the archive — a jar renamed
``commons-cli.jar`` is not reported twice, once as ``org.apache.commons:Apache Commons CLI``.

Archives are untrusted: nesting stops at MAX_DEPTH, everything inflated from one top-level
archive counts against MAX_INFLATED (a zip bomb stops there), a central directory larger than
MAX_CENTRAL_DIRECTORY is refused before it is read. Each stop is a warning naming the archive.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import BinaryIO

from lamina.security.inventory import OSInfo, Package
from lamina.security.sbom.lang.package import make_package

KIND = "jar"
ARCHIVE_EXTENSIONS = (".jar", ".war", ".ear", ".par")
NESTED_EXTENSIONS = (".jar", ".war", ".ear")
MAX_DEPTH = 8
MAX_INFLATED = 256 << 20
MAX_CENTRAL_DIRECTORY = 64 << 20
MAX_PROPERTIES = 1 << 20
MAX_MANIFEST = 10 << 20
#: Nested archives up to this size are read in memory; bigger ones go to a temp file.
IN_MEMORY_NESTED = 4 << 20
MANIFEST_GROUP = ("Implementation-Vendor-Id", "Bundle-SymbolicName", "Implementation-Vendor", "Specification-Vendor")
MANIFEST_ARTIFACT = ("Implementation-Title", "Specification-Title", "Bundle-Name")
MANIFEST_VERSION = ("Implementation-Version", "Specification-Version", "Bundle-Version")


class ArchiveLimitError(ValueError):
    """An archive that would take more than the limits allow (depth, inflated bytes, directory)."""


@dataclass(frozen=True, slots=True)
class Coordinates:
    group_id: str
    artifact_id: str
    version: str
    path: str  # the (possibly nested) archive the record came from

    @property
    def valid(self) -> bool:
        return bool(self.group_id and self.artifact_id and self.version)

    @property
    def name(self) -> str:
        return f"{self.group_id}:{self.artifact_id}"


@dataclass(slots=True)
class Budget:
    """What one top-level archive may still cost; shared by all archives nested in it."""

    inflated_left: int = MAX_INFLATED
    warnings: list[str] = field(default_factory=list)

    def charge(self, amount: int, where: str) -> None:
        self.inflated_left -= amount
        if self.inflated_left < 0:
            raise ArchiveLimitError(f"{where}: more than {MAX_INFLATED >> 20} MiB inflated (zip bomb?)")


def is_archive_path(path: str) -> bool:
    return posixpath.splitext(path)[1].lower() in ARCHIVE_EXTENSIONS


def parse_archive(path: str, handle: BinaryIO, budget: Budget | None = None, depth: int = 0) -> list[Coordinates]:
    """Maven coordinates in a Java archive and the archives nested in it, duplicates removed."""
    budget = budget or Budget()
    found = _parse(path, handle, budget, depth)
    unique: dict[tuple[str, str, str], Coordinates] = {}
    for coordinates in found:
        unique.setdefault((coordinates.name, coordinates.path, coordinates.version), coordinates)
    return list(unique.values())


def parse_pom_properties(text: bytes, path: str) -> Coordinates:
    values = {"groupId": "", "artifactId": "", "version": ""}
    for raw in text.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        for key in values:
            if line.startswith(key + "="):
                values[key] = line[len(key) + 1:]
    return Coordinates(values["groupId"], values["artifactId"], values["version"], path)


def parse_manifest(text: bytes) -> dict[str, str]:
    """The main section's attributes (continuation lines joined) that Trivy looks at."""
    attributes: dict[str, str] = {}
    current = ""
    for line in re.split(r"\r\n|\r|\n", text.decode("utf-8", "replace")):
        if line == "":
            break
        if line.startswith(" "):
            current += line[1:]
            continue
        _add_attribute(attributes, current)
        current = line
    _add_attribute(attributes, current)
    return attributes


def manifest_coordinates(attributes: dict[str, str], path: str) -> Coordinates:
    group = _first_of(attributes, MANIFEST_GROUP)
    if group and "Implementation-Vendor-Id" not in attributes and "Bundle-SymbolicName" in attributes:
        symbolic = attributes["Bundle-SymbolicName"]
        cut = symbolic.rfind(".")
        group = symbolic[:cut] if cut > 0 else symbolic
    return Coordinates(group.strip(), _first_of(attributes, MANIFEST_ARTIFACT).strip(),
                       _first_of(attributes, MANIFEST_VERSION).strip(), path)


class JavaCataloger:
    """Maven artifacts in Java archives."""

    name = "java"

    def wants(self, path: str, mode: int, size: int) -> bool:
        return is_archive_path(path)

    def catalog(self, files, os: OSInfo | None = None) -> list[Package]:
        packages: list[Package] = []
        for path in files.paths():
            if not is_archive_path(path):
                continue
            budget = Budget()
            try:
                with files.open(path) as handle:
                    found = parse_archive(path, handle, budget)
            except (ArchiveLimitError, zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
                    NotImplementedError, RuntimeError) as error:
                files.warn(f"{path}: unreadable Java archive: {error}")
                continue
            for warning in budget.warnings:
                files.warn(warning)
            layer = files.layer_of(path)
            packages.extend(make_package(KIND, item.name, item.version, path=item.path, layer_diff_id=layer)
                            for item in found)
        return packages


def _parse(path: str, handle: BinaryIO, budget: Budget, depth: int) -> list[Coordinates]:
    _check_central_directory(path, handle)
    found: list[Coordinates] = []
    manifest: dict[str, str] = {}
    has_pom_properties = False
    with zipfile.ZipFile(handle) as archive:
        for member in archive.infolist():
            base = posixpath.basename(member.filename)
            if base == "pom.properties":
                coordinates = parse_pom_properties(_read_member(archive, member, MAX_PROPERTIES, budget, path), path)
                if coordinates.valid:
                    found.append(coordinates)
                    has_pom_properties = True
            elif base == "MANIFEST.MF":
                manifest = parse_manifest(_read_member(archive, member, MAX_MANIFEST, budget, path))
            elif posixpath.splitext(member.filename)[1] in NESTED_EXTENSIONS and not member.is_dir():
                found.extend(_parse_nested(archive, member, path, budget, depth))
    if not has_pom_properties:
        coordinates = manifest_coordinates(manifest, path)
        if coordinates.valid:
            found.append(coordinates)
    return found


def _parse_nested(archive: zipfile.ZipFile, member: zipfile.ZipInfo, outer: str, budget: Budget,
                  depth: int) -> list[Coordinates]:
    inner_path = posixpath.join(outer, member.filename)
    if not posixpath.normpath(inner_path).startswith(posixpath.normpath(outer)):
        return []  # zip slip: a member naming a path outside its archive
    if depth + 1 > MAX_DEPTH:
        budget.warnings.append(f"{inner_path}: nested deeper than {MAX_DEPTH} archives, not read")
        return []
    if member.file_size > budget.inflated_left:  # an honest bomb is refused unread
        budget.warnings.append(f"{inner_path}: would inflate to {member.file_size} bytes, past the "
                               f"{MAX_INFLATED >> 20} MiB limit for one archive (zip bomb?), not read")
        return []
    try:
        with _spooled_member(archive, member, budget, outer) as inner:
            return _parse(inner_path, inner, budget, depth + 1)
    except ArchiveLimitError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError,
            RuntimeError) as error:
        budget.warnings.append(f"{inner_path}: unreadable nested archive: {error}")
        return []


def _spooled_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: Budget, outer: str) -> BinaryIO:
    """A nested archive's bytes in a seekable file, inflated under the budget.

    A member that lies about its size is cut off by the budget as it inflates.
    """
    spool: BinaryIO = (io.BytesIO() if member.file_size <= IN_MEMORY_NESTED
                       else tempfile.TemporaryFile(prefix="lamina-jar-"))
    try:
        with archive.open(member) as source:
            while True:
                chunk = source.read(1 << 20)
                if not chunk:
                    break
                budget.charge(len(chunk), outer)
                spool.write(chunk)
        spool.seek(0)
        return spool
    except BaseException:
        spool.close()
        raise


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int, budget: Budget, where: str) -> bytes:
    with archive.open(member) as source:
        data = source.read(limit)
    budget.charge(len(data), where)
    return data


def _check_central_directory(path: str, handle: BinaryIO) -> None:
    """Refuse a central directory too big to list before zipfile reads all of it into memory."""
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    tail_start = max(0, size - (65535 + 22))
    handle.seek(tail_start)
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise zipfile.BadZipFile(f"{path}: no end of central directory")
    entries, directory_size = struct.unpack_from("<HI", tail, at + 10)
    if directory_size == 0xFFFFFFFF or entries == 0xFFFF:
        locator = tail.rfind(b"PK\x06\x07", 0, at)
        if locator >= 0 and len(tail) - locator >= 20:
            (record_offset,) = struct.unpack_from("<Q", tail, locator + 8)
            handle.seek(record_offset)
            record = handle.read(56)
            if record[:4] == b"PK\x06\x06" and len(record) >= 56:
                (directory_size,) = struct.unpack_from("<Q", record, 40)
    if directory_size > MAX_CENTRAL_DIRECTORY:
        raise ArchiveLimitError(f"{path}: central directory of {directory_size} bytes")
    handle.seek(0)


def _add_attribute(attributes: dict[str, str], line: str) -> None:
    words = line.split()
    if len(words) <= 1 or words[1].startswith("%"):
        return
    for key in (*MANIFEST_GROUP, *MANIFEST_ARTIFACT, *MANIFEST_VERSION):
        if line.startswith(key + ":"):
            attributes[key] = line[len(key) + 1:]
            return


def _first_of(attributes: dict[str, str], keys: tuple[str, ...]) -> str:
    for key in keys:
        if attributes.get(key):
            return attributes[key]
    return ""
