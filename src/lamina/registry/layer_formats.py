"""The layer blobs a push sends in the compression asked for (``--compression``).

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
from contextlib import contextmanager
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
    with _plain_file(store, diff_id, candidates) as path:
        if kind == "":
            with store.content.writer(diff_id) as writer, open(path, "rb") as source:
                while chunk := source.read(CHUNK):
                    writer.write(chunk)
                digest, size = writer.commit("layer")
            record = LayerRecord(diff_id, digest, mt.DOCKER_LAYER, size, candidates[0].diff_size)
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

    with _plain_file(store, diff_id, candidates) as path, store.content.writer() as writer:
        converted = write_estargz(path, writer, level=level)
        digest, size = writer.commit("eStargz layer")
    record = LayerRecord(converted.diff_id, digest, mt.OCI_LAYER_GZIP, size, candidates[0].diff_size)
    store.add_layer_record(record)
    return PushLayer(record, {TOC_DIGEST_ANNOTATION: converted.toc_digest,
                              UNCOMPRESSED_SIZE_ANNOTATION: str(converted.uncompressed_size)})


@contextmanager
def _plain_file(store: Store, diff_id: str, candidates: list[LayerRecord]):
    """The layer's plain tar as a file: the stored one, or a temporary one decompressed from another."""
    plain = next((r for r in candidates if mt.layer_compression(r.media_type) == ""), None)
    if plain is not None:
        yield store.content.path(plain.blob_digest)
        return
    import hashlib

    from lamina.layer.compression import decompressing_reader
    from lamina.runtime.scratch import scratch_dir

    source = candidates[0]
    with scratch_dir(store.root, "push") as scratch:
        path = scratch / "layer.tar"
        digest = hashlib.sha256()
        with store.content.open(source.blob_digest) as blob, open(path, "wb") as out:
            reader = decompressing_reader(blob, mt.layer_compression(source.media_type), what=f"layer {diff_id}")
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if "sha256:" + digest.hexdigest() != diff_id:
            raise ManifestError(f"layer {diff_id}: the stored blob {source.blob_digest} decompresses to "
                                f"sha256:{digest.hexdigest()} (run 'lamina fsck')")
        yield path
