"""PHP packages: Composer's ``vendor/composer/installed.json``, what ``composer install`` put in place.

Trivy reports these as ``composer-vendor`` (composer.lock is a lockfile: filesystem scans only).
installed.json has two shapes: Composer 2 writes ``{"packages": [...]}``, Composer 1 a bare list.
Trivy reads only the Composer 2 shape; lamina reads both (a documented difference).
"""

from __future__ import annotations

import json
import posixpath

from lamina.security.inventory import OSInfo, Package
from lamina.security.sbom.lang.package import make_package

KIND = "composer-vendor"
MAX_INSTALLED_JSON = 64 << 20


class InstalledJsonError(ValueError):
    """An installed.json that is not JSON of either Composer shape."""


def is_installed_json(path: str) -> bool:
    return posixpath.basename(path) == "installed.json"


def parse_installed_json(text: bytes) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, version, licenses) of every package, the first record of a name winning."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise InstalledJsonError(f"JSON decode error: {error}") from None
    if isinstance(document, dict):
        records = [*_list(document.get("packages")), *_list(document.get("packages-dev"))]
    elif isinstance(document, list):
        records = document
    else:
        raise InstalledJsonError("neither a package list nor {\"packages\": [...]}")
    seen: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for record in records:
        if not isinstance(record, dict):
            continue
        name, version = record.get("name"), record.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or name in seen:
            continue
        seen[name] = (name, version, _licenses(record.get("license")))
    return sorted(seen.values())


class ComposerCataloger:
    """Composer-installed PHP packages."""

    name = "php"

    def wants(self, path: str, mode: int, size: int) -> bool:
        return is_installed_json(path)

    def catalog(self, files, os: OSInfo | None = None) -> list[Package]:
        packages: list[Package] = []
        for path in files.paths():
            if not is_installed_json(path):
                continue
            try:
                found = parse_installed_json(files.read(path, MAX_INSTALLED_JSON))
            except (ValueError, OSError) as error:
                files.warn(f"{path}: not a Composer installed.json: {error}")
                continue
            layer = files.layer_of(path)
            packages.extend(make_package(KIND, name, version, path=path, layer_diff_id=layer, licenses=licenses)
                            for name, version, licenses in found)
        return packages


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _licenses(value: object) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str))
    return ()
