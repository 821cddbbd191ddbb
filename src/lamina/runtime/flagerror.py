"""A refusal docker's client makes itself while parsing flags, unlike its daemon's refusals:
``docker create`` exits 125 for the first kind and 1 for the second (``run``: 125 for both)."""

from __future__ import annotations

from lamina.errors import UsageError

__all__ = ["FlagError"]


class FlagError(UsageError):
    """A flag docker's client refuses (exit status 125 for run and create alike)."""
