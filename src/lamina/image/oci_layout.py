"""``oci:DIR[:REF]`` and ``oci-archive:PATH[:REF]``: one image of an OCI image layout.

index.json lists the layout's images; REF picks the one whose
``org.opencontainers.image.ref.name`` annotation is REF (skopeo's rule), else the layout must
hold exactly one. An entry that is an index (several platforms) is followed down to
``platform`` or this machine's, as docker picks. A directory and an archive differ only in
where a blob's bytes are: a file, or a slice of the tar.
"""

from __future__ import annotations

import os
from functools import partial
from typing import BinaryIO, Protocol

from lamina.errors import ArchiveError, ManifestError
from lamina.image.platforms import choose_manifest, wanted_platform
from lamina.image.source import DOCUMENT_MAX, SourceImage, layers_from_manifest
from lamina.image.tarindex import ArchiveMembers
from lamina.oci import mediatypes as mt
from lamina.oci.digest import sha256_digest, split_digest
from lamina.oci.models import Descriptor, decode_json, parse_index, sniff_media_type

REF_NAME = "org.opencontainers.image.ref.name"
#: Indexes followed at most from index.json down to an image manifest.
MAX_NESTING = 4


class LayoutFiles(Protocol):
    """Where a layout's files are: a directory or the members of an archive."""

    def find(self, name: str) -> str | None: ...
    def size(self, name: str) -> int: ...
    def open(self, name: str) -> BinaryIO: ...
    def read(self, name: str, limit: int) -> bytes: ...


def open_oci_layout(path: str, ref: str | None, spec: str, *, platform: str | None = None) -> SourceImage:
    if not os.path.exists(path):
        raise ArchiveError(f"{spec}: no such directory")
    if not os.path.isdir(path):
        raise ArchiveError(f"{spec}: not a directory (an archive is oci-archive:PATH)")
    return open_layout(LayoutDirectory(path, spec), ref, spec, platform=platform)


def open_oci_archive(path: str, ref: str | None, spec: str, *, platform: str | None = None) -> SourceImage:
    return open_layout(ArchiveMembers(path, spec), ref, spec, platform=platform)


def open_layout(files: LayoutFiles, ref: str | None, spec: str, *, platform: str | None = None) -> SourceImage:
    if files.find("index.json") is None:
        raise ArchiveError(f"{spec}: not an OCI image layout (no index.json)")
    if files.find("oci-layout") is not None:
        try:
            version = decode_json(files.read("oci-layout", 4096)).get("imageLayoutVersion")
        except Exception:
            version = None
        if not version:
            raise ArchiveError(f"{spec}: oci-layout has no imageLayoutVersion")
    index = parse_index(files.read("index.json", DOCUMENT_MAX), where=f"{spec}: index.json")
    descriptor = _choose_entry(index.manifests, ref, spec)
    manifest_bytes, media_type = _image_manifest(files, descriptor, spec, platform)

    config_descriptor = _manifest_config(manifest_bytes, spec)
    config_bytes = _blob_bytes(files, config_descriptor, spec)
    def opener_for(layer: Descriptor):
        name = _blob_path(layer.digest)
        if files.find(name) is None:
            raise ArchiveError(f"{spec}: layer {layer.digest} is named in the manifest but missing")
        return partial(files.open, name)

    # no ``path`` for sendfile: a layout's blobs are not ours, so every copy of them is verified
    layers = layers_from_manifest(spec, manifest_bytes, config_bytes, opener_for)
    return SourceImage(spec, manifest_bytes, media_type, config_bytes, layers)


def _choose_entry(manifests: list[Descriptor], ref: str | None, spec: str) -> Descriptor:
    if ref is not None:
        named = [d for d in manifests if (d.annotations or {}).get(REF_NAME) == ref]
        if not named:
            raise ArchiveError(f"{spec}: no image named {ref!r} in index.json")
        return named[0]
    if not manifests:
        raise ArchiveError(f"{spec}: index.json lists no images")
    if len(manifests) > 1:
        names = sorted({(d.annotations or {}).get(REF_NAME, "") for d in manifests} - {""})
        listed = f" ({', '.join(names)})" if names else ""
        raise ArchiveError(f"{spec}: index.json lists {len(manifests)} images{listed}; name one as PATH:REF")
    return manifests[0]


def _image_manifest(files: LayoutFiles, descriptor: Descriptor, spec: str,
                    platform: str | None) -> tuple[bytes, str]:
    """Follow indexes from ``descriptor`` to the image manifest for the wanted platform."""
    wanted = wanted_platform(platform)
    for _ in range(MAX_NESTING):
        data = _blob_bytes(files, descriptor, spec)
        media_type = descriptor.mediaType
        if media_type not in mt.ALL_MANIFESTS:
            try:
                media_type = sniff_media_type(data)
            except ManifestError as exc:
                raise ManifestError(f"{spec}: blob {descriptor.digest}: {exc}") from None
        if media_type in mt.IMAGE_MANIFESTS:
            return data, media_type
        if media_type not in mt.INDEXES:
            raise ManifestError(f"{spec}: {descriptor.digest} has media type {media_type}, which is not an image")
        index = parse_index(data, where=f"{spec}: index {descriptor.digest}")
        descriptor = choose_manifest(index.manifests, wanted, f"{spec}: index {descriptor.digest}")
    raise ManifestError(f"{spec}: indexes nested more than {MAX_NESTING} deep")


def _manifest_config(manifest_bytes: bytes, spec: str) -> Descriptor:
    from lamina.oci.models import parse_manifest

    return parse_manifest(manifest_bytes, where=f"{spec}: manifest").config


def _blob_path(digest: str) -> str:
    algorithm, hex_digest = split_digest(digest)
    return f"blobs/{algorithm}/{hex_digest}"


def _blob_bytes(files: LayoutFiles, descriptor: Descriptor, spec: str) -> bytes:
    """A small blob (manifest, index, config), checked against its descriptor's size and digest."""
    name = _blob_path(descriptor.digest)
    if files.find(name) is None:
        raise ArchiveError(f"{spec}: blob {descriptor.digest} is named but missing")
    if descriptor.size > DOCUMENT_MAX:
        raise ManifestError(f"{spec}: blob {descriptor.digest} is {descriptor.size} bytes, too large for a manifest or config")
    data = files.read(name, DOCUMENT_MAX)
    if len(data) != descriptor.size:
        raise ManifestError(f"{spec}: blob {descriptor.digest} is {len(data)} bytes but its descriptor says {descriptor.size}")
    actual = sha256_digest(data) if descriptor.digest.startswith("sha256:") else None
    if actual is not None and actual != descriptor.digest:
        raise ManifestError(f"{spec}: blob {descriptor.digest} hashes to {actual}")
    return data


class LayoutDirectory:
    """A layout directory's files; a name that leaves the directory (``..``, a symlink) is not found."""

    def __init__(self, root: str, what: str):
        self.root = os.path.abspath(root)
        self._real_root = os.path.realpath(root)
        self.what = what

    def find(self, name: str) -> str | None:
        path = os.path.realpath(os.path.join(self.root, name))
        if not path.startswith(self._real_root + os.sep) or not os.path.isfile(path):
            return None
        return name

    def size(self, name: str) -> int:
        return os.path.getsize(self._path(name))

    def open(self, name: str) -> BinaryIO:
        return open(self._path(name), "rb")

    def read(self, name: str, limit: int) -> bytes:
        with self.open(name) as stream:
            data = stream.read(limit + 1)
        if len(data) > limit:
            raise ArchiveError(f"{self.what}: {name} is too large for an image manifest or config")
        return data

    def _path(self, name: str) -> str:
        if self.find(name) is None:
            raise ArchiveError(f"{self.what}: {name} is missing")
        return os.path.join(self.root, name)
