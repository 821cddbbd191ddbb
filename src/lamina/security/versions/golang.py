"""Go module version order: semantic versions with a ``v`` (golang.org/x/mod/semver).

Pseudo-versions (``v0.0.0-20191109021931-daa7c04131f5``) are pre-releases and so sort by
their timestamp; ``+incompatible`` is build metadata and never counts; ``v1`` and ``v1.2``
are short for ``v1.0.0`` and ``v1.2.0``. The standard library's versions come as ``1.21.3``,
``v1.21.3`` or ``go1.21.3``; Go's own pre-releases ``go1.21rc2``/``go1.21beta1`` sort before
``go1.21.0``.
"""

from __future__ import annotations

import re

from lamina.security.versions import semver

_TOOLCHAIN = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?((?:rc|beta|alpha)\d+)?$")


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 comparing two Go module (or Go toolchain) versions."""
    return semver.compare_parsed(parse(left), parse(right))


def parse(text: str) -> semver.ParsedVersion:
    """The semver triple and pre-release of a Go version in any of its spellings."""
    text = text.strip()
    if text.startswith("go"):
        text = text[2:]
    elif text.startswith("v"):
        text = text[1:]
    toolchain = _TOOLCHAIN.match(text)
    if toolchain:
        major, minor, patch, prerelease = toolchain.groups()
        return int(major), int(minor or 0), int(patch or 0), (prerelease,) if prerelease else ()
    return semver.parse(text)
