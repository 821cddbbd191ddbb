"""The records ``lamina.api.Client`` returns for images, history, prune and fsck (importable
as ``lamina.api.<Name>``; kept apart so commands that never make them skip their import)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lamina.store.fsck import FsckProblem, FsckReport  # the store's own records, re-exported

__all__ = ["FsckProblem", "FsckReport", "HistoryEntry", "ImageSummary", "PruneReport"]


@dataclass(slots=True)
class ImageSummary:
    """One row of ``lamina images``: an image under one of its names (or ``<none>``)."""

    id: str
    repository: str
    tag: str
    digest: str
    created: str
    created_ts: float
    size: int
    labels: dict[str, str]
    dangling: bool
    intermediate: bool


@dataclass(slots=True)
class HistoryEntry:
    id: str            # image ID for the topmost entry of a local image, else "<missing>"
    created: str
    created_ts: float
    created_by: str
    size: int
    comment: str
    empty_layer: bool


@dataclass(slots=True)
class PruneReport:
    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    space_reclaimed: int = 0

