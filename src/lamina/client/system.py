"""``client.system``: the store and host as a whole (disk usage, facts, prune, integrity)."""

from __future__ import annotations

from lamina import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from lamina.client.client import Client
    from lamina.diskusage import DiskUsage
    from lamina.store.fsck import FsckReport

__all__ = ["SystemCollection"]


class SystemCollection:
    """One client's store, whole."""

    __slots__ = ("client",)

    def __init__(self, client: Client):
        self.client = client

    def df(self) -> DiskUsage:
        """``docker system df``: images, containers, volumes and build cache, with sizes."""
        return self.client.system_df()

    def info(self) -> dict[str, Any]:
        """``docker info``'s document (counts, storage, runtime, kernel, registries)."""
        return self.client.info()

    def version(self) -> dict[str, Any]:
        """``docker version``'s document (lamina's version and the OCI runtime it drives)."""
        return self.client.version()

    def prune(self, *, all: bool = False, volumes: bool = False) -> dict[str, Any]:
        """``docker system prune``: stopped containers, unused images (dangling ones unless
        ``all``), build cache, and with ``volumes`` unused anonymous volumes."""
        return self.client.prune_system(all=all, volumes=volumes)

    def fsck(self, *, repair: bool = False) -> FsckReport:
        """Check every blob, layer and tag; ``repair`` drops what is broken."""
        return self.client.fsck(repair=repair)
