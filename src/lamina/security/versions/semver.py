"""Semantic Versioning 2.0 order, as npm's ``semver.compare`` decides it (also crates.io's).

``MAJOR.MINOR.PATCH[-prerelease][+build]``: the three numbers compare as numbers; a version
with a pre-release sorts before the same version without; pre-release identifiers compare
one by one (numbers as numbers and before words, words in ASCII order, fewer before more);
build metadata never counts. Parsing is node-semver's loose mode (a leading ``v`` or ``=``,
surrounding spaces and leading zeros are accepted), so an npm lockfile's versions always parse.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lamina.security.versions.errors import VersionFormatError

_LOOSE = re.compile(
    r"^[v=\s]*(\d+)\.(\d+)\.(\d+)"
    r"(?:-?((?:\d+|\d*[a-zA-Z-][a-zA-Z0-9-]*)(?:\.(?:\d+|\d*[a-zA-Z-][a-zA-Z0-9-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 comparing two semantic versions (build metadata ignored)."""
    return compare_parsed(parse(left), parse(right))


ParsedVersion = tuple[int, int, int, tuple[str, ...]]


@lru_cache(maxsize=8192)
def parse(text: str) -> ParsedVersion:
    """``(major, minor, patch, prerelease identifiers)``; VersionFormatError if not semver."""
    match = _LOOSE.match(text.strip())
    if not match:
        raise VersionFormatError(f"not a semantic version: {text!r}")
    major, minor, patch, prerelease, _build = match.groups()
    return int(major), int(minor), int(patch), tuple(prerelease.split(".")) if prerelease else ()


def compare_parsed(left: ParsedVersion, right: ParsedVersion) -> int:
    """The order of two parsed versions."""
    if left[:3] != right[:3]:
        return -1 if left[:3] < right[:3] else 1
    left_pre, right_pre = left[3], right[3]
    if not left_pre or not right_pre:
        return (not left_pre) - (not right_pre)
    for left_id, right_id in zip(left_pre, right_pre, strict=False):
        if left_id == right_id:
            continue
        left_numeric, right_numeric = left_id.isdigit(), right_id.isdigit()
        if left_numeric and right_numeric:
            left_number, right_number = int(left_id), int(right_id)
            if left_number == right_number:
                continue
            return -1 if left_number < right_number else 1
        if left_numeric != right_numeric:
            return -1 if left_numeric else 1
        return -1 if left_id < right_id else 1
    if len(left_pre) != len(right_pre):
        return -1 if len(left_pre) < len(right_pre) else 1
    return 0
