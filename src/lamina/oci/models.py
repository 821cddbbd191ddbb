"""Manifests, indexes and image configs, validated on read.

Manifests and configs are always kept as the exact bytes that were hashed; these models are
views for reading them. When lamina writes a new document it encodes it once (``encode``)
and from then on only those bytes are used.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lamina.errors import ManifestError
from lamina.oci import mediatypes as mt
from lamina.oci.digest import validate_digest


class Platform(msgspec.Struct, omit_defaults=True):
    architecture: str
    os: str
    variant: str | None = None
    os_version: str | None = msgspec.field(default=None, name="os.version")
    os_features: list[str] | None = msgspec.field(default=None, name="os.features")


class Descriptor(msgspec.Struct, omit_defaults=True):
    mediaType: str
    digest: str
    size: int
    urls: list[str] | None = None
    annotations: dict[str, str] | None = None
    platform: Platform | None = None
    artifactType: str | None = None


class Manifest(msgspec.Struct, omit_defaults=True):
    schemaVersion: int
    config: Descriptor
    layers: list[Descriptor]
    mediaType: str | None = None
    annotations: dict[str, str] | None = None
    subject: Descriptor | None = None
    artifactType: str | None = None


class Index(msgspec.Struct, omit_defaults=True):
    schemaVersion: int
    manifests: list[Descriptor]
    mediaType: str | None = None
    annotations: dict[str, str] | None = None
    subject: Descriptor | None = None


class History(msgspec.Struct, omit_defaults=True):
    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool | None = None


class RootFS(msgspec.Struct):
    type: str
    diff_ids: list[str]


class ConfigView(msgspec.Struct):
    """The fields of an image config lamina needs; everything else stays in the raw bytes."""

    rootfs: RootFS
    architecture: str = ""
    os: str = ""
    created: str | None = None
    author: str | None = None
    config: dict[str, Any] | None = None
    history: list[History] | None = None
    variant: str | None = None


_manifest_decoder = msgspec.json.Decoder(Manifest)
_index_decoder = msgspec.json.Decoder(Index)
_config_decoder = msgspec.json.Decoder(ConfigView)
_sniff_decoder = msgspec.json.Decoder(dict)


def sniff_media_type(data: bytes) -> str:
    """Media type of a manifest or index from its own bytes (for OCI layouts and lax registries)."""
    try:
        doc = _sniff_decoder.decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:  # nesting deeper than the decoder's stack
        raise ManifestError(f"manifest is not valid JSON: {exc}") from None
    media_type = doc.get("mediaType")
    if isinstance(media_type, str) and media_type:
        return media_type
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "config" in doc and "layers" in doc:
        return mt.OCI_MANIFEST
    raise ManifestError("document is neither an image manifest nor an index")


def parse_manifest(data: bytes, where: str = "manifest") -> Manifest:
    """Decode and validate an image manifest (OCI or Docker schema2)."""
    try:
        manifest = _manifest_decoder.decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:  # nesting deeper than the decoder's stack
        raise ManifestError(f"{where}: invalid image manifest: {exc}") from None
    if manifest.schemaVersion != 2:
        raise ManifestError(f"{where}: unsupported schemaVersion {manifest.schemaVersion}")
    if manifest.mediaType is not None and manifest.mediaType not in mt.IMAGE_MANIFESTS:
        raise ManifestError(f"{where}: unexpected media type {manifest.mediaType}")
    _check_descriptor(manifest.config, where)
    if manifest.config.mediaType not in mt.CONFIGS:
        raise ManifestError(f"{where}: unknown config media type {manifest.config.mediaType}")
    for layer in manifest.layers:
        _check_descriptor(layer, where)
        if not mt.is_layer(layer.mediaType):
            raise ManifestError(f"{where}: unknown layer media type {layer.mediaType}")
    return manifest


def parse_index(data: bytes, where: str = "index") -> Index:
    try:
        index = _index_decoder.decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:  # nesting deeper than the decoder's stack
        raise ManifestError(f"{where}: invalid image index: {exc}") from None
    if index.schemaVersion != 2:
        raise ManifestError(f"{where}: unsupported schemaVersion {index.schemaVersion}")
    for descriptor in index.manifests:
        _check_descriptor(descriptor, where)
    return index


def parse_config(data: bytes, where: str = "image config") -> ConfigView:
    """Decode and validate an image config; diff_ids must be well-formed digests."""
    try:
        config = _config_decoder.decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:  # nesting deeper than the decoder's stack
        raise ManifestError(f"{where}: invalid image config: {exc}") from None
    if config.rootfs.type != "layers":
        raise ManifestError(f"{where}: rootfs type must be 'layers', not {config.rootfs.type!r}")
    for diff_id in config.rootfs.diff_ids:
        try:
            validate_digest(diff_id)
        except Exception as exc:
            raise ManifestError(f"{where}: bad diff_id: {exc}") from None
    return config


def decode_json(data: bytes) -> Any:
    return msgspec.json.decode(data)


def encode(document: Any) -> bytes:
    """Encode a document once, compactly (docker and registries hash these exact bytes)."""
    return msgspec.json.encode(document)


def _check_descriptor(descriptor: Descriptor, where: str) -> None:
    try:
        validate_digest(descriptor.digest)
    except Exception as exc:
        raise ManifestError(f"{where}: {exc}") from None
    if descriptor.size < 0:
        raise ManifestError(f"{where}: negative size for {descriptor.digest}")
