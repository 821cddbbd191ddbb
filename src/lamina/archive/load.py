"""``lamina load``: docker ≤24 archives, Docker 25+ archives, OCI image-layout tars.

The archive is read once, as a stream (stdin works, memory stays flat): every file that can
be content is ingested into the content store as it passes, small metadata files are kept in
memory, and once the stream ends the manifests are resolved and checked. If anything is wrong
the blobs this load added are removed again, so the store is exactly as before.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import BinaryIO

from lamina.archive.ingest import BlobIngest, IngestedBlob, ingest_chunks, layer_media_type
from lamina.errors import ArchiveError, LaminaError, LayerError, ManifestError
from lamina.layer.compression import decompressing_reader, open_decompressed
from lamina.layer.tarread import TarReader
from lamina.layer.validate import check_layer_tar
from lamina.oci import mediatypes as mt
from lamina.oci.digest import is_digest
from lamina.oci.models import decode_json, parse_config, parse_index, parse_manifest, sniff_media_type
from lamina.oci.platform import host_platform
from lamina.oci.reference import parse_reference
from lamina.store.store import LayerRecord, Store

SMALL_FILE = 4 << 20  # metadata files kept in memory (manifest.json, index.json, configs)
SMALL_TOTAL = 64 << 20


@dataclass(slots=True)
class LoadedImage:
    image_id: str
    tags: list[str] = field(default_factory=list)  # familiar references
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (familiar ref, old image ID)


@dataclass(slots=True)
class _Archive:
    blobs: dict[str, IngestedBlob] = field(default_factory=dict)  # archive path → ingested
    small: dict[str, bytes] = field(default_factory=dict)         # archive path → bytes
    small_total: int = 0


def load_archive(store: Store, stream: BinaryIO, *, what: str = "archive") -> list[LoadedImage]:
    reader, _ = open_decompressed(stream)
    archive = _Archive()
    with store.lease():
        try:
            try:
                _read(store, TarReader(reader, what), archive)
            except LayerError as exc:
                detail = str(exc).replace("layer tar", "the archive")
                position = re.search(r"at byte (\d+)", detail)
                if position and int(position.group(1)) < 512:
                    raise ArchiveError(f"{what} is not a tar archive ({detail})") from None
                raise ArchiveError(f"{what}: {detail}") from None
            if "manifest.json" in archive.small:
                return _load_docker(store, archive, what)
            if "index.json" in archive.small:
                return _load_oci_layout(store, archive, what)
            raise ArchiveError(f"{what}: not an image archive (no manifest.json or index.json found)")
        finally:
            # on failure: everything this load added; on success: what no image ended up using
            _discard_new_blobs(store, archive)


def _read(store: Store, reader: TarReader, archive: _Archive) -> None:
    members = 0
    for member in reader:
        members += 1
        if not member.is_regular:
            continue
        path = posixpath.normpath(member.name.lstrip("/")).removeprefix("./")
        expected = _digest_from_path(path)
        if expected is not None or path.endswith("/layer.tar") or member.size > SMALL_FILE:
            with BlobIngest(store.content, expected_digest=expected, expected_size=member.size,
                            what=f"{reader.what}: {path}") as ingest:
                reader.copy_data(ingest.write)
                archive.blobs[path] = ingest.finish()
        else:
            buffer = bytearray()
            reader.copy_data(buffer.extend)
            data = bytes(buffer)
            archive.small_total += len(data)
            if archive.small_total > SMALL_TOTAL:
                raise ArchiveError(f"{reader.what}: too much metadata outside blobs/ (over 64 MiB)")
            archive.small[path] = data
    if not members:
        raise ArchiveError(f"{reader.what} is empty: not a tar archive")


def _digest_from_path(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        digest = f"{parts[1]}:{parts[2]}"
        if not is_digest(digest):
            raise ArchiveError(f"archive member {path!r} is not named by a valid digest")
        return digest
    return None


def _file_bytes(store: Store, archive: _Archive, path: str, what: str) -> bytes:
    path = posixpath.normpath(path.lstrip("/"))
    if path in archive.small:
        return archive.small[path]
    if path in archive.blobs:
        return store.content.read(archive.blobs[path].digest)
    raise ArchiveError(f"{what}: {path} is named in the archive's manifest but missing")


def _blob(store: Store, archive: _Archive, path: str, what: str) -> IngestedBlob:
    path = posixpath.normpath(path.lstrip("/"))
    if path in archive.blobs:
        return archive.blobs[path]
    if path in archive.small:  # a small layer kept in memory: store it now
        data = archive.small.pop(path)
        archive.blobs[path] = ingest_chunks(store.content, [data], what=f"{what}: {path}")
        return archive.blobs[path]
    raise ArchiveError(f"{what}: layer {path} is named in the archive's manifest but missing")


def _load_docker(store: Store, archive: _Archive, what: str) -> list[LoadedImage]:
    try:
        entries = decode_json(archive.small["manifest.json"])
    except Exception as exc:
        raise ArchiveError(f"{what}: manifest.json is not valid JSON ({exc})") from None
    if not isinstance(entries, list):
        raise ArchiveError(f"{what}: manifest.json must be a list")
    planned = []
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ArchiveError(f"{what}: manifest.json entry {number} has no Config")
        config_path = entry["Config"]
        config_bytes = _file_bytes(store, archive, config_path, what)
        config = parse_config(config_bytes, where=f"{what}: {config_path}")
        layer_paths = entry.get("Layers") or []
        if len(layer_paths) != len(config.rootfs.diff_ids):
            raise ManifestError(
                f"{what}: {config_path} names {len(config.rootfs.diff_ids)} layers but manifest.json lists {len(layer_paths)}"
            )
        layers = []
        for layer_path, diff_id in zip(layer_paths, config.rootfs.diff_ids, strict=True):
            blob = _blob(store, archive, layer_path, what)
            layers.append(_layer_record(store, blob, diff_id, f"{what}: {layer_path}"))
        media_type = mt.DOCKER_CONFIG if _docker_only(config_bytes) else mt.OCI_CONFIG
        tags = [str(parse_reference(t)) for t in entry.get("RepoTags") or []]
        planned.append((config_bytes, media_type, layers, tags))
    return [_commit(store, *plan, what=what) for plan in planned]


def _load_oci_layout(store: Store, archive: _Archive, what: str) -> list[LoadedImage]:
    if "oci-layout" in archive.small:
        try:
            version = decode_json(archive.small["oci-layout"]).get("imageLayoutVersion")
        except Exception:
            version = None
        if not version:
            raise ArchiveError(f"{what}: oci-layout has no imageLayoutVersion")
    index = parse_index(archive.small["index.json"], where=f"{what}: index.json")
    results = []
    for descriptor in index.manifests:
        annotations = descriptor.annotations or {}
        name = annotations.get("io.containerd.image.name")
        ref_name = annotations.get("org.opencontainers.image.ref.name", "")
        if not name and (":" in ref_name or "/" in ref_name):
            name = ref_name  # a full reference; a bare "latest" is only a tag and names no repository
        tags = []
        if name:
            try:
                ref = parse_reference(name)
                if ref.tag is not None:
                    tags.append(str(ref))
            except LaminaError:
                pass  # a bare tag such as "latest" names no repository: load untagged
        manifest_digest, manifest_bytes = _choose_manifest(store, archive, descriptor.digest, what)
        manifest = parse_manifest(manifest_bytes, where=f"{what}: manifest {manifest_digest}")
        config_bytes = _blob_bytes(store, archive, manifest.config.digest, what)
        config = parse_config(config_bytes, where=f"{what}: config {manifest.config.digest}")
        if len(manifest.layers) != len(config.rootfs.diff_ids):
            raise ManifestError(f"{what}: manifest {manifest_digest} and its config disagree on the number of layers")
        layers = []
        for descriptor_layer, diff_id in zip(manifest.layers, config.rootfs.diff_ids, strict=True):
            blob = archive.blobs.get("blobs/" + descriptor_layer.digest.replace(":", "/"))
            if blob is None:
                raise ArchiveError(f"{what}: layer {descriptor_layer.digest} is named but missing from the archive")
            layers.append(_layer_record(store, blob, diff_id, f"{what}: layer {descriptor_layer.digest}"))
        loaded = _commit(store, config_bytes, manifest.config.mediaType, layers, tags, what=what)
        store.add_manifest(manifest_digest, sniff_media_type(manifest_bytes), loaded.image_id)
        results.append(loaded)
    return results


def _blob_bytes(store: Store, archive: _Archive, digest: str, what: str) -> bytes:
    path = "blobs/" + digest.replace(":", "/")
    if path not in archive.blobs:
        raise ArchiveError(f"{what}: blob {digest} is named but missing from the archive")
    return store.content.read(archive.blobs[path].digest)


def _choose_manifest(store: Store, archive: _Archive, digest: str, what: str) -> tuple[str, bytes]:
    """Follow nested indexes down to this machine's platform (or the only/first manifest)."""
    for _ in range(8):
        data = _blob_bytes(store, archive, digest, what)
        media_type = sniff_media_type(data)
        if media_type not in mt.INDEXES:
            return digest, data
        index = parse_index(data, where=f"{what}: index {digest}")
        if not index.manifests:
            raise ManifestError(f"{what}: index {digest} lists no manifests")
        host = host_platform()
        candidates = [
            d for d in index.manifests
            if d.platform is not None and host.matches(d.platform.os, d.platform.architecture, d.platform.variant or "")
        ]
        digest = (candidates or index.manifests)[0].digest
    raise ManifestError(f"{what}: indexes nested too deeply")


def _layer_record(store: Store, blob: IngestedBlob, diff_id: str, what: str) -> LayerRecord:
    """Check a layer against its diffID and, if it is new to the store, for unsafe paths."""
    if blob.diff_id != diff_id:
        raise ManifestError(f"{what}: layer content hashes to {blob.diff_id}, but the image config expects {diff_id}")
    size = blob.diff_size
    if blob.created:
        with store.content.open(blob.digest) as stored:
            size = check_layer_tar(decompressing_reader(stored, blob.compression), what).content_size
    return LayerRecord(diff_id, blob.digest, layer_media_type(blob.compression), blob.size, size)


def _docker_only(config_bytes: bytes) -> bool:
    """Whether a config uses fields only Docker's config media type defines."""
    config = decode_json(config_bytes).get("config") or {}
    return any(config.get(key) for key in ("Healthcheck", "Shell", "OnBuild"))


def _commit(store: Store, config_bytes: bytes, media_type: str, layers: list[LayerRecord], tags: list[str],
            *, what: str) -> LoadedImage:
    refs = [parse_reference(tag) for tag in tags]
    replaced: list = []
    image_id = store.add_image(config_bytes, media_type, layers, tags=refs, replaced=replaced)
    return LoadedImage(image_id, [ref.familiar for ref in refs], [(ref.familiar, old) for ref, old in replaced])


def _discard_new_blobs(store: Store, archive: _Archive) -> None:
    referenced = {r[0] for r in store.meta.query("SELECT blob_digest FROM layers")}
    referenced |= {r[0] for r in store.meta.query("SELECT id FROM images")}
    referenced |= {r[0] for r in store.meta.query("SELECT digest FROM manifests")}
    for blob in archive.blobs.values():
        if blob.created and blob.digest not in referenced:
            store.content.delete(blob.digest)
