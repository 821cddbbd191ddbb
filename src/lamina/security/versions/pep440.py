"""Python's version order (PEP 440), by ``packaging.version`` — the library pip itself uses.

A string that is not a PEP 440 version cannot be placed in the order: ``VersionFormatError``.
"""

from __future__ import annotations

from functools import lru_cache

from lamina.security.versions.errors import VersionFormatError


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 comparing two PEP 440 versions (``1.0rc1 < 1.0 < 1.0.post1``)."""
    left_version, right_version = _parse(left), _parse(right)
    if left_version == right_version:
        return 0
    return -1 if left_version < right_version else 1


@lru_cache(maxsize=4096)
def _parse(text: str):
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion:
        raise VersionFormatError(f"not a PEP 440 version: {text!r}") from None
