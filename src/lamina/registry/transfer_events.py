"""Progress events that pull and push emit; the CLI renders them like docker (library code never prints)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TransferEvent:
    """``id`` is the 12-hex short form of a blob digest, or '' for whole-image messages."""

    id: str
    status: str               # docker's words: "Pulling fs layer", "Pull complete", "Pushed", ...
    current: int = 0
    total: int | None = None


EventSink = Callable[[TransferEvent], None]


def ignore(_: TransferEvent) -> None:
    """The default sink: no output."""


def short(digest: str) -> str:
    return digest.split(":", 1)[1][:12]
