"""Rust binaries built with cargo-auditable: the crate list in the ``.dep-v0`` ELF section.

The section is zlib-compressed JSON, ``{"packages": [{"name", "version", "source", "kind",
"dependencies", "root"}]}``; ``kind`` is ``runtime`` unless it says ``build``. Trivy reports the
runtime crates (root included) and skips build-only ones; so does this. A Cargo.lock is a
lockfile: Trivy's image scan leaves it to filesystem scans. Plain Rust binaries carry no crate
list and give nothing.
"""

from __future__ import annotations

import json
import zlib
from typing import BinaryIO

from lamina.security.inventory import OSInfo, Package
from lamina.security.sbom.lang.elf import ElfError, ElfFile, ExecutableFiles, file_contains, is_elf
from lamina.security.sbom.lang.package import make_package

KIND = "rustbinary"
SECTION = ".dep-v0"
#: cargo-auditable's own readers cap the decompressed JSON; a crate list is a few hundred KiB.
MAX_JSON = 8 << 20
MAX_COMPRESSED = 8 << 20


class AuditDataError(ValueError):
    """A ``.dep-v0`` section that does not inflate to cargo-auditable's JSON."""


def read_audit_data(handle: BinaryIO, size: int) -> list[tuple[str, str]] | None:
    """(name, version) of the runtime crates of an auditable ELF; None if it carries no list."""
    handle.seek(0)
    if not is_elf(handle.read(4)) or not file_contains(handle, SECTION.encode() + b"\0"):
        return None  # the section's name must be in the section-name table
    elf = ElfFile(handle, size)
    section = elf.section(SECTION)
    if section is None:
        return None
    if section.size > MAX_COMPRESSED:
        raise AuditDataError(f"{SECTION} is {section.size} bytes compressed")
    try:
        compressed = elf.section_bytes(section, MAX_COMPRESSED)
    except ElfError as error:
        raise AuditDataError(str(error)) from None
    return parse_audit_json(inflate(compressed))


def inflate(compressed: bytes) -> bytes:
    """zlib-inflate at most MAX_JSON bytes: a bomb stops at the cap with an error."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, MAX_JSON + 1)
    except zlib.error as error:
        raise AuditDataError(f"{SECTION} is not zlib data: {error}") from None
    if len(data) > MAX_JSON:
        raise AuditDataError(f"{SECTION} inflates past {MAX_JSON >> 20} MiB")
    return data


def parse_audit_json(data: bytes) -> list[tuple[str, str]]:
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise AuditDataError(f"{SECTION} is not JSON: {error}") from None
    packages = document.get("packages") if isinstance(document, dict) else None
    if not isinstance(packages, list):
        raise AuditDataError(f"{SECTION} has no package list")
    found = []
    for crate in packages:
        if not isinstance(crate, dict) or crate.get("kind", "runtime") != "runtime":
            continue
        name, version = crate.get("name"), crate.get("version")
        if isinstance(name, str) and isinstance(version, str) and name:
            found.append((name, version))
    return found


class RustBinaryCataloger(ExecutableFiles):
    """Crates recorded in cargo-auditable executables.

    The walker stops asking catalogers once one wants a file, and the Go cataloger before this one
    wants every executable: so this one reads every ELF file of the view (four bytes tell), not
    only those it saw as executable. A cargo-auditable file without an execute bit is reported
    here and not by Trivy (docs/security.md).
    """

    name = "rustbinary"

    def catalog(self, files, os: OSInfo | None = None) -> list[Package]:
        packages: list[Package] = []
        for path in files.paths():
            try:
                with files.open(path) as handle:
                    crates = read_audit_data(handle, files.size(path))
            except AuditDataError as error:
                files.warn(f"{path}: unreadable cargo-auditable data: {error}")
                continue
            except (OSError, ValueError):  # a broken ELF is the Go cataloger's to report, once
                continue
            if not crates:
                continue
            layer = files.layer_of(path)
            packages.extend(make_package(KIND, name, version, path=path, layer_diff_id=layer)
                            for name, version in crates)
        return packages
