"""Version order for every ecosystem the vulnerability matcher knows, by OSV ecosystem name.

Each ecosystem has its own module with one ``compare(left, right) -> -1 | 0 | 1``; this
dispatcher picks it. An OSV ecosystem may carry a release suffix (``Debian:12``,
``Alpine:v3.19``): only the part before ``:`` chooses the order.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from lamina.security.versions.errors import VersionFormatError

__all__ = ["VersionFormatError", "compare", "comparator", "known_ecosystem"]

_MODULE_BY_ECOSYSTEM = {
    "debian": "dpkg",
    "ubuntu": "dpkg",
    "alpine": "apk",
    "wolfi": "apk",
    "chainguard": "apk",
    "red hat": "rpm",
    "almalinux": "rpm",
    "rocky linux": "rpm",
    "opensuse": "rpm",
    "suse": "rpm",
    "mageia": "rpm",
    "photon os": "rpm",
    "pypi": "pep440",
    "npm": "semver",
    "crates.io": "semver",
    "packagist": "semver",
    "nuget": "semver",
    "hex": "semver",
    "pub": "semver",
    "go": "golang",
    "maven": "maven",
    "rubygems": "rubygems",
}


def comparator(ecosystem: str) -> Callable[[str, str], int]:
    """The ``compare`` function of an ecosystem; VersionFormatError for one we have no order for."""
    module = _MODULE_BY_ECOSYSTEM.get(ecosystem.partition(":")[0].strip().lower())
    if module is None:
        raise VersionFormatError(f"no version order known for ecosystem {ecosystem!r}")
    return import_module(f"lamina.security.versions.{module}").compare


def compare(ecosystem: str, left: str, right: str) -> int:
    """-1, 0 or 1 as ``left`` is older than, equal to or newer than ``right`` in ``ecosystem``."""
    return comparator(ecosystem)(left, right)


def known_ecosystem(ecosystem: str) -> bool:
    """Whether ``comparator`` has an order for this ecosystem."""
    return ecosystem.partition(":")[0].strip().lower() in _MODULE_BY_ECOSYSTEM
