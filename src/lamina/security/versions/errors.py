"""The one error of version comparison: a string that is no version of its ecosystem."""

from __future__ import annotations

from lamina.errors import LaminaError


class VersionFormatError(LaminaError, ValueError):
    """A version string does not follow its ecosystem's grammar, so it has no place in the order."""
