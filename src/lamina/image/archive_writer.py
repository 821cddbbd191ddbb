"""Images into tar archives: docker-archive (``docker save``'s layout) and oci-archive.

The docker-archive is Docker 25+'s: an OCI image layout (``oci-layout``, ``index.json``,
``blobs/sha256/…``) plus the ``manifest.json`` and ``repositories`` that docker ≤24 reads,
every mtime 0, each blob written once. An oci-archive is the layout alone. Manifests and
configs are written as the source's exact bytes; layer blobs are copied as stored (sendfile
when the source has them as files), and a streamed blob is verified before the archive is
finished, so a wrong blob fails the write instead of ending up in the archive.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from lamina.archive.tarstream import TarWriter
from lamina.errors import DigestMismatchError
from lamina.image.base import Image, Layer
from lamina.oci import mediatypes as mt
from lamina.oci.reference import Reference

LAYOUT_VERSION = b'{"imageLayoutVersion":"1.0.0"}'


@dataclass(slots=True)
class ArchiveEntry:
    """One image of an archive and what it is called there.

    ``refs``: docker tags (docker-archive's RepoTags); ``ref_name``: the OCI layout's
    ``org.opencontainers.image.ref.name`` when there are no refs (oci-archive:PATH:REF).
    """

    image: Image
    refs: list[Reference] = field(default_factory=list)
    ref_name: str | None = None
    attachments: list = field(default_factory=list)
    """(ref name, manifest bytes, [(digest, bytes)]): manifests about the image (cosign's signatures
    and attestations) written beside it as index entries named ``sha256-<hex>.sig`` and the like."""


def write_docker_archive(entries: Sequence[ArchiveEntry], out: BinaryIO) -> None:
    """``docker save``: several images, tagged as their entries say, into one archive."""
    archive = _BlobArchive(out)
    index_entries: list[dict] = []
    legacy_manifest: list[dict] = []
    repositories: dict[str, dict[str, str]] = {}
    for entry in entries:
        image = entry.image
        config_path = archive.put_bytes(image.config_digest(), image.config_bytes())
        layer_paths = [archive.put_layer(layer) for layer in image.layers()]
        descriptor = archive.put_manifest(image)
        tagged = [ref for ref in entry.refs if ref.tag is not None]
        if not tagged:
            index_entries.append(_annotated(descriptor, entry.ref_name))
        for ref in tagged:
            index_entries.append({**descriptor, "annotations": {
                "io.containerd.image.name": str(ref),
                "org.opencontainers.image.ref.name": ref.tag,
            }})
            layers = image.layers()
            top = (layers[-1].digest if layers else image.config_digest()).split(":")[1]
            repositories.setdefault(ref.familiar_repository, {})[ref.tag] = top
        legacy_manifest.append({
            "Config": config_path,
            "RepoTags": [ref.familiar for ref in tagged] or None,
            "Layers": layer_paths,
        })
        index_entries.extend(archive.put_attachments(entry))
    archive.writer.add_bytes("index.json", _json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                                                  "manifests": index_entries}))
    archive.writer.add_bytes("manifest.json", _json(legacy_manifest))
    if repositories:
        archive.writer.add_bytes("repositories", _json(repositories))
    archive.writer.close()


def write_oci_archive(entries: Sequence[ArchiveEntry], out: BinaryIO) -> None:
    """An OCI image layout as a tar (skopeo's ``oci-archive:``)."""
    archive = _BlobArchive(out)
    index_entries = []
    for entry in entries:
        image = entry.image
        archive.put_bytes(image.config_digest(), image.config_bytes())
        for layer in image.layers():
            archive.put_layer(layer)
        index_entries.append(_annotated(archive.put_manifest(image), entry.ref_name))
        index_entries.extend(archive.put_attachments(entry))
    archive.writer.add_bytes("index.json", _json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                                                  "manifests": index_entries}))
    archive.writer.close()


class _BlobArchive:
    """A tar being written with an OCI layout's ``blobs/``; each digest goes in once."""

    def __init__(self, out: BinaryIO):
        self.writer = TarWriter(out)
        self.written: set[str] = set()
        self.writer.add_bytes("oci-layout", LAYOUT_VERSION)
        self.writer.add_dir("blobs")
        self.writer.add_dir("blobs/sha256")

    def put_bytes(self, digest: str, data: bytes) -> str:
        path = blob_path(digest)
        if digest not in self.written:
            self.writer.add_parents(path)
            self.writer.add_bytes(path, data)
            self.written.add(digest)
        return path

    def put_layer(self, layer: Layer) -> str:
        path = blob_path(layer.digest)
        if layer.digest in self.written:
            return path
        self.writer.add_parents(path)
        stored = getattr(layer, "path", None)
        if stored:
            self.writer.add_file(path, stored, layer.size)
        else:
            with layer.open_compressed() as stream:
                self.writer.add_stream(path, stream, layer.size)
                if stream.read(1):  # the verifying reader checks the digest at its end
                    raise DigestMismatchError(f"layer {layer.digest}: longer than its size {layer.size}")
        self.written.add(layer.digest)
        return path

    def put_manifest(self, image: Image) -> dict:
        manifest = image.manifest_bytes()
        digest = image.manifest_digest()
        self.put_bytes(digest, manifest)
        return {"mediaType": image.manifest_media_type(), "digest": digest, "size": len(manifest)}


    def put_attachments(self, entry: ArchiveEntry) -> list[dict]:
        """The entry's attachment manifests and blobs; returns their index descriptors."""
        descriptors = []
        for ref_name, manifest, blobs in entry.attachments:
            for digest, data in blobs:
                self.put_bytes(digest, data)
            digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
            self.put_bytes(digest, manifest)
            descriptors.append(_annotated({"mediaType": mt.OCI_MANIFEST, "digest": digest, "size": len(manifest)},
                                          ref_name))
        return descriptors


def blob_path(digest: str) -> str:
    return "blobs/" + digest.replace(":", "/")


def _annotated(descriptor: dict, ref_name: str | None) -> dict:
    if not ref_name:
        return descriptor
    return {**descriptor, "annotations": {"org.opencontainers.image.ref.name": ref_name}}


def _json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"
