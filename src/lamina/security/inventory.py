"""The package inventory of an image: what every cataloger produces and every scanner reads.

One record shape for OS and language packages, so the vulnerability matcher, the SBOM writers
and the reports never need to know which cataloger found a package. Field names follow the
words Trivy's reports use where a reader of those reports would look for them.
"""

from __future__ import annotations

import msgspec


class OSInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The distribution an image is based on, from ``/etc/os-release`` (or its fallbacks)."""

    family: str  # Trivy's word: "debian", "ubuntu", "alpine", "redhat", "centos", "rocky", "amazon", …
    name: str  # the version as Trivy reports it: "12.5" for Debian, "3.19.1" for Alpine
    pretty_name: str = ""


class Package(msgspec.Struct, frozen=True, kw_only=True):
    """One installed package, with where it was found."""

    name: str
    version: str  # as the package manager states it; Debian/rpm: without the epoch (see ``epoch``)
    kind: str  # Trivy's result ``Type``: "debian", "alpine", "redhat", "python-pkg", "node-pkg",
    #            "gobinary", "jar", "rustbinary", "gemspec", "composer", …
    ecosystem: str  # OSV's ecosystem name: "Debian", "Alpine", "Red Hat", "PyPI", "npm", "Go",
    #                 "Maven", "crates.io", "RubyGems", "Packagist"
    purl: str  # as Trivy writes it
    path: str = ""  # file in the image the record came from ("" for OS packages: the db path is implied)
    layer_diff_id: str = ""  # the layer that last wrote that record
    epoch: int = 0
    release: str = ""  # rpm release / dpkg revision is part of ``version`` for dpkg
    arch: str = ""
    source_name: str = ""  # OS packages: the source package (dpkg ``Source:``, rpm SRPM name)
    source_version: str = ""  # the source package's version when it differs
    source_epoch: int = 0
    licenses: tuple[str, ...] = ()

    @property
    def full_version(self) -> str:
        """The version with the epoch, as the package manager compares it (``1:2.38-5``; rpm:
        ``epoch:version-release``, since rpm keeps the release apart)."""
        version = f"{self.version}-{self.release}" if self.release else self.version
        return f"{self.epoch}:{version}" if self.epoch else version


class Inventory(msgspec.Struct, kw_only=True):
    """Everything the catalogers found in one image."""

    image_name: str
    image_id: str  # config digest
    os: OSInfo | None
    packages: list[Package]
    diff_ids: list[str]  # the image's layers, base first
