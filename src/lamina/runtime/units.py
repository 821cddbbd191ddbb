"""Sizes as docker's flags write them (``512m``, ``1g``): a leaf every flag parser may use."""

from __future__ import annotations

import re

from lamina.runtime.flagerror import FlagError

__all__ = ["parse_bytes"]

_BYTES = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$", re.I)
_MULTIPLIERS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(value: str) -> int:
    """docker's RAMInBytes: ``512m``, ``1g``, ``100k``, ``1024`` (binary multiples)."""
    match = _BYTES.match(value.strip())
    if not match:
        raise FlagError(f"invalid size: '{value}'")
    return int(float(match.group(1)) * _MULTIPLIERS[match.group(2).lower()])
