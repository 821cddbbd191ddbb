"""The old home of the client's records, kept so that ``from lamina.api_records import …``
goes on working: they live in :mod:`lamina.client.records` (and fsck's in
:mod:`lamina.store.fsck`, loaded only when asked for)."""

from __future__ import annotations

from lamina import TYPE_CHECKING
from lamina.client.records import HistoryEntry, ImageSummary, PruneReport

if TYPE_CHECKING:
    from lamina.store.fsck import FsckProblem, FsckReport

__all__ = ["FsckProblem", "FsckReport", "HistoryEntry", "ImageSummary", "PruneReport"]


def __getattr__(name: str):
    if name in ("FsckProblem", "FsckReport"):
        from lamina.store import fsck

        return getattr(fsck, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
