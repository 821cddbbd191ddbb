"""``lamina copy``: registry to registry without unpacking; blobs mounted when the registry is shared."""

from __future__ import annotations

import fcntl
import os
import tempfile
from typing import IO

from lamina.oci import mediatypes as mt
from lamina.oci.models import parse_index, parse_manifest
from lamina.oci.reference import Reference
from lamina.registry.client import BlobPushOutcome, Manifest, RegistryClient
from lamina.registry.transfer_events import EventSink, TransferEvent, short
from lamina.store.content import INGEST_TEMP_PREFIX
from lamina.store.store import Store


def copy_image(store: Store, source: RegistryClient, src: Reference, target: RegistryClient, dst: Reference,
               *, all_platforms: bool, events: EventSink) -> str:
    top = source.get_manifest(src.path, src.digest or src.tag or "latest")
    if top.media_type in mt.INDEXES:
        index = parse_index(top.data)
        if all_platforms:
            for descriptor in index.manifests:
                child = source.get_manifest(src.path, descriptor.digest)
                _copy_manifest(store, source, src, target, dst, child, events, tag=None)
            return target.put_manifest(dst.path, dst.tag or dst.digest or "latest", top.data, top.media_type)
        from lamina.oci.platform import host_platform
        from lamina.registry.pull import _resolve_platform

        top, _ = _resolve_platform(source, src.path, top, host_platform())
    return _copy_manifest(store, source, src, target, dst, top, events, tag=dst.tag or "latest")


def _copy_manifest(store: Store, source: RegistryClient, src: Reference, target: RegistryClient, dst: Reference,
                   manifest: Manifest, events: EventSink, tag: str | None) -> str:
    parsed = parse_manifest(manifest.data)
    same_registry = source.host == target.host
    words = {BlobPushOutcome.EXISTS: "Layer already exists", BlobPushOutcome.UPLOADED: "Pushed",
             BlobPushOutcome.MOUNTED: f"Mounted from {src.path}"}
    for descriptor in [*parsed.layers, parsed.config]:
        # HEAD, then a mount within one registry, then an upload; the blob is only downloaded
        # when an upload is needed (a registry may answer a mount with 202: "upload it")
        with _DownloadOnDemand(store, source, src.path, descriptor.digest, descriptor.size) as blob:
            outcome = target.upload_blob(dst.path, descriptor.digest, descriptor.size, blob.open,
                                         mount_from=src.path if same_registry else None)
        events(TransferEvent(short(descriptor.digest), words[outcome]))
    return target.put_manifest(dst.path, tag or manifest.digest, manifest.data, manifest.media_type)


class _DownloadOnDemand:
    """A blob of the source registry, fetched (verified) into a temp file the first time it is opened."""

    def __init__(self, store: Store, source: RegistryClient, repository: str, digest: str, size: int):
        self._store, self._source, self._repository = store, source, repository
        self._digest, self._size = digest, size
        self._path: str | None = None
        self._held: IO[bytes] | None = None

    def open(self) -> IO[bytes]:
        if self._path is None:
            self._store.content.ensure()
            # named and flocked like the content store's own temp files, so a copy killed
            # mid-download leaves one the next writer (or fsck --repair) sweeps as abandoned
            fd, path = tempfile.mkstemp(dir=self._store.content.ingest_dir, prefix=INGEST_TEMP_PREFIX)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._path = path
            self._held = os.fdopen(fd, "w+b")
            self._source.fetch_blob(self._repository, self._digest, self._held, expected_size=self._size)
            self._held.flush()
        return open(self._path, "rb")

    def __enter__(self) -> _DownloadOnDemand:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._path is not None:
            os.unlink(self._path)
        if self._held is not None:
            self._held.close()
