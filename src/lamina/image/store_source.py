"""The local store as an image source: an image by name or ID, its blobs read in place.

The store keeps configs and layers, not the manifest an image came with; the manifest given
here is the OCI manifest ``lamina save`` writes for the image (layers as stored), so every
sink writes the same image the same way.
"""

from __future__ import annotations

from functools import partial

from lamina.errors import StoreError
from lamina.image.blobs import BlobLayer
from lamina.image.source import SourceImage, oci_manifest
from lamina.oci import mediatypes as mt
from lamina.store.store import Store


def open_store_image(store: Store, name: str, *, spec: str | None = None, own_store: bool = False) -> SourceImage:
    """The stored image ``name`` (tag, digest, ID or ID prefix, as ``lamina inspect`` resolves).

    ``own_store``: the image closes the store when it is closed (open_image made it).
    """
    image_id = store.resolve(name)
    return StoreImage(store, image_id, spec or name, own_store=own_store)


class StoreImage(SourceImage):
    """An image of the local store; ``image_id`` is its config digest."""

    def __init__(self, store: Store, image_id: str, name: str, *, own_store: bool = False):
        config_bytes = store.config_bytes(image_id)
        layers, entries = [], []
        for diff_id in store.image_diff_ids(image_id):
            record = store.layer_for(diff_id)
            if record is None:
                raise StoreError(f"image {image_id}: layer {diff_id} is missing from the store (run 'lamina fsck')")
            media_type = mt.oci_layer_type(mt.layer_compression(record.media_type))
            path = str(store.content.path(record.blob_digest))
            layers.append(BlobLayer(digest=record.blob_digest, diff_id=diff_id, media_type=media_type,
                                    size=record.blob_size, opener=partial(open, path, "rb"),
                                    what=f"{name}: layer {record.blob_digest}", path=path))
            entries.append((media_type, record.blob_digest, record.blob_size))
        super().__init__(name, oci_manifest(config_bytes, entries), mt.OCI_MANIFEST, config_bytes, layers)
        self.image_id = image_id
        self._store = store
        self._own_store = own_store

    @property
    def store_root(self):
        """The store's root directory, for derived data kept beside it (layer caches)."""
        return self._store.root

    def close(self) -> None:
        if self._own_store and not self._closed:
            self._store.close()
        super().close()
