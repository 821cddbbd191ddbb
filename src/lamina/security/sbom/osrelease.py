"""Which distribution an image is, in Trivy's words (family and version strings).

Trivy does not read ``/etc/os-release`` alone: Debian's version comes from ``/etc/debian_version``
(``12.5``, where os-release says only ``12``), Ubuntu's from ``/etc/lsb-release``, the Red Hat
family's from its ``*-release`` files. The same order is followed here so that purls'
``distro=`` qualifiers match Trivy's.
"""

from __future__ import annotations

import re

from lamina.security.inventory import OSInfo
from lamina.security.sbom.walk import FileView

__all__ = ["OS_FILES", "detect_os", "parse_os_release"]

_OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
_REDHAT_RELEASES = ("etc/centos-release", "etc/rocky-release", "etc/almalinux-release", "etc/oracle-release",
                    "etc/fedora-release", "etc/redhat-release", "etc/system-release")

#: The files OS detection reads (the walker always keeps them).
OS_FILES = frozenset((*_OS_RELEASE, "etc/debian_version", "etc/lsb-release", "etc/alpine-release",
                      *_REDHAT_RELEASES))

#: os-release ``ID`` → Trivy's family, for distributions recognised from os-release alone.
_OS_RELEASE_FAMILIES = {
    "alpine": "alpine", "ubuntu": "ubuntu", "debian": "debian", "rhel": "redhat", "centos": "centos",
    "rocky": "rocky", "almalinux": "alma", "ol": "oracle", "fedora": "fedora", "amzn": "amazon",
    "mariner": "cbl-mariner", "azurelinux": "azurelinux", "photon": "photon", "wolfi": "wolfi",
    "chainguard": "chainguard", "opensuse-leap": "opensuse-leap", "opensuse-tumbleweed": "opensuse-tumbleweed",
    "sles": "sles", "sle-micro": "sle-micro", "opensuse": "opensuse",
}

#: Words in a ``*-release`` line → family (the first match wins: CentOS Stream says "CentOS").
_RELEASE_FAMILIES = (("centos", "centos"), ("rocky", "rocky"), ("almalinux", "alma"), ("oracle", "oracle"),
                     ("fedora", "fedora"), ("amazon", "amazon"), ("red hat", "redhat"))
_RELEASE_VERSION = re.compile(r"release\s+(\d[\w.]*)(.*)$")
_MAX_RELEASE_FILE = 64 << 10


def detect_os(files: FileView) -> OSInfo | None:
    """The image's distribution, or None when no release file names one."""
    os_release = {}
    for path in _OS_RELEASE:
        text = _text(files, path)
        if text is not None:
            os_release = parse_os_release(text)
            break
    pretty = os_release.get("PRETTY_NAME", "")
    os_id = os_release.get("ID", "")

    lsb = parse_os_release(_text(files, "etc/lsb-release") or "")
    if lsb.get("DISTRIB_ID", "").lower() == "ubuntu" and lsb.get("DISTRIB_RELEASE"):
        return OSInfo(family="ubuntu", name=lsb["DISTRIB_RELEASE"], pretty_name=pretty)
    if os_id == "ubuntu" and os_release.get("VERSION_ID"):
        return OSInfo(family="ubuntu", name=os_release["VERSION_ID"], pretty_name=pretty)
    debian_version = _text(files, "etc/debian_version")
    if debian_version is not None and os_id in ("", "debian"):
        return OSInfo(family="debian", name=debian_version.strip(), pretty_name=pretty)
    alpine_release = _text(files, "etc/alpine-release")
    if alpine_release is not None and os_id in ("", "alpine"):
        return OSInfo(family="alpine", name=alpine_release.strip(), pretty_name=pretty)
    for path in _REDHAT_RELEASES:
        found = _redhat_release(_text(files, path))
        if found is not None:
            return OSInfo(family=found[0], name=found[1], pretty_name=pretty)
    family = _OS_RELEASE_FAMILIES.get(os_id)
    if family and os_release.get("VERSION_ID"):
        return OSInfo(family=family, name=os_release["VERSION_ID"], pretty_name=pretty)
    return None


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines (shell-quoted values unquoted), as os-release(5) and lsb-release say."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, eq, value = line.strip().partition("=")
        if not eq or not key or key.startswith("#"):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        fields[key.strip()] = value
    return fields


def _redhat_release(text: str | None) -> tuple[str, str] | None:
    """(family, version) from a line like ``Rocky Linux release 9.3 (Blue Onyx)``."""
    if not text:
        return None
    line = text.strip().splitlines()[0] if text.strip() else ""
    match = _RELEASE_VERSION.search(line)
    if not match:
        return None
    lowered = line.lower()
    for word, family in _RELEASE_FAMILIES:
        if word in lowered:
            version = match.group(1)
            if family == "amazon":  # Trivy keeps Amazon's codename: "2 (Karoo)"
                version = (version + match.group(2)).strip()
            return family, version
    return None


def _text(files: FileView, path: str) -> str | None:
    try:
        return files.read(path, _MAX_RELEASE_FILE).decode("utf-8", "replace")
    except (FileNotFoundError, ValueError):
        return None
