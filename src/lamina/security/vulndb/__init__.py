"""The local vulnerability database: importers, the SQLite store, and the matcher.

``open_database`` opens ``<store root>/vulndb/vuln.db``; ``match.find_vulnerabilities`` matches an
image's inventory against it. The records the matcher returns are in ``records``. The
functions below are what ``lamina db`` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lamina.security.vulndb.database import SourceInfo, VulnDatabase
    from lamina.security.vulndb.importer import ImportReport

__all__ = ["open_database", "import_sources", "update_database", "database_status"]


def open_database(root: str | None = None, *, path: str | None = None) -> VulnDatabase:
    """Open the vulnerability DB of a store (``root`` None: the default store root) or at ``path``.

    A missing DB is a LaminaError that says to run ``lamina db import`` or ``lamina db update``.
    """
    from lamina.security.vulndb.database import open_existing

    return open_existing(root, path=path)


def import_sources(paths: Iterable[str], *, root: str | None = None, path: str | None = None,
                   on_report: Callable[[ImportReport], None] | None = None) -> list[ImportReport]:
    """Import each path as one source (``lamina db import``), creating the DB when missing."""
    from lamina.security.vulndb.database import open_for_import
    from lamina.security.vulndb.importer import import_path

    reports = []
    with open_for_import(root, path=path) as db:
        for source in paths:
            report = import_path(db, source)
            reports.append(report)
            if on_report:
                on_report(report)
    return reports


def update_database(*, root: str | None = None, path: str | None = None, source: str | None = None,
                    ecosystems: Iterable[str] | None = None,
                    on_progress: Callable[[str], None] | None = None) -> list[ImportReport]:
    """Download osv.dev's ecosystem zips from ``source`` and import them (``lamina db update``)."""
    from lamina.security.vulndb.database import open_for_import
    from lamina.security.vulndb.update import DEFAULT_ECOSYSTEMS, DEFAULT_SOURCE, update

    with open_for_import(root, path=path) as db:
        return update(db, source=source or DEFAULT_SOURCE, ecosystems=ecosystems or DEFAULT_ECOSYSTEMS,
                      on_progress=on_progress)


def database_status(*, root: str | None = None, path: str | None = None) -> tuple[str, int, list[SourceInfo]]:
    """``(database path, size in bytes, sources)`` for ``lamina db status``."""
    with open_database(root, path=path) as db:
        return str(db.path), db.path.stat().st_size, db.sources()
