"""``client.registry``: what talks to registries without touching the store's images:
credentials, search, manifests, and copies between any two image specs."""

from __future__ import annotations

from lamina import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lamina.client.client import Client
    from lamina.registry.client import Manifest
    from lamina.registry.search import SearchResult
    from lamina.registry.transfer_events import EventSink

__all__ = ["RegistryCollection"]


class RegistryCollection:
    """Registries as one client sees them (its store for copies, docker's config.json for logins)."""

    __slots__ = ("client",)

    def __init__(self, client: Client):
        self.client = client

    def login(self, server: str, username: str, password: str) -> str:
        """Check the credentials with ``server`` and store them as docker does; the status line."""
        return self.client.login(server, username, password)

    def logout(self, server: str) -> str:
        return self.client.logout(server)

    def search(self, term: str, *, limit: int = 25, filters: Sequence[str] = (),
               registry: str | None = None) -> list[SearchResult]:
        """``docker search``: Docker Hub's search API, or the ``/v2/_catalog`` of ``registry``."""
        return self.client.search(term, limit=limit, filters=filters, registry=registry)

    def manifest(self, name: str) -> Manifest:
        """The manifest (or index) a registry serves for ``name``, as stored there."""
        return self.client.manifest_inspect(name)

    def copy(self, source: str, destination: str, *, all_platforms: bool = False, platform: str | None = None,
             events: EventSink | None = None) -> str:
        """Copy an image between two image specs (``docker-archive:PATH``, ``oci-archive:PATH``,
        ``oci:DIR``, ``store:NAME``, ``docker://REF`` or a registry name); the manifest digest written."""
        return self.client.copy(source, destination, all_platforms=all_platforms, platform=platform, events=events)
