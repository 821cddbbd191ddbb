"""``lamina push``: store → registry, layers in the compression asked for (layer_formats.py),
uploading in parallel, mounting blobs the registry already holds in another repository.

A compressed layer is kept in the store next to its plain tar, so a second push (or a push
to another registry) uploads the very same bytes and the manifest digest stays stable.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from lamina.image.layer_formats import check_level, config_for, layer_for_push
from lamina.oci import mediatypes as mt
from lamina.oci.digest import sha256_digest
from lamina.oci.models import encode, parse_manifest
from lamina.oci.reference import Reference
from lamina.registry.client import BlobPushOutcome, RegistryClient
from lamina.registry.locations import known_locations, record_locations
from lamina.registry.transfer_events import EventSink, TransferEvent, ignore, short
from lamina.store.store import Store

CHUNK = 1 << 20
_WORDS = {BlobPushOutcome.EXISTS: "Layer already exists", BlobPushOutcome.UPLOADED: "Pushed"}


@dataclass(slots=True)
class PushResult:
    reference: Reference
    digest: str
    size: int


def push_image(store: Store, client: RegistryClient, ref: Reference, image_id: str, *,
               compression: str = "gzip", events: EventSink = ignore, max_concurrent: int = 5,
               level: int | None = None, force: bool = False) -> PushResult:
    """Push the stored image ``image_id`` as ``ref``; layers in ``compression`` (see layer_formats.py:
    ``level`` where a blob is made, ``force`` to remake blobs stored in another compression)."""
    check_level(compression, level)
    repository = ref.path
    manifest_bytes, media_type, blobs, config_bytes = _manifest_for(store, image_id, compression, level, force)
    config_digest = sha256_digest(config_bytes)
    converted = config_digest != image_id  # eStargz: other diffIDs, so another config
    layers = [b for b in blobs if b[2] == "layer"]
    for digest, _, _ in layers:
        events(TransferEvent(short(digest), "Preparing"))
    reference = ref.digest or ref.tag or "latest"
    digest = sha256_digest(manifest_bytes)
    if client.pushed_manifest_digest(repository, reference) == digest:
        # The registry serves this very manifest under the tag already, and a registry accepts a
        # manifest only once it holds its blobs: one HEAD instead of one per blob and a PUT.
        for layer_digest, _, _ in layers:
            events(TransferEvent(short(layer_digest), "Layer already exists"))
    else:
        _upload_blobs(store, client, repository, [(d, size) for d, size, _ in layers], events, max_concurrent)
        client.upload_blob(repository, config_digest, len(config_bytes), lambda: io.BytesIO(config_bytes))
        digest = client.put_manifest(repository, reference, manifest_bytes, media_type)
    if not converted:  # a converted image is another image: the stored one keeps its own manifests
        store.content.ingest_bytes(manifest_bytes, digest)
        store.add_manifest(digest, media_type, image_id)
        store.add_repo_digest(ref.repository, digest, image_id)
    record_locations(store, client.host, repository, [b[0] for b in blobs])
    return PushResult(ref, digest, len(manifest_bytes))


def _manifest_for(store: Store, image_id: str, compression: str, level: int | None,
                  force: bool) -> tuple[bytes, str, list[tuple[str, int, str]], bytes]:
    """The manifest to push, its blobs (digest, size, kind) and its config, reusing a kept manifest if whole."""
    diff_ids = store.image_diff_ids(image_id)
    kept_kind = {"gzip": "gzip", "zstd": "zstd", "none": ""}.get(compression)
    for digest, media_type in store.manifests_of(image_id) if kept_kind is not None and not force else ():
        if media_type not in mt.IMAGE_MANIFESTS or not store.content.has(digest):
            continue
        data = store.content.read(digest)
        manifest = parse_manifest(data)
        if manifest.config.digest != image_id or any(d.annotations for d in manifest.layers):
            continue  # an eStargz (or other converted) manifest is not this image's own
        if all(store.content.has(d.digest) for d in manifest.layers) and \
                all(mt.layer_compression(d.mediaType) == kept_kind for d in manifest.layers):
            blobs = [(d.digest, d.size, "layer") for d in manifest.layers]
            return data, media_type, blobs, store.config_bytes(image_id)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:  # isal and zstd release the GIL: use both cores
        layers = list(pool.map(lambda diff_id: layer_for_push(store, diff_id, compression, level=level, force=force),
                               diff_ids))
    config_bytes = config_for(store.config_bytes(image_id), layers)
    oci = compression in ("zstd", "estargz") or any(
        mt.layer_compression(layer.record.media_type) == "zstd" for layer in layers)
    descriptors = []
    for layer in layers:
        record = layer.record
        media_type = record.media_type
        if oci:
            media_type = mt.oci_layer_type(mt.layer_compression(media_type))
        elif mt.layer_compression(media_type) != "zstd":
            media_type = mt.docker_layer_type(mt.layer_compression(media_type))
        descriptor: dict = {"mediaType": media_type, "size": record.blob_size, "digest": record.blob_digest}
        if layer.annotations:
            descriptor["annotations"] = dict(layer.annotations)
        descriptors.append(descriptor)
    document = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG if oci else mt.DOCKER_CONFIG, "size": len(config_bytes),
                   "digest": sha256_digest(config_bytes)},
        "layers": descriptors,
    }
    blobs = [(layer.record.blob_digest, layer.record.blob_size, "layer") for layer in layers]
    return encode(document), document["mediaType"], blobs, config_bytes


def push_index(store: Store, client: RegistryClient, ref: Reference, index_digest: str, *,
               events: EventSink = ignore, max_concurrent: int = 5) -> PushResult | None:
    """Push a multi-platform image whole: every platform's manifest by digest, then the index
    under the tag. None when some platform is not in the store (the caller pushes the one it has)."""
    from lamina.oci.models import parse_index

    if not store.content.has(index_digest):
        return None
    index_bytes = store.content.read(index_digest)
    index = parse_index(index_bytes)
    children = []
    for descriptor in index.manifests:
        if not store.content.has(descriptor.digest):
            return None
        manifest = parse_manifest(store.content.read(descriptor.digest))
        blobs = [(d.digest, d.size) for d in (*manifest.layers, manifest.config)]
        if not all(store.content.has(digest) for digest, _ in blobs):
            return None
        children.append((descriptor, blobs))
    repository = ref.path
    reference = ref.tag or index_digest
    if client.pushed_manifest_digest(repository, reference) == index_digest:
        for _, blobs in children:  # the registry holds the index, so every manifest and blob in it
            for digest, _ in blobs:
                events(TransferEvent(short(digest), "Layer already exists"))
        return PushResult(ref, index_digest, len(index_bytes))
    for descriptor, blobs in children:
        _upload_blobs(store, client, repository, blobs, events, max_concurrent)
        client.put_manifest(repository, descriptor.digest, store.content.read(descriptor.digest), descriptor.mediaType)
        record_locations(store, client.host, repository, [digest for digest, _ in blobs])
    media_type = index.mediaType or mt.OCI_INDEX
    digest = client.put_manifest(repository, reference, index_bytes, media_type)
    return PushResult(ref, digest, len(index_bytes))


def _upload_blobs(store: Store, client: RegistryClient, repository: str, blobs: list[tuple[str, int]],
                  events: EventSink, max_concurrent: int) -> None:
    """Upload blobs in parallel, each the cheapest way (exists, mount from a known repository, upload).

    The first failure (or Ctrl-C) stops the other uploads at their next read instead of letting
    them run to the end.
    """
    # not imported by a push with nothing to send
    import threading
    from concurrent.futures import ThreadPoolExecutor, as_completed

    stop = threading.Event()

    def upload(item: tuple[str, int]) -> None:
        digest, size = item
        if stop.is_set():
            raise _Stopped()
        sources = [r for r in known_locations(store, client.host, digest) if r != repository]
        blob_id = short(digest)

        def pushing(done: int, total: int | None) -> None:  # docker's "Pushing [==>  ] 52MB/158MB"
            events(TransferEvent(blob_id, "Pushing", done, total))

        outcome = client.upload_blob(repository, digest, size, lambda: _StoppableReader(store.content.open(digest), stop),
                                     mount_from=sources[0] if sources else None, progress=pushing)
        word = f"Mounted from {sources[0]}" if outcome == BlobPushOutcome.MOUNTED else _WORDS[outcome]
        events(TransferEvent(short(digest), word))

    with ThreadPoolExecutor(max_workers=max(1, max_concurrent)) as pool:
        futures = [pool.submit(upload, blob) for blob in blobs]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            stop.set()
            for future in futures:
                future.cancel()
            raise


class _Stopped(Exception):
    """Raised inside an upload when another blob failed or the push was interrupted."""


class _StoppableReader:
    """A blob file whose reads fail once ``stop`` is set, so a streaming upload ends there."""

    def __init__(self, file, stop) -> None:
        self._file = file
        self._stop = stop

    def read(self, size: int = -1) -> bytes:
        if self._stop.is_set():
            raise _Stopped()
        return self._file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> _StoppableReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._file.close()
