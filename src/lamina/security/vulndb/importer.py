"""``lamina db import``: read advisory sources from paths into the database.

A path may be a directory (walked for ``*.json``, ``*.yaml``, ``*.yml``: OSV records as in
``pypa/advisory-database`` or ``golang/vulndb``, or Alpine secdb documents), a zip of such
files (osv.dev's per-ecosystem ``all.zip``), or one file: an OSV record, a JSON list of them,
an Alpine secdb document or the Debian security tracker's JSON.

Decisions for bad input: a record that cannot be decoded or does not follow its schema is
skipped with one warning naming the file and the record, and the import goes on; a path that
holds nothing we recognise, a zip that is not one, or a zip member that expands past
``MAX_MEMBER_BYTES`` (a zip bomb) fails the import of that path with one line and leaves the
database as it was. Memory stays bounded: one document at a time, each read with a cap.
"""

from __future__ import annotations

import gc
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from lamina.security.vulndb import alpine, debian
from lamina.security.vulndb.advisory import Advisory
from lamina.security.vulndb.database import SourceWriter, VulnDatabase
from lamina.security.vulndb.errors import VulnDBError
from lamina.security.vulndb.osv import MalformedRecord, advisory_from_osv

MAX_MEMBER_BYTES = 64 << 20  # one record file in a zip (the largest real OSV record is a few MB)
MAX_FILE_BYTES = 512 << 20  # one plain file (the Debian tracker JSON is ~70 MB)
MAX_ZIP_TOTAL_BYTES = 8 << 30
MAX_ZIP_MEMBERS = 2_000_000
MAX_WARNINGS = 50
_SUFFIXES = (".json", ".yaml", ".yml")


class ImportReport(msgspec.Struct, kw_only=True):
    """What one import brought in."""

    origin: str
    kind: str
    advisories: int
    skipped: int
    warnings: list[str]
    unchanged: bool = False  # ``db update``: the server said the source has not changed


def import_path(db: VulnDatabase, path: str | os.PathLike[str], *, origin: str | None = None,
                origin_modified: str = "", name: str = "", etag: str = "") -> ImportReport:
    """Import one path as one source (replacing an earlier import of the same origin)."""
    source_path = Path(path)
    if not source_path.exists():
        raise VulnDBError(f"{source_path}: no such file or directory")
    origin = origin or str(source_path.resolve())
    origin_modified = origin_modified or _mtime(source_path)
    # hundreds of thousands of small records stay alive until the commit: the cycle collector
    # would rescan them again and again (half the import time of a Debian tracker dump)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _import(db, source_path, origin, origin_modified, name, etag)
    finally:
        if collecting:
            gc.enable()


def _import(db: VulnDatabase, source_path: Path, origin: str, origin_modified: str, name: str,
            etag: str) -> ImportReport:
    with db.replacing_source(kind="osv", name=name or source_path.name, origin=origin,
                             origin_modified=origin_modified, etag=etag) as writer:
        loader = _Loader(writer, origin)
        if source_path.is_dir():
            loader.load_directory(source_path)
        elif zipfile.is_zipfile(source_path):
            loader.load_zip(source_path)
        else:
            loader.load_file(source_path, required=True)
        if writer.advisories == 0 and not loader.recognised:
            raise VulnDBError(f"{source_path}: no OSV records, Alpine secdb or Debian tracker data found")
        writer.kind = loader.kind or "osv"
        writer.name = name or loader.name or source_path.name
    return ImportReport(origin=origin, kind=writer.kind, advisories=writer.advisories, skipped=writer.skipped,
                        warnings=loader.warnings)


class _Loader:
    """Feeds decoded documents of one source to its writer, collecting warnings."""

    def __init__(self, writer: SourceWriter, origin: str):
        self.writer = writer
        self.origin = origin
        self.warnings: list[str] = []
        self.kind = ""
        self.name = ""
        self.recognised = False

    def load_directory(self, directory: Path) -> None:
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.endswith(_SUFFIXES):
                    self.load_file(Path(dirpath) / filename, required=False)

    def load_file(self, path: Path, *, required: bool) -> None:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise VulnDBError(f"{path}: {size} bytes is more than the {MAX_FILE_BYTES >> 20} MiB an advisory file may have")
        self._load_document(str(path), path.read_bytes(), required=required)

    def load_zip(self, path: Path) -> None:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise VulnDBError(f"{path}: not a readable zip ({error})") from None
        with archive:
            members = [m for m in archive.infolist() if not m.is_dir() and m.filename.endswith(_SUFFIXES)]
            if len(members) > MAX_ZIP_MEMBERS:
                raise VulnDBError(f"{path}: {len(members)} members is more than {MAX_ZIP_MEMBERS}")
            total = 0
            for member in members:
                where = f"{path}:{member.filename}"
                data = _read_member(archive, member, where)
                total += len(data)
                if total > MAX_ZIP_TOTAL_BYTES:
                    raise VulnDBError(f"{path}: expands past {MAX_ZIP_TOTAL_BYTES >> 30} GiB (zip bomb?)")
                self._load_document(where, data, required=False)

    def _load_document(self, where: str, data: bytes, *, required: bool) -> None:
        if data.lstrip()[:1] == b"{" and (tracker := debian.decode_tracker(data)) is not None:
            del data  # the tracker dump is the one large input: keep only what the records need
            converted = debian.advisories_from_tracker(tracker)
            del tracker
            self._load_tracker(where, converted)
            return
        try:
            document = _decode(where, data)
        except ValueError as error:
            if required:
                raise VulnDBError(f"{where}: not JSON or YAML ({_first_line(error)})") from None
            self._warn(f"{where}: skipped, not JSON or YAML ({_first_line(error)})")
            return
        if alpine.is_secdb(document):
            self._load_secdb(where, document)
        elif debian.is_tracker(document):
            self._load_tracker(where, debian.advisories_from_tracker(document))
        elif isinstance(document, list):
            for index, record in enumerate(document):
                self._load_osv(f"{where}[{index}]", record)
        elif isinstance(document, dict) and "id" in document:
            self._load_osv(where, document)
        elif required:
            raise VulnDBError(f"{where}: not an OSV record, Alpine secdb or Debian tracker document")
        else:
            self._warn(f"{where}: skipped, not an OSV record, Alpine secdb or Debian tracker document")

    def _load_osv(self, where: str, record: Any) -> None:
        self.recognised = True
        self.kind = self.kind or "osv"
        try:
            advisory = advisory_from_osv(record)
        except MalformedRecord as problem:
            record_id = record.get("id") if isinstance(record, dict) else None
            self._warn(f"{where}: record {record_id or '?'} skipped: {problem}")
            return
        if not self.name and advisory.affected:
            self.name = f"OSV {advisory.affected[0].ecosystem}"
        self.writer.add(advisory)

    def _load_secdb(self, where: str, document: dict) -> None:
        self.recognised = True
        self.kind = self.kind or "alpine-secdb"
        try:
            release, advisories, problems = alpine.advisories_from_secdb(document)
        except MalformedRecord as problem:
            self._warn(f"{where}: skipped: {problem}")
            return
        self.name = self.name or f"Alpine secdb {release} {document.get('reponame', '')}".strip()
        for problem in problems:
            self._warn(f"{where}: {problem} skipped")
        for advisory in advisories:
            self.writer.add(advisory)

    def _load_tracker(self, where: str, converted: tuple[list[Advisory], list[str]]) -> None:
        self.recognised = True
        self.kind = self.kind or "debian-tracker"
        self.name = self.name or "Debian security tracker"
        advisories, problems = converted
        for problem in problems:
            self._warn(f"{where}: {problem} skipped")
        for advisory in advisories:
            self.writer.add(advisory)

    def _warn(self, message: str) -> None:
        self.writer.skipped += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)
        elif len(self.warnings) == MAX_WARNINGS:
            self.warnings.append("… more records skipped (see the skipped count)")


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, where: str) -> bytes:
    """A member's bytes, refusing one that claims or turns out to expand past the cap."""
    if member.file_size > MAX_MEMBER_BYTES:
        raise VulnDBError(f"{where}: expands to {member.file_size} bytes, more than {MAX_MEMBER_BYTES >> 20} MiB (zip bomb?)")
    try:
        with archive.open(member) as stream:
            data = stream.read(MAX_MEMBER_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
        raise VulnDBError(f"{where}: cannot be read ({error})") from None
    if len(data) > MAX_MEMBER_BYTES:
        raise VulnDBError(f"{where}: expands past {MAX_MEMBER_BYTES >> 20} MiB (zip bomb?)")
    return data


def _decode(where: str, data: bytes) -> Any:
    if where.endswith(".json") or data.lstrip()[:1] in (b"{", b"["):
        try:
            return msgspec.json.decode(data)
        except msgspec.DecodeError as error:
            raise ValueError(str(error)) from None
        except RecursionError:
            raise ValueError("nested too deeply") from None
    import yaml

    try:
        return yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
