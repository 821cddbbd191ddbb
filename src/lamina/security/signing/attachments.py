"""cosign's attachments in a registry: one OCI manifest per image digest and kind, under a tag.

cosign stores what it attaches to an image in the image's repository, under the tag
``sha256-<hex>.<suffix>`` (``.sig`` signatures, ``.att`` attestations). That tag names an OCI
image manifest whose layers are the attachments: each layer's blob is a payload, each layer's
annotations carry the signature (and certificate or bundle when keyless). A new attachment is
appended as one more layer: the manifest is read, extended and pushed again under the same tag.
Registries without the OCI 1.1 referrers API (Debian's distribution 2.8 among them) serve this
scheme; it is the one cosign reads by default.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from lamina.errors import SignatureError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
#: An attachment manifest this big is refused (a few thousand signatures fit in far less).
MAX_ATTACHMENT_MANIFEST = 1024 * 1024
#: One attachment blob (a payload or an attestation envelope) over this is not read.
MAX_ATTACHMENT_BLOB = 16 * 1024 * 1024
#: Layers read from one attachment manifest at most (each is a blob fetch).
MAX_ATTACHMENTS = 1000
#: The suffixes cosign uses (signatures, attestations, SBOMs attached with ``cosign attach``).
ATTACHMENT_SUFFIXES = ("sig", "att", "sbom")


class Registry(Protocol):
    """The part of :class:`lamina.registry.client.RegistryClient` attachments use."""

    host: str

    def head_manifest(self, repository: str, reference: str, accept: Any = ...) -> Any: ...
    def get_manifest(self, repository: str, reference: str, accept: Any = ...) -> Any: ...
    def put_manifest(self, repository: str, reference: str, data: bytes, media_type: str) -> str: ...
    def fetch_blob(self, repository: str, digest: str, sink: Any, *, expected_size: int | None = None) -> int: ...
    def upload_blob(self, repository: str, digest: str, size: int, open_reader: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Attachment:
    """One layer of an attachment manifest: its media type, blob bytes and annotations."""

    media_type: str
    payload: bytes
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.payload).hexdigest()


def attachment_tag(manifest_digest: str, suffix: str) -> str:
    """``sha256:<hex>`` → ``sha256-<hex>.<suffix>`` (cosign's tag for the image's attachments)."""
    algorithm, _, hex_part = manifest_digest.partition(":")
    return f"{algorithm}-{hex_part}.{suffix}"


def read_attachments(registry: Registry, repository: str, manifest_digest: str, suffix: str) -> list[Attachment]:
    """Every layer of the image's ``suffix`` attachment manifest; empty when there is none."""
    tag = attachment_tag(manifest_digest, suffix)
    where = f"{registry.host}/{repository}:{tag}"
    if registry.head_manifest(repository, tag, [OCI_MANIFEST]) is None:
        return []
    manifest = registry.get_manifest(repository, tag, [OCI_MANIFEST])
    layers = _layers(manifest.data, where)
    if len(layers) > MAX_ATTACHMENTS:
        raise SignatureError(f"{where}: {len(layers)} layers, over the limit of {MAX_ATTACHMENTS}")
    attachments = []
    for layer in layers:
        digest, size = layer.get("digest"), layer.get("size")
        if not isinstance(digest, str) or not isinstance(size, int) or size < 0:
            raise SignatureError(f"{where}: a layer without a digest or size")
        if size > MAX_ATTACHMENT_BLOB:
            raise SignatureError(f"{where}: layer {digest} is {size} bytes, over the attachment limit")
        sink = io.BytesIO()
        registry.fetch_blob(repository, digest, sink, expected_size=size)
        annotations = layer.get("annotations") or {}
        if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
            raise SignatureError(f"{where}: layer {digest} has annotations that are not strings")
        attachments.append(Attachment(str(layer.get("mediaType", "")), sink.getvalue(), dict(annotations)))
    return attachments


def append_attachment(registry: Registry, repository: str, manifest_digest: str, suffix: str,
                      attachment: Attachment) -> tuple[str, str]:
    """Add ``attachment`` to the image's ``suffix`` manifest (created if absent); returns (tag, digest).

    An identical layer already there (same blob, same annotations) is not added twice.
    """
    tag = attachment_tag(manifest_digest, suffix)
    where = f"{registry.host}/{repository}:{tag}"
    layers: list[dict[str, Any]] = []
    if registry.head_manifest(repository, tag, [OCI_MANIFEST]) is not None:
        layers = _layers(registry.get_manifest(repository, tag, [OCI_MANIFEST]).data, where)
    descriptor: dict[str, Any] = {"mediaType": attachment.media_type, "size": len(attachment.payload),
                                  "digest": attachment.digest}
    if attachment.annotations:
        descriptor["annotations"] = dict(attachment.annotations)
    if descriptor not in layers:
        layers.append(descriptor)
    _upload(registry, repository, attachment.payload)
    config = json.dumps({
        "architecture": "", "created": "0001-01-01T00:00:00Z", "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "", "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]}, "config": {},
    }, separators=(",", ":")).encode()
    config_digest = _upload(registry, repository, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": config_digest},
        "layers": layers,
    }, separators=(",", ":")).encode()
    return tag, registry.put_manifest(repository, tag, manifest, OCI_MANIFEST)


def copy_attachments(source: Registry, source_repository: str, target: Registry, target_repository: str,
                     manifest_digest: str) -> list[str]:
    """Copy the image's ``.sig``/``.att``/``.sbom`` manifests and their blobs (``cosign copy``); returns the tags copied.

    Signatures name the manifest digest, so they stay valid wherever the same manifest bytes go.
    """
    copied = []
    for suffix in ATTACHMENT_SUFFIXES:
        tag = attachment_tag(manifest_digest, suffix)
        where = f"{source.host}/{source_repository}:{tag}"
        if source.head_manifest(source_repository, tag, [OCI_MANIFEST]) is None:
            continue
        manifest = source.get_manifest(source_repository, tag, [OCI_MANIFEST])
        document = json.loads(manifest.data) if len(manifest.data) <= MAX_ATTACHMENT_MANIFEST else None
        layers = _layers(manifest.data, where)
        config = document.get("config") if isinstance(document, dict) else None
        for descriptor in [*layers, *([config] if isinstance(config, dict) else [])]:
            digest, size = descriptor.get("digest"), descriptor.get("size")
            if not isinstance(digest, str) or not isinstance(size, int) or not 0 <= size <= MAX_ATTACHMENT_BLOB:
                raise SignatureError(f"{where}: a blob without a usable digest or size")
            sink = io.BytesIO()
            source.fetch_blob(source_repository, digest, sink, expected_size=size)
            data = sink.getvalue()
            target.upload_blob(target_repository, digest, len(data), lambda data=data: io.BytesIO(data))
        target.put_manifest(target_repository, tag, manifest.data, OCI_MANIFEST)
        copied.append(tag)
    return copied


def _upload(registry: Registry, repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    registry.upload_blob(repository, digest, len(data), lambda: io.BytesIO(data))
    return digest


def _layers(data: bytes, where: str) -> list[dict[str, Any]]:
    if len(data) > MAX_ATTACHMENT_MANIFEST:
        raise SignatureError(f"{where}: attachment manifest over {MAX_ATTACHMENT_MANIFEST // 1024} KiB")
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError(f"{where}: attachment manifest is not JSON") from None
    layers = document.get("layers") if isinstance(document, dict) else None
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        raise SignatureError(f"{where}: attachment manifest has no list of layers")
    return layers
