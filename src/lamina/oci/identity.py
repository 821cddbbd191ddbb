"""Chain IDs (OCI image-spec config.md): the identity of a stack of layers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(n))."""
    result: list[str] = []
    for diff_id in diff_ids:
        if not result:
            result.append(diff_id)
        else:
            result.append("sha256:" + hashlib.sha256(f"{result[-1]} {diff_id}".encode()).hexdigest())
    return result


def chain_id(diff_ids: Sequence[str]) -> str:
    return chain_ids(diff_ids)[-1] if diff_ids else ""
