"""The one advisory shape every importer produces and the database stores (OSV's, trimmed).

OSV records, Alpine secdb entries and Debian tracker entries all become ``Advisory`` values:
IDs, texts, the CVSS v3 vector, and per affected package its ecosystem, release, name, version
ranges and explicit versions. The matcher only ever reads this shape.
"""

from __future__ import annotations

import re

import msgspec


class Range(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An OSV range: ``type`` ECOSYSTEM or SEMVER, events ``{"introduced"|"fixed"|"last_affected": version}``."""

    type: str
    events: tuple[dict[str, str], ...]


class AffectedPackage(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One package an advisory affects, keyed the way the database indexes it."""

    ecosystem: str  # OSV ecosystem without release: "Debian", "Alpine", "PyPI", …
    name: str  # normalised with ``package_key``
    release: str = ""  # the distribution release of "Debian:12" / "Alpine:v3.19"; "" for all
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()
    status: str = ""  # a distro's own word when it overrides fixed/affected: "will_not_fix", "fix_deferred"


class Advisory(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One vulnerability record from one source."""

    id: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    cvss_vector: str = ""  # CVSS v3 only; "" when the record has none
    published: str = ""
    modified: str = ""
    references: tuple[str, ...] = ()
    affected: tuple[AffectedPackage, ...] = ()


_PEP503 = re.compile(r"[-_.]+")


def package_key(ecosystem: str, name: str) -> str:
    """The name the database indexes a package under: each ecosystem's own notion of sameness.

    PyPI names compare after PEP 503 normalisation; Packagist and NuGet names case-insensitively;
    every other ecosystem's names are exact.
    """
    base = ecosystem.lower()
    if base == "pypi":
        return _PEP503.sub("-", name).lower()
    if base in ("packagist", "nuget"):
        return name.lower()
    return name


def split_ecosystem(ecosystem: str) -> tuple[str, str]:
    """``("Debian", "12")`` from ``"Debian:12"``; the release is "" when there is none.

    Ubuntu's OSV names say more (``Ubuntu:22.04:LTS``, ``Ubuntu:Pro:18.04:LTS``): the release is
    its version number; Pro-only records keep a ``Pro:`` prefix, so they match no plain image.
    Red Hat's name a product stream (``Red Hat:enterprise_linux:9::appstream``): the release is
    its major version.
    """
    base, _, release = ecosystem.partition(":")
    base, release = base.strip(), release.strip()
    if base.lower() == "ubuntu" and release:
        parts = release.split(":")
        number = next((part for part in parts if part[:1].isdigit()), parts[0])
        release = f"Pro:{number}" if "Pro" in parts else number
    elif base.lower() == "red hat" and release:
        number = next((part for part in release.split(":") if part[:1].isdigit()), release)
        release = number.split(".")[0]
    return base, release
