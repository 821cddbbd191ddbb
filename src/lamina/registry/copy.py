"""``lamina copy``: registry to registry without unpacking; blobs mounted when the registry is shared."""

from __future__ import annotations

import os
import tempfile

from lamina.oci import mediatypes as mt
from lamina.oci.models import parse_index, parse_manifest
from lamina.oci.reference import Reference
from lamina.registry.client import Manifest, RegistryClient
from lamina.registry.transfer_events import EventSink, TransferEvent, short
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
    for descriptor in [*parsed.layers, parsed.config]:
        if same_registry:
            outcome = target.upload_blob(dst.path, descriptor.digest, descriptor.size, _no_reader,
                                         mount_from=src.path)
            events(TransferEvent(short(descriptor.digest), f"{outcome.value}"))
            continue
        if target.blob_exists(dst.path, descriptor.digest) is not None:
            events(TransferEvent(short(descriptor.digest), "Layer already exists"))
            continue
        store.content.ensure()
        fd, temp = tempfile.mkstemp(dir=store.content.ingest_dir, prefix="copy-")
        try:
            with os.fdopen(fd, "w+b") as buffer:
                source.fetch_blob(src.path, descriptor.digest, buffer, expected_size=descriptor.size)
                buffer.flush()
                target.upload_blob(dst.path, descriptor.digest, descriptor.size, lambda path=temp: open(path, "rb"))
            events(TransferEvent(short(descriptor.digest), "Pushed"))
        finally:
            os.unlink(temp)
    return target.put_manifest(dst.path, tag or manifest.digest, manifest.data, manifest.media_type)


def _no_reader():
    raise RuntimeError("a mount fell back to an upload without a source")
