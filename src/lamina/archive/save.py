"""``lamina save``: one archive that old and new docker, skopeo and umoci all read.

The layout is Docker 25+'s: an OCI image layout (``oci-layout``, ``index.json``,
``blobs/sha256/…``) plus the legacy ``manifest.json`` and ``repositories`` that docker ≤24
needs, with every mtime 0. Blobs are copied straight from the store (``sendfile``); a layer
shared by several images is written once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from lamina.archive.tarstream import TarWriter
from lamina.errors import StoreError
from lamina.oci import mediatypes as mt
from lamina.oci.models import encode
from lamina.oci.reference import Reference
from lamina.store.store import Store


@dataclass(slots=True)
class SaveItem:
    image_id: str
    refs: list[Reference]  # tags to record; empty = save by ID


def save_archive(store: Store, items: Sequence[SaveItem], out: BinaryIO) -> None:
    writer = TarWriter(out)
    written: set[str] = set()
    index_entries: list[dict] = []
    legacy_manifest: list[dict] = []
    repositories: dict[str, dict[str, str]] = {}
    writer.add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    writer.add_dir("blobs")
    writer.add_dir("blobs/sha256")

    def put_blob(digest: str, size: int | None = None) -> str:
        path = "blobs/" + digest.replace(":", "/")
        if digest not in written:
            writer.add_parents(path)
            writer.add_file(path, store.content.path(digest), size)
            written.add(digest)
        return path

    def put_bytes(digest: str, data: bytes) -> str:
        path = "blobs/" + digest.replace(":", "/")
        if digest not in written:
            writer.add_parents(path)
            writer.add_bytes(path, data)
            written.add(digest)
        return path

    for item in items:
        config_bytes = store.config_bytes(item.image_id)
        config_path = put_blob(item.image_id, len(config_bytes))
        layer_descriptors, layer_paths = [], []
        for diff_id in store.image_diff_ids(item.image_id):
            layer = store.layer_for(diff_id)
            if layer is None:
                raise StoreError(f"image {item.image_id}: layer {diff_id} is missing from the store (run 'lamina fsck')")
            media_type = mt.oci_layer_type(mt.layer_compression(layer.media_type))
            layer_paths.append(put_blob(layer.blob_digest, layer.blob_size))
            layer_descriptors.append({"mediaType": media_type, "digest": layer.blob_digest, "size": layer.blob_size})
        manifest = encode({
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": mt.OCI_CONFIG, "digest": item.image_id, "size": len(config_bytes)},
            "layers": layer_descriptors,
        })
        from lamina.oci.digest import sha256_digest

        manifest_digest = sha256_digest(manifest)
        put_bytes(manifest_digest, manifest)
        descriptor = {"mediaType": mt.OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest)}
        tagged = [ref for ref in item.refs if ref.tag is not None]
        if not tagged:
            index_entries.append(descriptor)
        for ref in tagged:
            index_entries.append({**descriptor, "annotations": {
                "io.containerd.image.name": str(ref),
                "org.opencontainers.image.ref.name": ref.tag,
            }})
            top = layer_descriptors[-1]["digest"].split(":")[1] if layer_descriptors else item.image_id.split(":")[1]
            repositories.setdefault(ref.familiar_repository, {})[ref.tag] = top
        legacy_manifest.append({
            "Config": config_path,
            "RepoTags": [ref.familiar for ref in tagged] or None,
            "Layers": layer_paths,
        })
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": index_entries}
    writer.add_bytes("index.json", json.dumps(index, separators=(",", ":")).encode() + b"\n")
    writer.add_bytes("manifest.json", json.dumps(legacy_manifest, separators=(",", ":")).encode() + b"\n")
    if repositories:
        writer.add_bytes("repositories", json.dumps(repositories, separators=(",", ":")).encode() + b"\n")
    writer.close()
