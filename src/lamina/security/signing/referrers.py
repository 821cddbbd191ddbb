"""Attachments through the OCI 1.1 referrers API, where a registry offers it.

A registry that answers ``GET /v2/<name>/referrers/<digest>`` with an image index lists the
manifests whose ``subject`` is that digest. ``sign``/``attest`` then also push each signature
or attestation as a manifest of its own with a ``subject`` (the image manifest) and an
``artifactType`` naming the kind, beside cosign's ``sha256-<hex>.sig``/``.att`` tag (which every
registry serves and cosign reads by default); ``verify`` reads the referrers first and the tag
after. A registry without the API (Debian's distribution 2.8 answers 404) is served by the tag
alone. The artifact types are cosign's OCI 1.1 ones.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

from lamina.errors import LaminaError, SignatureError
from lamina.security.signing.attachments import (
    MAX_ATTACHMENT_BLOB,
    MAX_ATTACHMENT_MANIFEST,
    MAX_ATTACHMENTS,
    OCI_MANIFEST,
    Attachment,
    Registry,
)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"
#: The ``artifactType`` of each attachment kind (cosign's names for OCI 1.1 referrers).
ARTIFACT_TYPES = {
    "sig": "application/vnd.dev.cosign.artifact.sig.v1+json",
    "att": "application/vnd.dev.cosign.artifact.att.v1+json",
    "sbom": "application/vnd.dev.cosign.artifact.sbom.v1+json",
}


def list_referrers(registry: Registry, repository: str, manifest_digest: str) -> list[dict[str, Any]] | None:
    """The descriptors the registry's referrers API lists for ``manifest_digest``; None when the
    registry has no such API (or the client is not a registry's: the store, an archive)."""
    transport = getattr(registry, "transport", None)
    if transport is None:
        return None
    where = f"{registry.host}/{repository}: referrers of {manifest_digest}"
    try:
        response = transport.request(transport.registry, "GET", f"/v2/{repository}/referrers/{manifest_digest}",
                                     scopes=[f"repository:{repository}:pull"], headers={"Accept": OCI_INDEX},
                                     stream=True)
    except LaminaError:
        return None
    try:
        if response.status_code != 200:
            return None
        if response.headers.get("Content-Type", "").split(";")[0].strip() != OCI_INDEX:
            return None
        body = bytearray()
        for chunk in response.iter_bytes():
            body.extend(chunk)
            if len(body) > MAX_ATTACHMENT_MANIFEST:
                raise SignatureError(f"{where}: index over {MAX_ATTACHMENT_MANIFEST // 1024} KiB")
    finally:
        response.close()
    try:
        index = json.loads(body)
        descriptors = index["manifests"]
        if not isinstance(descriptors, list) or not all(isinstance(d, dict) for d in descriptors):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise SignatureError(f"{where}: the answer is not an image index") from None
    return descriptors


def push_referrer(registry: Registry, repository: str, manifest_digest: str, suffix: str,
                  attachment: Attachment) -> str | None:
    """Push ``attachment`` as a manifest whose ``subject`` is the image; returns its digest, or
    None when the registry has no referrers API (the tag scheme then carries it alone)."""
    if list_referrers(registry, repository, manifest_digest) is None:
        return None
    subject = registry.head_manifest(repository, manifest_digest)
    if subject is None:
        raise SignatureError(f"{registry.host}/{repository}@{manifest_digest}: no such manifest to refer to")
    _upload(registry, repository, EMPTY_JSON)
    _upload(registry, repository, attachment.payload)
    layer: dict[str, Any] = {"mediaType": attachment.media_type, "size": len(attachment.payload),
                             "digest": attachment.digest}
    if attachment.annotations:
        layer["annotations"] = dict(attachment.annotations)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ARTIFACT_TYPES[suffix],
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "size": len(EMPTY_JSON),
                   "digest": "sha256:" + hashlib.sha256(EMPTY_JSON).hexdigest()},
        "layers": [layer],
        "subject": {"mediaType": subject.media_type, "size": subject.size, "digest": manifest_digest},
    }, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    return registry.put_manifest(repository, digest, manifest, OCI_MANIFEST)


def read_referrers(registry: Registry, repository: str, manifest_digest: str, suffix: str) -> list[Attachment]:
    """The layers of every referrer of ``suffix``'s artifact type whose ``subject`` is the image."""
    descriptors = list_referrers(registry, repository, manifest_digest)
    if not descriptors:
        return []
    wanted = ARTIFACT_TYPES[suffix]
    found: list[Attachment] = []
    for descriptor in descriptors[:MAX_ATTACHMENTS]:
        digest = descriptor.get("digest")
        if descriptor.get("artifactType") != wanted or not isinstance(digest, str):
            continue
        where = f"{registry.host}/{repository}@{digest}"
        manifest = registry.get_manifest(repository, digest, [OCI_MANIFEST])
        if len(manifest.data) > MAX_ATTACHMENT_MANIFEST:
            raise SignatureError(f"{where}: referrer manifest too big")
        try:
            document = json.loads(manifest.data)
            subject = document.get("subject") or {}
            layers = document["layers"]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SignatureError(f"{where}: referrer is not an image manifest") from None
        if subject.get("digest") != manifest_digest:
            continue  # the index listed a manifest about something else: not evidence for this image
        for layer in layers if isinstance(layers, list) else []:
            if not isinstance(layer, dict):
                continue
            blob_digest, size = layer.get("digest"), layer.get("size")
            if not isinstance(blob_digest, str) or not isinstance(size, int) or not 0 <= size <= MAX_ATTACHMENT_BLOB:
                raise SignatureError(f"{where}: a layer without a usable digest or size")
            sink = io.BytesIO()
            registry.fetch_blob(repository, blob_digest, sink, expected_size=size)
            annotations = layer.get("annotations") or {}
            if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
                raise SignatureError(f"{where}: layer {blob_digest} has annotations that are not strings")
            found.append(Attachment(str(layer.get("mediaType", "")), sink.getvalue(), dict(annotations)))
    return found


def _upload(registry: Registry, repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    registry.upload_blob(repository, digest, len(data), lambda: io.BytesIO(data))
    return digest
