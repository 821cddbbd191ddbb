"""The cataloger contract and the list of catalogers ``catalog_image`` runs by default.

A cataloger says which files it wants while the walker streams the layers (``wants`` is called
once per regular file, so it must be cheap: compare the path, never read), then reads them from
the finished view (``catalog``). Catalogers are named here as ``"module:attribute"`` strings and
imported only when an image is catalogued, so ``lamina --help`` never pays for them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

from lamina.security.inventory import OSInfo, Package
from lamina.security.sbom.walk import FileView

__all__ = ["CATALOGERS", "MAX_PACKAGES_PER_DATABASE", "Cataloger", "capped", "load_catalogers"]


class Cataloger(Protocol):
    """Finds one kind of package in an image's files."""

    name: str

    def wants(self, path: str, mode: int, size: int) -> bool:
        """Whether the file at ``path`` (relative to the image root, no leading ``/`` or ``./``;
        ``mode`` has the ``S_IFREG`` bit and the permission bits; ``size`` in bytes) is needed."""

    def catalog(self, files: FileView, os: OSInfo | None) -> list[Package]:
        """The packages recorded in ``files``; unreadable records are ``files.warn``-ed, not raised."""


#: The default catalogers, in report order. Language catalogers are appended after the OS ones.
CATALOGERS: list[str] = [
    "lamina.security.sbom.dpkg:DpkgCataloger",
    "lamina.security.sbom.apk:ApkCataloger",
    "lamina.security.sbom.rpm:RpmCataloger",
    "lamina.security.sbom.lang.python:PythonCataloger",
    "lamina.security.sbom.lang.node:NodeCataloger",
    "lamina.security.sbom.lang.gobinary:GoBinaryCataloger",
    "lamina.security.sbom.lang.java:JavaCataloger",
    "lamina.security.sbom.lang.rust:RustBinaryCataloger",
    "lamina.security.sbom.lang.cargo:CargoLockCataloger",
    "lamina.security.sbom.lang.ruby:GemspecCataloger",
    "lamina.security.sbom.lang.php:ComposerCataloger",
]


def load_catalogers(names: list[str] | None = None) -> list[Cataloger]:
    """Instantiate the catalogers named ``module:attribute`` (default: :data:`CATALOGERS`)."""
    catalogers: list[Cataloger] = []
    for spec in CATALOGERS if names is None else names:
        module_name, _, attribute = spec.partition(":")
        catalogers.append(getattr(importlib.import_module(module_name), attribute)())
    return catalogers


#: More records than any real package database holds (a big Fedora has ~3000): a hostile file
#: of millions of tiny records would otherwise grow the inventory without bound.
MAX_PACKAGES_PER_DATABASE = 50_000

_Record = TypeVar("_Record")


def capped(records: Iterable[_Record], path: str, warn: Callable[[str], None]) -> Iterator[_Record]:
    """At most MAX_PACKAGES_PER_DATABASE records of the database ``path``; a warning if it has more."""
    for count, record in enumerate(records):
        if count == MAX_PACKAGES_PER_DATABASE:
            warn(f"{path}: more than {MAX_PACKAGES_PER_DATABASE} packages, the rest skipped")
            return
        yield record
