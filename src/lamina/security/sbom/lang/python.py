"""Python packages: ``*.dist-info/METADATA``, ``*.egg-info`` (file or dir) and ``.egg`` zips.

Trivy reads the same core-metadata header (RFC 822 style, up to the first blank line) for all
of them; a record without Name or Version is no package. Which paths count is Trivy's rule too:
any ``METADATA`` under a ``.dist-info`` directory, any path ending in ``EGG-INFO/PKG-INFO``,
``.egg-info``, ``.egg-info/PKG-INFO`` or ``.egg-info/METADATA``, and any ``*.egg`` archive.
"""

from __future__ import annotations

import io
import posixpath
import zipfile

from lamina.security.inventory import OSInfo, Package
from lamina.security.sbom.lang.package import make_package

KIND = "python-pkg"
EGG_SUFFIXES = ("EGG-INFO/PKG-INFO", ".egg-info", ".egg-info/PKG-INFO", ".egg-info/METADATA")
#: Core metadata is a few KiB; a header bigger than this is not one.
MAX_METADATA = 4 << 20
#: ``.egg`` archives are opened in place; only their PKG-INFO is read.
MAX_EGG = 256 << 20


class MetadataError(ValueError):
    """A core-metadata file without a package name or version."""


def is_metadata_path(path: str) -> bool:
    """Whether Trivy reads ``path`` as Python core metadata (dist-info or egg-info)."""
    if ".dist-info" in path and posixpath.basename(path) == "METADATA":
        return True
    return path.endswith(EGG_SUFFIXES)


def is_egg_archive(path: str) -> bool:
    return posixpath.splitext(path)[1] == ".egg"


def parse_metadata(text: bytes) -> tuple[str, str, tuple[str, ...]]:
    """(name, version, licenses) from a METADATA / PKG-INFO header; MetadataError if incomplete."""
    fields = read_header(text[:MAX_METADATA])
    name = _first(fields, "name")
    version = _first(fields, "version")
    if not name or not version:
        raise MetadataError("name or version is empty")
    return name, version, _licenses(fields)


def read_header(text: bytes) -> dict[str, list[str]]:
    """The header fields (lower-cased names, values in order) up to the first blank line.

    A malformed line ends the header, as Go's textproto reader does for Trivy.
    """
    fields: dict[str, list[str]] = {}
    last: str | None = None
    for raw in text.decode("utf-8", "replace").splitlines():
        if not raw.strip():
            break
        if raw[0] in " \t":
            if last is None:
                break
            fields[last][-1] = (fields[last][-1] + " " + raw.strip()).strip()
            continue
        key, colon, value = raw.partition(":")
        if not colon or not key.strip() or key != key.strip():
            break
        last = key.lower()
        fields.setdefault(last, []).append(value.strip())
    return fields


def parse_egg(handle: io.BufferedIOBase) -> tuple[str, str, tuple[str, ...]] | None:
    """The package of an ``.egg`` zip (its first egg-info member), or None if it has none."""
    with zipfile.ZipFile(handle) as archive:
        for member in archive.infolist():
            if member.filename.endswith(EGG_SUFFIXES):
                with archive.open(member) as metadata:
                    return parse_metadata(metadata.read(MAX_METADATA))
    return None


class PythonCataloger:
    """Installed Python distributions, one package per metadata file."""

    name = "python"

    def wants(self, path: str, mode: int, size: int) -> bool:
        return is_metadata_path(path) or is_egg_archive(path)

    def catalog(self, files, os: OSInfo | None = None) -> list[Package]:
        packages: list[Package] = []
        for path in files.paths():
            try:
                if is_metadata_path(path):
                    found = parse_metadata(files.read(path, MAX_METADATA))
                elif is_egg_archive(path):
                    if files.size(path) > MAX_EGG:
                        files.warn(f"{path}: egg archive larger than {MAX_EGG >> 20} MiB, skipped")
                        continue
                    with files.open(path) as handle:
                        found = parse_egg(handle)
                else:
                    continue
            except (ValueError, OSError, zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as error:
                files.warn(f"{path}: not a Python package record: {error}")
                continue
            if found is not None:
                name, version, licenses = found
                packages.append(make_package(KIND, name, version, path=path, layer_diff_id=files.layer_of(path),
                                             licenses=licenses))
        return packages


def _first(fields: dict[str, list[str]], key: str) -> str:
    values = fields.get(key)
    return values[0] if values else ""


def _licenses(fields: dict[str, list[str]]) -> tuple[str, ...]:
    """License-Expression, else the classifiers' license names, else the License field."""
    expression = _first(fields, "license-expression")
    if expression:
        return (expression,)
    classified = [value.split(" :: ")[-1] for value in fields.get("classifier", [])
                  if value.startswith("License :: ") and value.split(" :: ")[-1] != "OSI Approved"]
    if classified:
        return tuple(classified)
    single = _first(fields, "license")
    return tuple(part.strip() for part in single.split(",") if part.strip()) if single else ()
