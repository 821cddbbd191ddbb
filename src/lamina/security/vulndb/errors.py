"""The errors of the vulnerability database: one line each, naming the file or URL."""

from __future__ import annotations

from lamina.errors import LaminaError


class VulnDBError(LaminaError):
    """The vulnerability database is missing, unreadable, or an import source cannot be used."""
