"""``--cache-to type=registry|local``: write the build's steps as a cache artifact.

``mode=min`` exports the steps of the final image's chain, ``mode=max`` every step the build
made or reused (the intermediate stages of a multi-stage build too), as BuildKit's modes. The
layer blobs and the cache config go first, the manifest last (see cachetargets.py), so a
registry that fails mid-export keeps the cache it had.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from lamina.build.cachespec import CacheSpec
from lamina.build.cachetargets import open_target
from lamina.build.remotecache import ARTIFACT_TYPE, CONFIG_MEDIA_TYPE, CacheConfig, CacheLayer, CacheRecord
from lamina.oci import mediatypes as mt
from lamina.store.store import Store


class ExportReport(msgspec.Struct):
    where: str
    records: int
    layers: int
    manifest_digest: str


def chosen_steps(steps: Mapping[str, tuple[str, str]], final_image: str, mode: str) -> list[str]:
    """The images to export, parents first: the final image's chain (min) or all (max)."""
    if mode == "max":
        return list(steps)
    chain: list[str] = []
    image = final_image
    while image in steps and image not in chain:
        chain.append(image)
        image = steps[image][0]
    return chain[::-1]


def cache_records(store: Store, steps: Mapping[str, tuple[str, str]], images: list[str],
                  compression: str) -> tuple[list[CacheRecord], list[CacheLayer]]:
    """One record per step image; the layer each adds, in ``compression`` (made once if needed)."""
    from lamina.image.layer_formats import layer_for_push

    records: list[CacheRecord] = []
    layers: dict[str, CacheLayer] = {}
    for image in images:
        parent, key = steps[image]
        diff_ids = store.image_diff_ids(image)
        before = len(store.image_diff_ids(parent)) if parent else 0
        layer = None
        if len(diff_ids) == before + 1:
            pushed = layer_for_push(store, diff_ids[-1], compression).record
            media_type = mt.oci_layer_type(mt.layer_compression(pushed.media_type))
            layer = CacheLayer(pushed.blob_digest, pushed.blob_size, media_type, pushed.diff_id, pushed.diff_size)
            layers.setdefault(layer.digest, layer)
        elif len(diff_ids) != before:
            continue  # not one step on its parent (a squashed image): nothing another build could find
        config = store.config_bytes(image)
        records.append(CacheRecord(parent, key, image, config.decode(), store.image(image).config_media_type, layer))
    return records, list(layers.values())


def export_cache(store: Store, steps: Mapping[str, tuple[str, str]], final_image: str,
                 spec: CacheSpec) -> ExportReport:
    """Write the cache ``spec`` names; returns what was written."""
    from lamina.oci.digest import sha256_digest

    images = chosen_steps(steps, final_image, spec.mode)
    records, layers = cache_records(store, steps, images, spec.compression)
    config = msgspec.json.encode(CacheConfig(1, records))
    config_digest = sha256_digest(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": layer.mediaType, "digest": layer.digest, "size": layer.size}
                   for layer in layers],
    }
    manifest_bytes = msgspec.json.encode(manifest)
    target = open_target(spec)
    for layer in layers:
        target.push_blob(store, layer.digest, layer.size)
    target.push_bytes(config, config_digest)
    target.push_manifest(manifest_bytes)
    return ExportReport(target.where, len(records), len(layers), sha256_digest(manifest_bytes))


def export_caches(store: Store, ledger: Any, final_image: str, cache_to: Iterable[str]) -> list[ExportReport]:
    """Every ``--cache-to`` of a build; ``type=inline`` needs nothing: a lamina image's history
    and parent chain are what ``--cache-from IMAGE`` reads."""
    from lamina.build.cachespec import parse_export

    reports = []
    if any(parse_export(value).type != "inline" for value in cache_to):
        ledger.materialize_all()  # every exported step's rows and layers, lazily hit ones too
    for spec in [parse_export(value) for value in cache_to]:
        if spec.type != "inline":
            reports.append(export_cache(store, ledger.steps, final_image, spec))
    return reports
