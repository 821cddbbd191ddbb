"""Chain IDs (OCI image-spec config.md): the identity of a stack of layers.

A snapshot of layers L0..Ln is named by its chain ID, not by the diffID of Ln alone, because the
same layer applied over different parents gives different trees:
ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)).
"""

from __future__ import annotations

from collections.abc import Sequence

try:  # CPython's own sha256 loads in a third of the time OpenSSL's hashlib takes, and chain IDs
    from _sha256 import sha256  # are hashed on every container start (a few short strings)
except ImportError:  # other interpreters, CPython ≥ 3.12
    from hashlib import sha256

__all__ = ["chain_id", "chain_ids"]


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The chain ID of every prefix of the stack: one per layer, as snapshots are keyed."""
    result: list[str] = []
    for diff_id in diff_ids:
        if result:
            result.append("sha256:" + sha256(f"{result[-1]} {diff_id}".encode()).hexdigest())
        else:
            result.append(diff_id)
    return result


def chain_id(diff_ids: Sequence[str]) -> str:
    """The chain ID (``sha256:<hex>``) of the layers with these diffIDs, bottom layer first."""
    if not diff_ids:
        raise ValueError("a chain ID needs at least one layer diffID")
    return chain_ids(diff_ids)[-1]
