"""The Image/Layer protocol: what every image source offers, whatever it is stored in.

go-containerregistry's ``v1.Image``/``v1.Layer`` is the model. A source (the local store, a
docker-archive, an oci-archive, an OCI layout directory, a registry reference) produces an
``Image``; a sink (the store, an archive, a layout, a registry) consumes one; readers that only
look (sbom, scan, analyze, diff) take any source the same way. Manifests and configs are the
exact bytes that were hashed: parse them, never re-serialise them to compute a digest.
"""

from __future__ import annotations

from typing import BinaryIO, Protocol


class Layer(Protocol):
    """One layer of an image, as its manifest lists it (base layer first)."""

    @property
    def digest(self) -> str:
        """The blob's digest as the manifest names it (of the compressed bytes, if compressed)."""

    @property
    def diff_id(self) -> str:
        """The digest of the uncompressed tar (the config's ``rootfs.diff_ids`` entry)."""

    @property
    def media_type(self) -> str:
        """The layer's media type as the manifest gives it."""

    @property
    def size(self) -> int:
        """The blob's size in bytes as stored (compressed size for compressed layers)."""

    def open_compressed(self) -> BinaryIO:
        """The blob's bytes as stored or sent; the caller closes it."""

    def open_uncompressed(self) -> BinaryIO:
        """The layer's plain tar stream (decompressed while read); the caller closes it."""


class Image(Protocol):
    """One single-platform image: a manifest, its config, its layers."""

    @property
    def name(self) -> str:
        """What the user named (``docker-archive:x.tar``, ``debian:bookworm``…), for reports."""

    def manifest_bytes(self) -> bytes:
        """The manifest exactly as stored (docker v2 schema 2 or OCI), for digests."""

    def manifest_media_type(self) -> str:
        """The manifest's media type."""

    def manifest_digest(self) -> str:
        """``sha256:`` of :meth:`manifest_bytes`."""

    def config_bytes(self) -> bytes:
        """The image config exactly as stored."""

    def config_digest(self) -> str:
        """``sha256:`` of :meth:`config_bytes`: docker's image ID."""

    def layers(self) -> list[Layer]:
        """The layers, base first, in manifest order."""

    def close(self) -> None:
        """Release what the source holds open (files, connections); idempotent."""

    def __enter__(self) -> Image:
        """Images are used in ``with`` blocks: leaving one closes the source."""

    def __exit__(self, *exc_info: object) -> None:
        """Close the source (see :meth:`close`)."""
