"""What every image source has in common: exact bytes, digests of them, and closing.

A source decides its manifest, config and layers once, when it is opened (reading only
metadata); the digests are computed from those exact bytes, never from a re-encoding.
"""

from __future__ import annotations

from lamina.errors import ManifestError
from lamina.image.blobs import BlobLayer
from lamina.oci import mediatypes as mt
from lamina.oci.digest import sha256_digest
from lamina.oci.models import encode, parse_config, parse_manifest

#: Largest manifest or config read into memory; real ones are kilobytes.
DOCUMENT_MAX = 8 << 20


class SourceImage:
    """An opened image: manifest, config and layers fixed; blobs read on demand."""

    def __init__(self, name: str, manifest_bytes: bytes, manifest_media_type: str, config_bytes: bytes,
                 layers: list[BlobLayer]):
        self._name = name
        self._manifest_bytes = manifest_bytes
        self._manifest_media_type = manifest_media_type
        self._config_bytes = config_bytes
        self._layers = layers
        self._closed = False

    @property
    def name(self) -> str:
        return self._name

    def manifest_bytes(self) -> bytes:
        return self._manifest_bytes

    def manifest_media_type(self) -> str:
        return self._manifest_media_type

    def manifest_digest(self) -> str:
        return sha256_digest(self._manifest_bytes)

    def config_bytes(self) -> bytes:
        return self._config_bytes

    def config_digest(self) -> str:
        return sha256_digest(self._config_bytes)

    def config_media_type(self) -> str:
        """The config's media type as the manifest names it."""
        return parse_manifest(self._manifest_bytes, where=self._name).config.mediaType

    def diff_ids(self) -> list[str]:
        """The config's ``rootfs.diff_ids`` (one per layer, base first)."""
        return [layer.diff_id for layer in self._layers]

    def layers(self) -> list[BlobLayer]:
        return list(self._layers)

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> SourceImage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Image {self._name} {self.manifest_digest()}>"


def layers_from_manifest(name: str, manifest_bytes: bytes, config_bytes: bytes, opener_for,
                         path_for=None) -> list[BlobLayer]:
    """The layers a manifest lists, paired with the config's diffIDs; checks that they agree.

    ``opener_for(descriptor)`` returns a function that opens the blob's stored bytes;
    ``path_for(descriptor)`` (optional) the blob's file when it is one.
    """
    manifest = parse_manifest(manifest_bytes, where=f"{name}: manifest")
    config_digest = sha256_digest(config_bytes)
    if manifest.config.digest != config_digest:
        raise ManifestError(f"{name}: config hashes to {config_digest}, but the manifest names {manifest.config.digest}")
    if manifest.config.size != len(config_bytes):
        raise ManifestError(f"{name}: config is {len(config_bytes)} bytes, but the manifest says {manifest.config.size}")
    config = parse_config(config_bytes, where=f"{name}: image config")
    diff_ids = config.rootfs.diff_ids
    if len(diff_ids) != len(manifest.layers):
        raise ManifestError(
            f"{name}: the manifest lists {len(manifest.layers)} layers but the config names {len(diff_ids)} diffIDs")
    layers = []
    for descriptor, diff_id in zip(manifest.layers, diff_ids, strict=True):
        if not mt.layer_compression(descriptor.mediaType) and descriptor.digest != diff_id:
            raise ManifestError(
                f"{name}: uncompressed layer {descriptor.digest} does not match its diffID {diff_id}")
        layers.append(BlobLayer(
            digest=descriptor.digest, diff_id=diff_id, media_type=descriptor.mediaType, size=descriptor.size,
            opener=opener_for(descriptor), what=f"{name}: layer {descriptor.digest}",
            path=path_for(descriptor) if path_for else None))
    return layers


def oci_manifest(config_bytes: bytes, layers: list[tuple[str, str, int]], *,
                 config_media_type: str = mt.OCI_CONFIG, media_type: str = mt.OCI_MANIFEST) -> bytes:
    """A manifest for a config and (media type, digest, size) layers, encoded once, compactly."""
    return encode({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_media_type, "digest": sha256_digest(config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": kind, "digest": digest, "size": size} for kind, digest, size in layers],
    })
