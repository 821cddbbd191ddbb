"""Signatures and attestations in image archives (``save``/``load``, ``docker-archive:``, ``oci:``).

Layout, as ``cosign save`` and ``skopeo copy --preserve-digests`` leave an OCI layout: each
attachment manifest (``.sig``, ``.att``, ``.sbom``) is one more descriptor of ``index.json``, with
the ``org.opencontainers.image.ref.name`` annotation ``sha256-<hex>.<suffix>`` (cosign's registry
tag), and its config and layer blobs under ``blobs/sha256/``. The signed image is saved with the
very manifest the signatures name (the one kept from its pull, its push or its build), so its
digest in the archive is the signed one. A docker-archive is an OCI layout too (docker 25+), and
``manifest.json`` (what docker ≤24 and skopeo's ``docker-archive:`` read) lists images only.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from lamina.errors import SignatureError
from lamina.security.signing.attachments import (
    ATTACHMENT_SUFFIXES,
    MAX_ATTACHMENT_BLOB,
    MAX_ATTACHMENT_MANIFEST,
    OCI_MANIFEST,
)
from lamina.security.signing.localstore import StoreAttachments

if TYPE_CHECKING:
    from lamina.image.source import SourceImage
    from lamina.store.store import Store

REF_NAME = "org.opencontainers.image.ref.name"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
ATTACHMENT_REF = re.compile(r"^sha256-([0-9a-f]{64})\.(" + "|".join(ATTACHMENT_SUFFIXES) + r")$")


class ArchivedAttachment(NamedTuple):
    """One attachment manifest to write: its tag, exact bytes and the blobs it names."""

    tag: str
    manifest: bytes
    blobs: list[tuple[str, bytes]]


def saved_image(store: Store, image_id: str, name: str) -> tuple[SourceImage | None, list[ArchivedAttachment]]:
    """For ``save``: the image as its signatures name it and its attachments; (None, []) when the
    store keeps none for it (then the image is saved as always)."""
    local = StoreAttachments(store, image_id)
    by_subject: dict[str, list[str]] = {}
    for tag in local.tags():
        match = ATTACHMENT_REF.match(tag)
        if match:
            by_subject.setdefault("sha256:" + match.group(1), []).append(tag)
    for subject, tags in sorted(by_subject.items()):
        image = kept_manifest_image(store, image_id, subject, name)
        if image is None:
            continue
        bundles = []
        for tag in sorted(tags):
            manifest = local.get_manifest("", tag).data
            blobs = [(digest, store.content.read(digest)) for digest in _blob_digests(manifest, tag)]
            bundles.append(ArchivedAttachment(tag, manifest, blobs))
        return image, bundles
    return None, []


def kept_manifest_image(store: Store, image_id: str, manifest_digest: str, name: str) -> SourceImage | None:
    """The stored image with the exact manifest ``manifest_digest`` (kept from a pull, push or build),
    its layers read from the stored blobs that manifest names; None when a blob is not stored."""
    from lamina.image.blobs import BlobLayer
    from lamina.image.source import SourceImage
    from lamina.oci.models import parse_manifest, sniff_media_type

    if not store.content.has(manifest_digest):
        return None
    data = store.content.read(manifest_digest)
    manifest = parse_manifest(data)
    diff_ids = store.image_diff_ids(image_id)
    if manifest.config.digest != image_id or len(manifest.layers) != len(diff_ids):
        return None
    layers = []
    for descriptor, diff_id in zip(manifest.layers, diff_ids, strict=True):
        if not store.content.has(descriptor.digest):
            return None
        path = str(store.content.path(descriptor.digest))
        layers.append(BlobLayer(digest=descriptor.digest, diff_id=diff_id, media_type=descriptor.mediaType,
                                size=descriptor.size, opener=partial(open, path, "rb"),
                                what=f"{name}: layer {descriptor.digest}", path=path))
    return SourceImage(name, data, sniff_media_type(data), store.config_bytes(image_id), layers)


def stored_with_attachments(store: Store, names: list[str] | tuple[str, ...]) -> bool:
    """Whether any of the named stored images has attachments (then ``save`` carries them)."""
    from lamina.errors import ImageNotFoundError

    for name in names:
        try:
            if store.attachments_of(store.resolve(name)):
                return True
        except ImageNotFoundError:
            return False  # a registry image: client.save reads it (attachments stay in the registry)
    return False


def save_signed(store: Store, names: list[str] | tuple[str, ...], out: Any) -> None:
    """``save`` of stored images with their attachments (docker-archive, each image once)."""
    from lamina.errors import LaminaError
    from lamina.image.archive_writer import ArchiveEntry, write_docker_archive
    from lamina.image.store_source import StoreImage
    from lamina.oci.reference import parse_reference

    entries: dict[str, ArchiveEntry] = {}
    try:
        for name in names:
            image_id = store.resolve(name)
            if image_id not in entries:
                signed, attachments = saved_image(store, image_id, name)
                entries[image_id] = ArchiveEntry(signed or StoreImage(store, image_id, name), attachments=attachments)
            try:
                ref = parse_reference(name)
            except LaminaError:
                continue
            if ref.tag is not None and store.lookup(ref) == image_id and ref not in entries[image_id].refs:
                entries[image_id].refs.append(ref)
        write_docker_archive(list(entries.values()), out)
    finally:
        for entry in entries.values():
            entry.image.close()


def keep_archive_attachments(store: Store, path: str) -> list[str]:
    """After ``load -i PATH``: keep the archive's attachment manifests (and their blobs) about
    images now in the store, with the manifest they name; returns the tags kept."""
    try:
        index, blob = read_layout(f"docker-archive:{path}")
    except SignatureError:
        return []  # no OCI layout (docker ≤24's archive): nothing attached
    if not any(ATTACHMENT_REF.match(_ref_name(d)) for d in index["manifests"]):
        return []
    kept = []
    with store.lease():
        for descriptor in index.get("manifests", []):
            tag = _ref_name(descriptor)
            match = ATTACHMENT_REF.match(tag)
            if match is None:
                continue
            subject = "sha256:" + match.group(1)
            try:
                subject_bytes = blob(subject)
                image_id = json.loads(subject_bytes)["config"]["digest"]
            except (SignatureError, ValueError, KeyError, TypeError):
                continue  # the image it is about is not in the archive
            if not isinstance(image_id, str) or not _DIGEST.match(image_id):
                continue
            if not store.attachments_of(image_id) and not _stored(store, image_id):
                continue
            manifest = blob(str(descriptor.get("digest")))
            blobs = _blob_types(manifest, f"{path}: {tag}")
            for digest, _ in blobs:
                if not store.content.has(digest):
                    store.content.ingest_bytes(blob(digest), digest)
            from lamina.oci.models import sniff_media_type

            store.content.ingest_bytes(subject_bytes, subject)
            store.add_manifest(subject, sniff_media_type(subject_bytes), image_id)
            store.content.ingest_bytes(manifest)
            store.add_attachment(image_id, tag, "sha256:" + hashlib.sha256(manifest).hexdigest(), blobs)
            kept.append(tag)
    return kept


def verify_archive(spec: str, keys: list, **options: Any) -> list:
    """``verify --key K docker-archive:X.tar`` (or ``oci-archive:``, ``oci:DIR[:REF]``): offline,
    from the archive's ``.sig`` manifest about its image."""
    from lamina.security.signing.attachments import read_attachments
    from lamina.security.signing.cosign import SIGNATURE_SUFFIX, verify_signatures

    layout, digest = open_layout(spec)
    attachments = read_attachments(layout, "", digest, SIGNATURE_SUFFIX)
    if not attachments:
        raise SignatureError(f"{spec}: no signatures in the archive (no {digest.replace(':', '-')}.sig entry)")
    return verify_signatures(attachments, keys, digest, where=spec, **options)


def verify_archive_attestation(spec: str, keys: list, kind: str | None = None) -> list:
    """``verify-attestation`` of an archive, offline, from its ``.att`` manifest."""
    from lamina.security.signing.attachments import read_attachments
    from lamina.security.signing.attest import ATTESTATION_SUFFIX, predicate_type_for, verify_envelopes

    wanted = predicate_type_for(kind) if kind else None
    layout, digest = open_layout(spec)
    attachments = read_attachments(layout, "", digest, ATTESTATION_SUFFIX)
    if not attachments:
        raise SignatureError(f"{spec}: no attestations in the archive (no {digest.replace(':', '-')}.att entry)")
    return verify_envelopes(attachments, keys, digest, wanted, spec)


def copy_archive_attachments(source: str, destination: str, digest: str) -> list[str]:
    """``copy docker-archive:X.tar|oci-archive:X.tar|oci:DIR REGISTRY/REPO:TAG``: the archive's
    attachments about the copied manifest go along (``cosign load``); returns the tags copied.
    Nothing happens for other pairs, or when the registry got another manifest than the archive's."""
    if not is_archive_spec(source):
        return []
    transport, _, location = destination.partition("://")
    if destination.split(":", 1)[0] in ("docker-archive", "oci-archive", "oci", "store") or \
            (location and transport != "docker"):
        return []
    from lamina.oci.reference import parse_reference
    from lamina.security.signing.attachments import copy_attachments
    from lamina.security.signing.cosign import registry_for

    try:
        layout, archived = open_layout(source)
    except SignatureError:
        return []  # several images, or no OCI layout: nothing to match the copied one with
    if archived != digest or not any(ATTACHMENT_REF.match(_ref_name(d)) for d in layout.index["manifests"]):
        return []
    ref = parse_reference(location or destination)
    with registry_for(ref, None) as client:
        return copy_attachments(layout, "", client, ref.path, digest)


def _stored(store: Store, image_id: str) -> bool:
    from lamina.errors import ImageNotFoundError

    try:
        store.image(image_id)
    except ImageNotFoundError:
        return False
    return True


def _ref_name(descriptor: Any) -> str:
    """An index entry's ``org.opencontainers.image.ref.name`` ('' when absent or malformed)."""
    annotations = descriptor.get("annotations") if isinstance(descriptor, dict) else None
    name = annotations.get(REF_NAME) if isinstance(annotations, dict) else None
    return name if isinstance(name, str) else ""


def is_attachment_descriptor(annotations: dict[str, str] | None) -> bool:
    """Whether an index entry is an attachment (not an image to load)."""
    return bool(annotations) and bool(ATTACHMENT_REF.match(annotations.get(REF_NAME, "")))


class LayoutAttachments:
    """An OCI layout's (directory or tar) attachments behind the registry calls attachments.py makes,
    so ``verify``/``verify-attestation`` read them offline; ``blob`` reads a blob by digest."""

    host = "archive"

    def __init__(self, index: dict[str, Any], blob: Any, where: str) -> None:
        self.index, self.blob, self.where = index, blob, where

    def _find(self, reference: str) -> dict | None:
        for descriptor in self.index.get("manifests", []):
            if _ref_name(descriptor) == reference:
                return descriptor
        return None

    def head_manifest(self, repository: str, reference: str, accept: Any = None) -> Any:
        descriptor = self._find(reference)
        if descriptor is None:
            return None
        return _Info(descriptor["digest"], OCI_MANIFEST, int(descriptor.get("size", 0)))

    def get_manifest(self, repository: str, reference: str, accept: Any = None) -> Any:
        info = self.head_manifest(repository, reference)
        if info is None:
            raise SignatureError(f"{self.where}: no {reference}")
        return _Manifest(self.blob(info.digest), OCI_MANIFEST, info.digest)

    def fetch_blob(self, repository: str, digest: str, sink: Any, *, expected_size: int | None = None) -> int:
        data = self.blob(digest)
        if expected_size is not None and len(data) != expected_size:
            raise SignatureError(f"{self.where}: blob {digest} is {len(data)} bytes, not {expected_size}")
        sink.write(data)
        return len(data)


class _Info(NamedTuple):
    digest: str
    media_type: str
    size: int


class _Manifest(NamedTuple):
    data: bytes
    media_type: str
    digest: str


def open_layout(spec: str) -> tuple[LayoutAttachments, str]:
    """``docker-archive:PATH``, ``oci-archive:PATH`` or ``oci:DIR`` → (its attachments, the digest of the
    image's manifest there: the one index entry that is not an attachment, or the one ``:REF`` names)."""
    index, blob = read_layout(spec)
    ref_name = spec.split(":", 2)[2] if spec.startswith("oci:") and spec.count(":") >= 2 else ""
    images = [d for d in index["manifests"] if not ATTACHMENT_REF.match(_ref_name(d))]
    if ref_name:
        images = [d for d in images if _ref_name(d) == ref_name]
    digests = sorted({str(d.get("digest")) for d in images})
    if len(digests) != 1:
        raise SignatureError(f"{spec}: {len(digests)} images in the archive; name one (oci:DIR:REF)")
    return LayoutAttachments(index, blob, spec), digests[0]


def read_layout(spec: str) -> tuple[dict[str, Any], Any]:
    """An OCI layout's ``index.json`` and a reader of its blobs (checked against their digests)."""
    import hashlib
    import tarfile
    from pathlib import Path

    transport, _, rest = spec.partition(":")
    path = rest.partition(":")[0] if transport == "oci" else rest
    if transport == "oci":
        top = Path(path)

        def read(name: str) -> bytes:
            target = top / name
            if not target.is_file():
                raise SignatureError(f"{spec}: {name} is missing")
            if target.stat().st_size > MAX_ATTACHMENT_BLOB:
                raise SignatureError(f"{spec}: {name} is over {MAX_ATTACHMENT_BLOB} bytes")
            return target.read_bytes()
    elif transport in ("docker-archive", "oci-archive"):
        try:
            tar = tarfile.open(path)
        except (OSError, tarfile.TarError) as exc:
            raise SignatureError(f"{spec}: not a readable archive ({exc})") from None
        try:
            members = {member.name.removeprefix("./"): member for member in tar if member.isfile()}
        except tarfile.TarError as exc:
            raise SignatureError(f"{spec}: not a readable archive ({exc})") from None

        def read(name: str) -> bytes:
            """One member, read when asked (headers only were scanned): layers stay on disk."""
            member = members.get(name)
            if member is None:
                raise SignatureError(f"{spec}: {name} is missing")
            if member.size > MAX_ATTACHMENT_BLOB:
                raise SignatureError(f"{spec}: {name} is over {MAX_ATTACHMENT_BLOB} bytes")
            handle = tar.extractfile(member)
            return handle.read() if handle is not None else b""
    else:
        raise SignatureError(f"{spec}: archive verification reads docker-archive:, oci-archive: or oci:")

    def blob(digest: str) -> bytes:
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise SignatureError(f"{spec}: {digest!r} is not a sha256 digest")
        data = read("blobs/" + digest.replace(":", "/"))
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise SignatureError(f"{spec}: blob {digest} does not match its digest")
        return data

    try:
        index = json.loads(read("index.json"))
    except ValueError:
        raise SignatureError(f"{spec}: index.json is not JSON") from None
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list) \
            or not all(isinstance(d, dict) for d in index["manifests"]):
        raise SignatureError(f"{spec}: index.json has no list of manifests")
    return index, blob


def is_archive_spec(image: str) -> bool:
    return image.split(":", 1)[0] in ("docker-archive", "oci-archive", "oci")


def _blob_digests(manifest: bytes, where: str) -> list[str]:
    return [digest for digest, _ in _blob_types(manifest, where)]


def _blob_types(manifest: bytes, where: str = "attachment") -> list[tuple[str, str]]:
    if len(manifest) > MAX_ATTACHMENT_MANIFEST:
        raise SignatureError(f"{where}: attachment manifest too big")
    try:
        document = json.loads(manifest)
        return [(str(d["digest"]), str(d.get("mediaType", ""))) for d in [document["config"], *document["layers"]]]
    except (ValueError, KeyError, TypeError):
        raise SignatureError(f"{where}: attachment manifest is not an image manifest") from None

