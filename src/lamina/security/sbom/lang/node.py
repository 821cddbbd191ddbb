"""Node packages: every ``package.json`` in the image with a name and a version.

Trivy's image scan reports each installed package.json as a ``node-pkg`` (wherever it is, not
only under ``node_modules``) and leaves lockfiles (package-lock.json, yarn.lock, pnpm-lock.yaml)
to filesystem scans: an image holds what was installed, a lockfile only what was planned.
"""

from __future__ import annotations

import json
import posixpath
import re

from lamina.security.inventory import OSInfo, Package
from lamina.security.sbom.lang.package import make_package

KIND = "node-pkg"
#: npm's URL-friendly name rule, as Trivy checks it (scope optional).
NAME = re.compile(r"^(@[A-Za-z0-9\-._]+/)?[A-Za-z0-9\-._]+$")
#: A package.json is a few KiB; npm's own limit on a manifest is far below this.
MAX_PACKAGE_JSON = 8 << 20


class PackageJsonError(ValueError):
    """A package.json that is not JSON or has a name npm would refuse."""


def is_package_json(path: str) -> bool:
    return posixpath.basename(path) == "package.json"


def parse_package_json(text: bytes) -> tuple[str, str, tuple[str, ...]] | None:
    """(name, version, licenses) of a package.json; None when name or version is missing."""
    try:  # the first JSON value, as Go's json.Decoder reads it for Trivy: trailing bytes are ignored
        document, _ = json.JSONDecoder().raw_decode(text.decode("utf-8", "replace").lstrip(" \t\r\n"))
    except (json.JSONDecodeError, RecursionError) as error:
        raise PackageJsonError(f"JSON decode error: {error}") from None
    if not isinstance(document, dict):
        raise PackageJsonError("not a JSON object")
    name, version = document.get("name"), document.get("version")
    for field, value in (("name", name), ("version", version)):
        if value is not None and not isinstance(value, str):
            raise PackageJsonError(f"{field} is not a string")
    if name and not NAME.match(name):
        raise PackageJsonError("name can only contain URL-friendly characters")
    if not name or not version:
        return None
    return name, version, _licenses(document)


class NodeCataloger:
    """Installed npm packages, one per package.json."""

    name = "node"

    def wants(self, path: str, mode: int, size: int) -> bool:
        return is_package_json(path)

    def catalog(self, files, os: OSInfo | None = None) -> list[Package]:
        packages: list[Package] = []
        for path in files.paths():
            if not is_package_json(path):
                continue
            try:
                found = parse_package_json(files.read(path, MAX_PACKAGE_JSON))
            except (ValueError, OSError) as error:
                files.warn(f"{path}: not an npm package: {error}")
                continue
            if found is not None:
                name, version, licenses = found
                packages.append(make_package(KIND, name, version, path=path, layer_diff_id=files.layer_of(path),
                                             licenses=licenses))
        return packages


def _licenses(document: dict) -> tuple[str, ...]:
    """``license`` as a string or ``{"type": …}``, else the old ``licenses`` list."""
    license_field = document.get("license")
    if isinstance(license_field, str) and license_field:
        return (license_field,)
    if isinstance(license_field, dict) and isinstance(license_field.get("type"), str):
        return (license_field["type"],)
    names = []
    for entry in document.get("licenses") or [] if isinstance(document.get("licenses"), list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("type"), str):
            names.append(entry["type"])
        elif isinstance(entry, str):
            names.append(entry)
    return tuple(names)
