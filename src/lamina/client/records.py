"""The small results the client returns for images: ``ImageSummary`` (a row of ``lamina
images``), ``HistoryEntry`` and ``PruneReport``.

Plain classes with slots, equality and a readable repr, as the house makes records on start-up
paths (``lamina images`` makes one summary per name: a dataclass costs a millisecond to define).
``template_fields`` is what ``--format '{{json .}}'`` shows of them.
"""

from __future__ import annotations

__all__ = ["HistoryEntry", "ImageSummary", "PruneReport", "Record"]


class Record:
    """Equality, repr and template fields from ``__slots__``."""

    __slots__ = ()

    def template_fields(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclasses they replace

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"


class ImageSummary(Record):
    """One row of ``lamina images``: an image under one of its names (or ``<none>``)."""

    __slots__ = ("id", "repository", "tag", "digest", "created", "created_ts", "size", "labels", "dangling",
                 "intermediate")

    def __init__(self, id: str, repository: str, tag: str, digest: str, created: str, created_ts: float,
                 size: int, labels: dict[str, str], dangling: bool, intermediate: bool):
        self.id, self.repository, self.tag, self.digest = id, repository, tag, digest
        self.created, self.created_ts, self.size, self.labels = created, created_ts, size, labels
        self.dangling, self.intermediate = dangling, intermediate


class HistoryEntry(Record):
    """One entry of ``lamina history``; ``id`` is the image ID for the topmost entry of a local
    image, else ``<missing>``."""

    __slots__ = ("id", "created", "created_ts", "created_by", "size", "comment", "empty_layer")

    def __init__(self, id: str, created: str, created_ts: float, created_by: str, size: int, comment: str,
                 empty_layer: bool):
        self.id, self.created, self.created_ts, self.created_by = id, created, created_ts, created_by
        self.size, self.comment, self.empty_layer = size, comment, empty_layer


class PruneReport(Record):
    """What a prune removed: names untagged, IDs (or cache records) deleted, bytes freed."""

    __slots__ = ("untagged", "deleted", "space_reclaimed")

    def __init__(self, untagged: list[str] | None = None, deleted: list[str] | None = None,
                 space_reclaimed: int = 0):
        self.untagged = [] if untagged is None else untagged
        self.deleted = [] if deleted is None else deleted
        self.space_reclaimed = space_reclaimed
