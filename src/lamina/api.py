"""The old home of ``Client``, kept so that ``from lamina.api import Client`` goes on working.

The client lives in :mod:`lamina.client` (``lamina.Client`` is the same class); new code imports
it from ``lamina``. The result records are still reachable here by their old names.
"""

from __future__ import annotations

from lamina import TYPE_CHECKING
from lamina.client.client import Client
from lamina.oci.digest import short_id

if TYPE_CHECKING:
    from lamina.client.records import HistoryEntry, ImageSummary, PruneReport
    from lamina.store.fsck import FsckReport

__all__ = ["Client", "FsckReport", "HistoryEntry", "ImageSummary", "PruneReport", "short_id"]

_RECORDS = ("FsckProblem", "FsckReport", "HistoryEntry", "ImageSummary", "PruneReport")


def __getattr__(name: str):
    """The result records live in ``lamina.client.records`` (fsck's in ``lamina.store.fsck``),
    loaded when first asked for: a container run never needs them."""
    if name in _RECORDS:
        from lamina import api_records

        return getattr(api_records, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
