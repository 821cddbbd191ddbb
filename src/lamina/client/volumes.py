"""``client.volumes``: named and anonymous volumes as :class:`~lamina.client.models.Volume` objects.

Calling the collection itself, ``client.volumes()``, gives the store's volume records
(``lamina.VolumeRecord``: name, mountpoint, labels, users), as it always did.
"""

from __future__ import annotations

from lamina import TYPE_CHECKING
from lamina.client.models import Volume

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lamina.client.client import Client
    from lamina.runtime.volumestore import Volume as VolumeRecord

__all__ = ["VolumeCollection"]


class VolumeCollection:
    """The volumes of one client's store."""

    __slots__ = ("client",)

    def __init__(self, client: Client):
        self.client = client

    def __call__(self) -> list[VolumeRecord]:
        """``docker volume ls``: every volume's record, by name."""
        return self.client._volume_store().list()

    def create(self, name: str | None = None, *, driver: str = "local", labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None) -> Volume:
        """``docker volume create``: a new volume (a random name when none is given)."""
        return self.get(self.client.create_volume(name, driver=driver, labels=labels, options=options))

    def get(self, name: str) -> Volume:
        return Volume(self.client.inspect_volume(name), self.client)

    def list(self) -> list[Volume]:
        return [Volume(record.document(), self.client) for record in self()]

    def prune(self, *, all: bool = False, labels: Sequence[str] = ()) -> tuple[list[str], int]:
        """``docker volume prune``: unused anonymous volumes (``all``: named ones too); the
        names removed and the bytes freed."""
        return self.client.prune_volumes(all=all, labels=labels)
