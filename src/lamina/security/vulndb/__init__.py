"""The local vulnerability database: importers, the SQLite store, and the matcher.

``open_database`` opens ``<store root>/vulndb/vuln.db``; ``match.find_vulnerabilities`` matches an
image's inventory against it. The records the matcher returns are in ``records``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lamina.security.vulndb.database import VulnDatabase

__all__ = ["open_database"]


def open_database(root: str | None = None, *, path: str | None = None) -> VulnDatabase:
    """Open the vulnerability DB of a store (``root`` None: the default store root) or at ``path``.

    A missing DB is a LaminaError that says to run ``lamina db import`` or ``lamina db update``.
    """
    from lamina.security.vulndb.database import open_existing

    return open_existing(root, path=path)
