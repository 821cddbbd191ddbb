"""``client.manifests``-style access to local manifest lists (docker manifest / podman manifest).

A thin layer over lamina.registry.manifestlist: it names the client's store and sends a list
through the client's push, which pushes every child manifest and its blobs, then the index.
"""

from __future__ import annotations

from lamina import TYPE_CHECKING
from lamina.errors import ManifestError

if TYPE_CHECKING:
    from lamina.client.client import Client
    from lamina.oci.models import Index

__all__ = ["ManifestLists"]


class ManifestLists:
    """The manifest lists of one client's store."""

    __slots__ = ("client",)

    def __init__(self, client: Client):
        self.client = client

    def create(self, name: str, images: list[str], *, amend: bool = False) -> str:
        """A list of stored images named ``name``; its index digest."""
        from lamina.registry import manifestlist

        return manifestlist.create(self.client.store, name, images, amend=amend)

    def add(self, name: str, image: str, **platform) -> str:
        from lamina.registry import manifestlist

        return manifestlist.add(self.client.store, name, image, **platform)

    def annotate(self, name: str, image: str, **platform) -> str:
        from lamina.registry import manifestlist

        return manifestlist.annotate(self.client.store, name, image, **platform)

    def local(self, name: str) -> tuple[str, bytes] | None:
        """(digest, exact bytes) of the local list ``name``, None when the store has none."""
        from lamina.registry import manifestlist

        found = manifestlist.local_index(self.client.store, name)
        return (found[0], self.client.store.content.read(found[0])) if found else None

    def index(self, name: str) -> Index | None:
        from lamina.registry import manifestlist

        found = manifestlist.local_index(self.client.store, name)
        return found[1] if found else None

    def remove(self, name: str) -> None:
        from lamina.registry import manifestlist

        manifestlist.remove(self.client.store, name)

    def push(self, name: str, *, purge: bool = False, events=None) -> str:
        """Push the list whole (children first, then the index under its tag); the index digest."""
        local = self.local(name)
        if local is None:
            from lamina.errors import ImageNotFoundError

            raise ImageNotFoundError(f"No such manifest: {name}")
        results = self.client.push(name, events=events)
        if not results or results[-1].digest != local[0]:
            raise ManifestError(f"{name}: the registry did not take the list whole")
        if purge:
            self.remove(name)
        return results[-1].digest
