"""What ``catalog_image`` keeps in the store between runs: per-layer walks and whole inventories.

Why two levels: an image's inventory is a function of its stack of layers and of the catalogers'
code alone, so a second ``sbom``/``scan`` of the same image (or of another tag of the same
stack) needs neither the layers nor the catalogers — only the decoded inventory and the
warnings it came with. A new image on a known base still reuses the base layers' walks
(walk.build_view's cache). Both are keyed by a stamp of the code (walk.cache_stamp), so a
changed cataloger misses instead of answering stale; both are only for store images, whose
layers were verified on the way in (an archive's diffIDs are claims until its bytes are hashed).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from lamina.image.base import Image
from lamina.security.inventory import Inventory

__all__ = ["CatalogCache", "catalog_cache"]

_INVENTORY_FILE = "inventory"


class CatalogCache:
    """The walk cache (per layer) and the inventory cache (per stack) of one store and stamp."""

    def __init__(self, store_root: str | os.PathLike[str], stamp: str):
        from lamina.store.layercache import LayerCache

        self.layers = LayerCache(store_root, "sbom", stamp)
        self.inventories = LayerCache(store_root, "inventory", stamp, by_chain=True)

    def load_inventory(self, image: Image) -> tuple[Inventory, list[str]] | None:
        """The cached inventory of ``image``'s stack (named for this image) and its warnings."""
        import msgspec

        if not image.layers():
            return None  # nothing to read: nothing to save either
        entry = self.inventories.entry(_chain(image))
        if entry is None:
            return None
        try:
            with open(entry / _INVENTORY_FILE, "rb") as handle:
                inventory, warnings = msgspec.msgpack.decode(handle.read(), type=tuple[Inventory, list[str]])
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return None
        inventory.image_name, inventory.image_id = image.name, image.config_digest()
        return inventory, warnings

    def save_inventory(self, image: Image, inventory: Inventory, warnings: list[str]) -> None:
        """Keep ``inventory`` for the next run; a store that cannot be written to only costs speed."""
        import msgspec

        try:
            staging = self.inventories.begin()
        except OSError:
            return
        try:
            with open(staging / _INVENTORY_FILE, "xb") as handle:
                handle.write(msgspec.msgpack.encode((inventory, warnings)))
            self.inventories.commit(_chain(image), staging)
        except OSError:
            self.inventories.abandon(staging)


def catalog_cache(image: Image, catalogers: Sequence[object] | None) -> CatalogCache | None:
    """The caches for ``image`` when it is a store image, else None.

    ``catalogers`` None means the default list: its stamp comes from the cataloger specs
    without importing them, so a cache hit loads no cataloger at all."""
    from lamina.image.store_source import StoreImage

    if not isinstance(image, StoreImage):
        return None
    from lamina.security.sbom.walk import cache_stamp

    if catalogers is None:
        from lamina.security.sbom.catalogers import CATALOGERS

        names, modules = list(CATALOGERS), []
    else:
        names = [getattr(cataloger, "name", type(cataloger).__name__) for cataloger in catalogers]
        modules = [sys.modules.get(type(cataloger).__module__) for cataloger in catalogers]
    return CatalogCache(image.store_root, cache_stamp(names, modules))


def _chain(image: Image) -> str:
    from lamina.oci.identity import chain_id

    return chain_id([layer.diff_id for layer in image.layers()])
