"""The layer blobs a push or save writes in the compression asked for (``--compression``).

gzip, zstd and none keep the layer's tar, so its diffID and the image ID stay: a blob of the
asked kind already in the store is sent as it is (unless ``force``), else one is made from the
plain tar (decompressing another kind first) and kept next to it, so the next push sends the
same bytes. eStargz re-frames the tar (a landmark file and the TOC become members), so it has
its own diffID and the pushed image its own config; those blobs are made at each push (always
the same bytes for the same layer). ``level`` applies where a blob is made: gzip 0-3 with isal,
4-9 with zlib; zstd 1-22.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lamina.errors import ManifestError, UsageError
from lamina.oci import mediatypes as mt
from lamina.oci.models import decode_json, encode
from lamina.store.store import LayerRecord, Store

__all__ = ["COMPRESSIONS", "PushLayer", "check_level", "config_for", "layer_for_push"]

COMPRESSIONS = ("gzip", "zstd", "estargz", "none")
CHUNK = 1 << 20
_DEFAULT_LEVEL = {"gzip": 1, "zstd": 3, "estargz": 6}
_LEVELS = {"gzip": range(0, 10), "zstd": range(1, 23), "estargz": range(0, 10)}
_KIND = {"gzip": "gzip", "zstd": "zstd", "none": ""}


@dataclass(slots=True)
class PushLayer:
    """One layer as pushed: its blob, the diffID the pushed config lists, descriptor annotations."""

    record: LayerRecord
    annotations: dict[str, str] = field(default_factory=dict)


def check_level(compression: str, level: int | None) -> None:
    if compression not in COMPRESSIONS:
        raise UsageError(f"unknown compression {compression!r}: use one of {', '.join(COMPRESSIONS)}")
    if level is None:
        return
    allowed = _LEVELS.get(compression)
    if allowed is None:
        raise UsageError(f"--compression-level does not apply to compression {compression}")
    if level not in allowed:
        raise UsageError(f"compression level {level} is out of range for {compression} "
                               f"({allowed.start}-{allowed.stop - 1})")


def layer_for_push(store: Store, diff_id: str, compression: str, *, level: int | None = None,
                   force: bool = False) -> PushLayer:
    """The blob of ``diff_id`` to push in ``compression`` (see the module docstring)."""
    candidates = [r for r in store.layers_of(diff_id) if store.content.has(r.blob_digest)]
    if not candidates:
        raise ManifestError(f"layer {diff_id} is missing from the store (run 'lamina fsck')")
    if compression == "estargz":
        return _estargz(store, diff_id, candidates, _DEFAULT_LEVEL["estargz"] if level is None else level)
    kind = _KIND[compression]
    media_type = mt.DOCKER_LAYER_GZIP if kind == "gzip" else mt.OCI_LAYER_ZSTD if kind == "zstd" else mt.DOCKER_LAYER
    if not force or kind == "":
        for record in candidates:
            if mt.layer_compression(record.media_type) == kind:
                return PushLayer(LayerRecord(diff_id, record.blob_digest, media_type, record.blob_size,
                                             record.diff_size))
    plain = next((r for r in candidates if mt.layer_compression(r.media_type) == ""), None)
    if not force and plain is None:
        return PushLayer(candidates[0])  # another compression than asked: sent as it is (see --force-compression)
    path = _plain_path(store, diff_id, candidates)
    if kind == "":
        record = next(r for r in store.layers_of(diff_id) if r.blob_digest == diff_id)
    else:
        record = _compress(store, diff_id, path, kind, _DEFAULT_LEVEL[kind] if level is None else level,
                           candidates[0].diff_size)
        store.add_layer_record(record)
    return PushLayer(LayerRecord(diff_id, record.blob_digest, media_type, record.blob_size, record.diff_size))


def config_for(config_bytes: bytes, layers: Sequence[PushLayer]) -> bytes:
    """The config to push: the stored one, or (when a layer's diffID changed) one listing the new ones."""
    diff_ids = [layer.record.diff_id for layer in layers]
    document = decode_json(config_bytes)
    rootfs = dict(document.get("rootfs") or {})
    if list(rootfs.get("diff_ids") or []) == diff_ids:
        return config_bytes
    document["rootfs"] = {**rootfs, "diff_ids": diff_ids}
    return encode(document)


def _compress(store: Store, diff_id: str, path: Path, kind: str, level: int, diff_size: int) -> LayerRecord:
    from lamina.layer.compression import gzip_compressor, zstd_compressor  # only when compressing

    compressor = gzip_compressor(level) if kind == "gzip" else zstd_compressor(level)
    with open(path, "rb") as source, store.content.writer() as writer:
        while chunk := source.read(CHUNK):
            out = compressor.compress(chunk)
            if out:
                writer.write(out)
        writer.write(compressor.flush())
        digest, size = writer.commit("compressed layer")
    return LayerRecord(diff_id, digest, mt.DOCKER_LAYER_GZIP if kind == "gzip" else mt.OCI_LAYER_ZSTD, size, diff_size)


def _estargz(store: Store, diff_id: str, candidates: list[LayerRecord], level: int) -> PushLayer:
    from lamina.layer.estargz import TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION, write_estargz

    path = _plain_path(store, diff_id, candidates)
    with store.content.writer() as writer:
        converted = write_estargz(path, writer, level=level)
        digest, size = writer.commit("eStargz layer")
    record = LayerRecord(converted.diff_id, digest, mt.OCI_LAYER_GZIP, size, candidates[0].diff_size)
    store.add_layer_record(record)
    return PushLayer(record, {TOC_DIGEST_ANNOTATION: converted.toc_digest,
                              UNCOMPRESSED_SIZE_ANNOTATION: str(converted.uncompressed_size)})


def _plain_path(store: Store, diff_id: str, candidates: list[LayerRecord]) -> Path:
    """The layer's plain tar as a file of the store: the stored one, or one decompressed from
    another blob and kept (the store prefers plain blobs anyway: saves and snapshots read them)."""
    plain = next((r for r in candidates if mt.layer_compression(r.media_type) == ""), None)
    if plain is None:
        from lamina.layer.compression import decompressing_reader

        source = candidates[0]
        with store.content.open(source.blob_digest) as blob, store.content.writer(diff_id) as writer:
            reader = decompressing_reader(blob, mt.layer_compression(source.media_type), what=f"layer {diff_id}")
            while chunk := reader.read(CHUNK):
                writer.write(chunk)
            digest, size = writer.commit("layer")  # a DigestMismatchError if the blob is not that layer
        plain = LayerRecord(diff_id, digest, mt.DOCKER_LAYER, size, source.diff_size)
        store.add_layer_record(plain)
    return store.content.path(plain.blob_digest)


def converted_image(store: Store, image_id: str, name: str, compression: str, *, level: int | None = None,
                    force: bool = False):
    """The stored image with its layers in ``compression`` (``lamina save --compression``), as an
    image source: an OCI manifest, eStargz layers with their annotations."""
    from functools import partial

    from lamina.image.blobs import BlobLayer
    from lamina.image.source import SourceImage
    from lamina.oci.digest import sha256_digest

    check_level(compression, level)
    layers = [layer_for_push(store, diff_id, compression, level=level, force=force)
              for diff_id in store.image_diff_ids(image_id)]
    config_bytes = config_for(store.config_bytes(image_id), layers)
    descriptors, blobs = [], []
    for layer in layers:
        record = layer.record
        media_type = mt.oci_layer_type(mt.layer_compression(record.media_type))
        descriptor: dict = {"mediaType": media_type, "digest": record.blob_digest, "size": record.blob_size}
        if layer.annotations:
            descriptor["annotations"] = dict(layer.annotations)
        descriptors.append(descriptor)
        path = str(store.content.path(record.blob_digest))
        blobs.append(BlobLayer(digest=record.blob_digest, diff_id=record.diff_id, media_type=media_type,
                               size=record.blob_size, opener=partial(open, path, "rb"),
                               what=f"{name}: layer {record.blob_digest}", path=path))
    manifest = encode({
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": sha256_digest(config_bytes), "size": len(config_bytes)},
        "layers": descriptors,
    })
    return SourceImage(name, manifest, mt.OCI_MANIFEST, config_bytes, blobs)
