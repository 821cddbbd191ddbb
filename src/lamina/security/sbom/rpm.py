"""Red Hat family and SUSE packages from the rpm database (sqlite, Berkeley DB or NDB)."""

from __future__ import annotations

import msgspec

from lamina.security.inventory import OSInfo, Package
from lamina.security.sbom import rpmdb
from lamina.security.sbom.catalogers import capped
from lamina.security.sbom.purl import os_purl
from lamina.security.sbom.walk import FileView

__all__ = ["RpmCataloger", "split_source_rpm"]

_DIRS = ("usr/lib/sysimage/rpm/", "var/lib/rpm/", "usr/share/rpm/")
_FILES = ("rpmdb.sqlite", "Packages.db", "Packages")
DATABASES = frozenset(directory + name for directory in _DIRS for name in _FILES)


class RpmCataloger:
    """Installed rpm packages (Trivy's types: the OS family, e.g. ``redhat``, ``centos``)."""

    name = "rpm"

    def wants(self, path: str, mode: int, size: int) -> bool:
        return path in DATABASES

    def catalog(self, files: FileView, os: OSInfo | None) -> list[Package]:
        packages: list[Package] = []
        seen_dirs: set[str] = set()
        for path in sorted(DATABASES, key=_preference):
            directory = path.rsplit("/", 1)[0]
            if directory in seen_dirs or not files.exists(path):
                continue
            seen_dirs.add(directory)
            origins = _origin_layers(files, path)
            layer = files.layer_of(path)
            for blob in capped(_blobs(files, path), path, files.warn):
                package = _package(rpmdb.parse_header(blob, path), os, layer)
                if package is not None:
                    origin = origins.get((package.name, package.full_version, package.arch), layer)
                    packages.append(msgspec.structs.replace(package, layer_diff_id=origin))
        return packages


def split_source_rpm(file_name: str) -> tuple[str, str, str]:
    """``util-linux-2.37.4-15.el9.src.rpm`` → ``("util-linux", "2.37.4", "15.el9")``."""
    stem = file_name.removesuffix(".rpm")
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem  # the arch: src / nosrc
    rest, _, release = stem.rpartition("-")
    name, _, version = rest.rpartition("-")
    if not name or not version or not release:
        return "", "", ""
    return name, version, release


def _preference(path: str) -> tuple[int, int]:
    """sqlite before NDB before Berkeley DB (a converted image keeps its old Packages file)."""
    name = path.rsplit("/", 1)[1]
    return _FILES.index(name), next(i for i, d in enumerate(_DIRS) if path.startswith(d))


def _blobs(files: FileView, path: str, diff_id: str | None = None):
    """The header blobs of the database ``path`` (as layer ``diff_id`` wrote it, if given)."""
    if path.endswith(".sqlite"):
        yield from rpmdb.read_sqlite(files.local_path(path, diff_id), path)
        return
    reader = rpmdb.read_ndb if path.endswith(".db") else rpmdb.read_bdb
    with (files.open(path) if diff_id is None else files.open_version(path, diff_id)) as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(0)
        yield from reader(handle, size, path)


def _origin_layers(files: FileView, path: str) -> dict[tuple[str, str, str], str]:
    """(name, version, arch) → the layer whose database first listed it, in an unbroken run.

    A layer that installs one rpm rewrites the whole database; the packages it did not touch
    still came from the layer below (as Trivy attributes them). Earlier versions that cannot be
    read count as listing nothing.
    """
    versions = files.history(path)
    if len(versions) < 2:
        return {}
    origins: dict[tuple[str, str, str], str] = {}
    for diff_id in versions:
        present: set[tuple[str, str, str]] = set()
        try:
            for blob in capped(_blobs(files, path, diff_id), path, _quiet):
                package = _package(rpmdb.parse_header(blob, path), None, diff_id)
                if package is not None:
                    present.add((package.name, package.full_version, package.arch))
        except rpmdb.RpmDBError:
            present = set()
        origins = {key: origins.get(key, diff_id) for key in present}
    return origins


def _quiet(message: str) -> None:
    """Warnings about earlier versions of a database: the current one already gave them."""


def _package(tags: rpmdb.RpmHeader, os: OSInfo | None, layer: str) -> Package | None:
    name = str(tags.get(rpmdb.TAG_NAME, ""))
    version = str(tags.get(rpmdb.TAG_VERSION, ""))
    if not name or not version or name == "gpg-pubkey":
        return None
    release = str(tags.get(rpmdb.TAG_RELEASE, ""))
    epoch = tags.get(rpmdb.TAG_EPOCH, 0)
    epoch = epoch if isinstance(epoch, int) else 0
    arch = str(tags.get(rpmdb.TAG_ARCH, "")) or "None"
    source_name, source_version, source_release = split_source_rpm(str(tags.get(rpmdb.TAG_SOURCERPM, "")))
    license_text = str(tags.get(rpmdb.TAG_LICENSE, ""))
    family = os.family if os else "redhat"
    full = f"{version}-{release}" if release else version
    return Package(
        name=name, version=version, release=release, epoch=epoch, arch=arch, kind=family,
        ecosystem=_ECOSYSTEMS.get(family, family), purl=os_purl("rpm", os, name, full, arch=arch, epoch=epoch),
        source_name=source_name, source_version=(f"{source_version}-{source_release}" if source_name else ""),
        source_epoch=epoch if source_name else 0, licenses=(license_text,) if license_text else (),
        layer_diff_id=layer,
    )


_ECOSYSTEMS = {"redhat": "Red Hat", "centos": "CentOS", "rocky": "Rocky Linux", "alma": "AlmaLinux",
               "oracle": "Oracle Linux", "fedora": "Fedora", "amazon": "Amazon Linux",
               "cbl-mariner": "Mariner", "azurelinux": "Azure Linux", "opensuse-leap": "openSUSE",
               "opensuse-tumbleweed": "openSUSE", "sles": "SUSE", "sle-micro": "SUSE"}
