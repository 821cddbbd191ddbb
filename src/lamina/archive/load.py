"""``lamina load``: docker ≤24 archives, Docker 25+ archives, OCI image-layout tars.

The archive is read once, as a stream (stdin works, memory stays flat): every file that can
be content is ingested into the content store as it passes, small metadata files are kept in
memory, and once the stream ends the manifests are resolved and checked. If anything is wrong
the blobs this load added are removed again, so the store is exactly as before.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

from lamina.archive.ingest import BlobIngest, IngestedBlob, ingest_chunks, layer_media_type
from lamina.errors import ArchiveError, LaminaError, LayerError, ManifestError
from lamina.layer.compression import decompressing_reader, open_decompressed
from lamina.layer.tarread import TarReader
from lamina.layer.validate import check_layer_tar
from lamina.oci import mediatypes as mt
from lamina.oci.digest import is_digest
from lamina.oci.models import (
    Descriptor,
    decode_json,
    parse_config,
    parse_index,
    parse_manifest,
    sniff_media_type,
)
from lamina.oci.platform import host_platform
from lamina.oci.reference import parse_reference
from lamina.store.store import LayerRecord, Store

T = TypeVar("T")

SMALL_FILE = 4 << 20  # metadata files kept in memory (manifest.json, index.json, configs)
SMALL_TOTAL = 64 << 20
#: What each small file costs against SMALL_TOTAL besides its bytes, so that a million empty
#: members (a dict entry each) are refused like 64 MiB of metadata would be.
SMALL_OVERHEAD = 512
#: Largest manifest, index or config read into memory (a manifest could name a 10 GiB layer as
#: its Config).
DOCUMENT_MAX = SMALL_TOTAL


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
    # blobs ingested for a path that a later member of the same name replaced: still this
    # load's to remove (a duplicate member must not leave an orphan blob behind)
    shadowed: list[IngestedBlob] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)  # archive path → archive path it names
    # digests this load put in the store (whichever path brought them first), and the layer
    # check's result for those checked so far
    fresh: set[str] = field(default_factory=set)
    checked: dict[str, int] = field(default_factory=dict)
    # a partial OCI layout (``lamina image scp``): a layer the archive leaves out is taken from
    # the store, but only one an image row there already records with this diffID and size
    stored_layers: bool = False

    def ingested(self, path: str, blob: IngestedBlob) -> IngestedBlob:
        _forget(self, path)
        self.blobs[path] = blob
        if blob.created:
            self.fresh.add(blob.digest)
        return blob


def load_archive(store: Store, stream: BinaryIO, *, what: str = "archive",
                 stored_layers: bool = False) -> list[LoadedImage]:
    """Load every image of the archive. ``stored_layers``: an OCI layout may leave out layer
    blobs the store already holds as checked layers (see :func:`_stored_layer`)."""
    reader, _ = open_decompressed(stream, what=what)
    archive = _Archive(stored_layers=stored_layers)
    with store.lease():
        try:
            try:
                _read(store, TarReader(reader, what), archive)
            except LayerError as exc:
                detail = str(exc).replace("layer tar", "the archive")
                position = re.search(r"at byte (\d+)", detail)
                if position and int(position.group(1)) < 512:
                    raise ArchiveError(f"{what} is not a tar archive ({detail})") from None
                if detail.startswith(what):
                    raise ArchiveError(detail) from None
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
        if member.type in (b"1", b"2"):  # a hard link or symlink to another member
            path = _member_path(member.name, reader.what)
            _forget(archive, path)
            base = "/" if member.type == b"1" else posixpath.dirname("/" + path)
            archive.links[path] = posixpath.join(base, member.linkname)
            continue
        if not member.is_regular:
            continue
        path = _member_path(member.name, reader.what)
        expected = _digest_from_path(path, reader.what)
        if expected is not None or path.endswith("/layer.tar") or member.size > SMALL_FILE:
            with BlobIngest(store.content, expected_digest=expected, expected_size=member.size,
                            what=f"{reader.what}: {path}") as ingest:
                reader.copy_data(ingest.write)
                archive.ingested(path, ingest.finish())
        else:
            buffer = bytearray()
            reader.copy_data(buffer.extend)
            data = bytes(buffer)
            archive.small_total += len(data) + SMALL_OVERHEAD
            if archive.small_total > SMALL_TOTAL:
                raise ArchiveError(f"{reader.what}: too much metadata outside blobs/ (over 64 MiB)")
            _forget(archive, path)
            archive.small[path] = data
    if not members:
        raise ArchiveError(f"{reader.what} is empty: not a tar archive")


def _member_path(name: str, what: str) -> str:
    """An archive member's path, cleaned; one that climbs out of the archive is refused.

    Docker extracts the archive before reading it and refuses such members as a breakout;
    taking ``../x`` as ``x`` instead would let a member shadow another under a name the
    manifest never used.
    """
    path = posixpath.normpath(name.lstrip("/")).removeprefix("./")
    if path == ".." or path.startswith("../"):
        raise ArchiveError(f"{what}: member {name!r} points outside the archive")
    return path


def _forget(archive: _Archive, path: str) -> None:
    """A later member of the same path wins (as extracting would); drop the earlier one.

    The earlier one's blob, if this load created it, is kept on ``shadowed`` so that the
    final clean-up still removes it (else every duplicate left an orphan blob in the store).
    """
    archive.small.pop(path, None)
    archive.links.pop(path, None)
    earlier = archive.blobs.pop(path, None)
    if earlier is not None:
        archive.shadowed.append(earlier)


def _resolve(archive: _Archive, path: str, what: str) -> str:
    """The archive member a manifest's path names, following links between members.

    docker ≤24 saves a layer shared by two images once and makes the second ``<id>/layer.tar``
    a symlink (``../<other id>/layer.tar``). Links are resolved among the archive's members
    only, with the archive's root as ``/`` (as docker's scoped lookup does: an absolute or
    climbing target stays inside), never on the file system; what they lead to is checked
    like any member (digest, diffID).
    """
    path = posixpath.normpath("/" + path).lstrip("/")
    if not archive.links:
        return path
    for _ in range(_MAX_LINK_HOPS):
        parts = path.split("/")
        for end in range(1, len(parts) + 1):
            prefix = "/".join(parts[:end])
            target = archive.links.get(prefix)
            if target is not None:
                rest = "/".join(parts[end:])
                path = posixpath.normpath("/" + posixpath.join(target, rest)).lstrip("/")
                break
        else:
            return path
    raise ArchiveError(f"{what}: too many levels of links at {path!r} in the archive")


_MAX_LINK_HOPS = 40


def _digest_from_path(path: str, what: str) -> str | None:
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        digest = f"{parts[1]}:{parts[2]}"
        if not is_digest(digest):
            raise ArchiveError(f"{what}: archive member {path!r} is not named by a valid digest")
        return digest
    return None


def _file_bytes(store: Store, archive: _Archive, name: str, what: str) -> bytes:
    path = _resolve(archive, name, what)
    if path in archive.small:
        return archive.small[path]
    if path in archive.blobs:
        return _read_document(store, archive.blobs[path], f"{what}: {path}")
    raise ArchiveError(f"{what}: {_named(name, path)} is named in the archive's manifest but missing")


def _named(name: str, path: str) -> str:
    """How an error names a manifest's path: as written, and where links led it if elsewhere."""
    written = posixpath.normpath("/" + name).lstrip("/")
    return name if written == path else f"{name} (a link to {path})"


def _read_document(store: Store, blob: IngestedBlob, what: str) -> bytes:
    """A manifest, index or config from the store, refusing one too large to be metadata."""
    if blob.size > DOCUMENT_MAX:
        raise ArchiveError(f"{what}: {blob.size} bytes is too large for an image manifest or config")
    return store.content.read(blob.digest)


def _blob(store: Store, archive: _Archive, name: str, what: str) -> IngestedBlob:
    path = _resolve(archive, name, what)
    if path in archive.blobs:
        return archive.blobs[path]
    if path in archive.small:  # a small layer kept in memory: store it now
        data = archive.small.pop(path)
        return archive.ingested(path, ingest_chunks(store.content, [data], what=f"{what}: {path}"))
    raise ArchiveError(f"{what}: layer {_named(name, path)} is named in the archive's manifest but missing")


def _json(data: bytes, where: str) -> Any:
    """Decode a JSON document fully (not only the fields a model reads), or ManifestError.

    Why: msgspec raises RecursionError for deep nesting and its typed decoders skip unknown
    fields without checking their UTF-8, which a later plain decode then chokes on; both
    ended ``load`` in a traceback.
    """
    try:
        return decode_json(data)
    except (ValueError, RecursionError) as exc:  # msgspec.DecodeError is a ValueError
        raise ManifestError(f"{where}: not valid JSON ({exc})") from None


def _parse(parse: Callable[..., T], data: bytes, where: str) -> tuple[T, Any]:
    """``parse(data)`` for a document that is valid JSON through and through; also its raw form."""
    document = _json(data, where)
    try:
        return parse(data, where=where), document
    except RecursionError:
        raise ManifestError(f"{where}: nested too deeply") from None


def _strings(entry: dict, key: str, where: str) -> list[str]:
    """A manifest.json field that must be a list of strings (or absent/null)."""
    value = entry.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ArchiveError(f"{where}: {key} must be a list of strings")
    return value


def _tags(names: list[str], where: str) -> list[str]:
    """RepoTags as references, each checked now: an archive is refused before anything of it
    is committed (a digest reference used to fail only at commit, after earlier images)."""
    tags = []
    for name in names:
        try:
            ref = parse_reference(name)
        except LaminaError as exc:
            raise ArchiveError(f"{where}: RepoTags {name!r}: {exc}") from None
        if ref.tag is None:
            raise ArchiveError(f"{where}: RepoTags {name!r} is not a tag (a digest cannot be a tag)")
        tags.append(str(ref))
    return tags


def _load_docker(store: Store, archive: _Archive, what: str) -> list[LoadedImage]:
    entries = _json(archive.small["manifest.json"], f"{what}: manifest.json")
    if not isinstance(entries, list):
        raise ArchiveError(f"{what}: manifest.json must be a list")
    if not entries:
        raise ArchiveError(f"{what}: manifest.json lists no images")
    planned = []
    for number, entry in enumerate(entries):
        where = f"{what}: manifest.json entry {number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ArchiveError(f"{where} has no Config")
        config_path = entry["Config"]
        layer_paths = _strings(entry, "Layers", where)
        tags = _tags(_strings(entry, "RepoTags", where), where)
        config_bytes = _file_bytes(store, archive, config_path, what)
        config, document = _parse(parse_config, config_bytes, f"{what}: {config_path}")
        if len(layer_paths) != len(config.rootfs.diff_ids):
            raise ManifestError(
                f"{what}: {config_path} names {len(config.rootfs.diff_ids)} layers but manifest.json lists {len(layer_paths)}"
            )
        layers = []
        for layer_path, diff_id in zip(layer_paths, config.rootfs.diff_ids, strict=True):
            blob = _blob(store, archive, layer_path, what)
            layers.append(_layer_record(store, archive, blob, diff_id, f"{what}: {layer_path}"))
        media_type = mt.DOCKER_CONFIG if _docker_only(document) else mt.OCI_CONFIG
        planned.append((config_bytes, media_type, layers, tags))
    return [_commit(store, archive, *plan, what=what) for plan in planned]


_ATTACHMENT_REF = re.compile(r"^sha256-[0-9a-f]{64}\.(sig|att|sbom)$")
"""cosign's tag for an image's attachments, as OCI layouts name them (``cosign save``)."""


def _load_oci_layout(store: Store, archive: _Archive, what: str) -> list[LoadedImage]:
    if "oci-layout" in archive.small:
        try:
            version = decode_json(archive.small["oci-layout"]).get("imageLayoutVersion")
        except Exception:
            version = None
        if not version:
            raise ArchiveError(f"{what}: oci-layout has no imageLayoutVersion")
    index, _ = _parse(parse_index, archive.small["index.json"], f"{what}: index.json")
    if not index.manifests:
        raise ArchiveError(f"{what}: index.json lists no images")
    # Everything is checked before anything is committed: an archive whose second image is bad
    # must not leave its first one (and that one's tags) in the store.
    planned = []
    for descriptor in index.manifests:
        annotations = descriptor.annotations or {}
        name = annotations.get("io.containerd.image.name")
        ref_name = annotations.get("org.opencontainers.image.ref.name", "")
        if _ATTACHMENT_REF.match(ref_name):
            continue  # cosign's signature/attestation manifest about an image, not an image
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
        manifest_digest, manifest_bytes = _choose_manifest(store, archive, descriptor, what)
        where = f"{what}: manifest {manifest_digest}"
        manifest, _ = _parse(parse_manifest, manifest_bytes, where)
        config_bytes = _blob_bytes(store, archive, manifest.config, what)
        config, _ = _parse(parse_config, config_bytes, f"{what}: config {manifest.config.digest}")
        if len(manifest.layers) != len(config.rootfs.diff_ids):
            raise ManifestError(f"{where} and its config disagree on the number of layers")
        layers = []
        for descriptor_layer, diff_id in zip(manifest.layers, config.rootfs.diff_ids, strict=True):
            blob = _stored_layer(store, archive, descriptor_layer, diff_id, what) \
                or _described_blob(archive, descriptor_layer, what)
            layers.append(_layer_record(store, archive, blob, diff_id, f"{what}: layer {descriptor_layer.digest}"))
        media_type = sniff_media_type(manifest_bytes)
        planned.append((config_bytes, manifest.config.mediaType, layers, tags, manifest_digest, media_type))
    results = []
    for config_bytes, config_type, layers, tags, manifest_digest, media_type in planned:
        loaded = _commit(store, archive, config_bytes, config_type, layers, tags, what=what)
        store.add_manifest(manifest_digest, media_type, loaded.image_id)
        results.append(loaded)
    return results


def _described_blob(archive: _Archive, descriptor: Descriptor, what: str) -> IngestedBlob:
    """The blob a descriptor names, which must also have the size the descriptor says.

    The digest is checked when the blob is read (its path names it); the size is the
    descriptor's other promise, and a manifest that misstates it is corrupt (registries and
    docker refuse it too).
    """
    blob = archive.blobs.get(_resolve(archive, "blobs/" + descriptor.digest.replace(":", "/"), what))
    if blob is None:
        raise ArchiveError(f"{what}: blob {descriptor.digest} is named but missing from the archive")
    if blob.digest != descriptor.digest:  # reached through a link to another blob
        raise ManifestError(f"{what}: blob {descriptor.digest} links to a blob with other content ({blob.digest})")
    if blob.size != descriptor.size:
        raise ManifestError(
            f"{what}: blob {descriptor.digest} is {blob.size} bytes but its descriptor says {descriptor.size}")
    return blob


def _stored_layer(store: Store, archive: _Archive, descriptor: Descriptor, diff_id: str, what: str) -> IngestedBlob | None:
    """In a partial load, the store's own copy of a layer the archive leaves out.

    Taken only when a layer row already records exactly this blob for this diffID (so it was
    checked when it was stored) and the blob file is there with the descriptor's size (blob
    files are named by their verified digest); anything less is the usual missing-blob error,
    so a partial archive can never make an image whose layers are not all present.
    """
    if not archive.stored_layers or _resolve(archive, "blobs/" + descriptor.digest.replace(":", "/"), what) in archive.blobs:
        return None
    row = store.layer_of_blob(descriptor.digest, diff_id)
    if row is None or row.blob_size != descriptor.size:
        return None
    try:
        if store.content.size(descriptor.digest) != descriptor.size:
            return None
    except (OSError, ValueError):
        return None
    try:
        compression = mt.layer_compression(row.media_type)
    except KeyError:
        return None
    return IngestedBlob(descriptor.digest, descriptor.size, compression, diff_id, row.diff_size, False)


def _blob_bytes(store: Store, archive: _Archive, descriptor: Descriptor, what: str) -> bytes:
    blob = _described_blob(archive, descriptor, what)
    return _read_document(store, blob, f"{what}: blob {descriptor.digest}")


def _choose_manifest(store: Store, archive: _Archive, descriptor: Descriptor, what: str) -> tuple[str, bytes]:
    """Follow nested indexes down to this machine's platform (or the only/first manifest)."""
    for _ in range(8):
        data = _blob_bytes(store, archive, descriptor, what)
        _json(data, f"{what}: blob {descriptor.digest}")
        where = f"{what}: index {descriptor.digest}"
        try:
            media_type = sniff_media_type(data)
        except ManifestError as exc:
            raise ManifestError(f"{what}: blob {descriptor.digest}: {exc}") from None
        if media_type not in mt.INDEXES:
            return descriptor.digest, data
        index, _ = _parse(parse_index, data, where)
        if not index.manifests:
            raise ManifestError(f"{where} lists no manifests")
        host = host_platform()
        candidates = [
            d for d in index.manifests
            if d.platform is not None and host.matches(d.platform.os, d.platform.architecture, d.platform.variant or "")
        ]
        descriptor = (candidates or index.manifests)[0]
    raise ManifestError(f"{what}: indexes nested too deeply")


def _layer_record(store: Store, archive: _Archive, blob: IngestedBlob, diff_id: str, what: str) -> LayerRecord:
    """Check a layer against its diffID and, if it is new to the store, for unsafe paths.

    "New" is judged by digest, not by the ingest of this one path: the same bytes under a
    second path ingest as already present (``created`` False), which used to let a hostile
    layer skip the check. Nor does "already in the store" mean "checked": a blob that a killed
    ``load`` committed before its check is there, named by no layer row, and is checked now.
    Each new digest is scanned once, however often manifests list it.
    """
    if blob.diff_id != diff_id:
        raise ManifestError(f"{what}: layer content hashes to {blob.diff_id}, but the image config expects {diff_id}")
    size = blob.diff_size
    if blob.digest in archive.fresh or not _recorded_layer(store, blob.digest):
        size = archive.checked.get(blob.digest, -1)
        if size < 0:
            with store.content.open(blob.digest) as stored:
                reader = decompressing_reader(stored, blob.compression, what=what)
                size = archive.checked[blob.digest] = check_layer_tar(reader, what).content_size
    return LayerRecord(diff_id, blob.digest, layer_media_type(blob.compression), blob.size, size)


def _recorded_layer(store: Store, blob_digest: str) -> bool:
    """Whether an image's layer row names the blob (so it was checked when it was recorded)."""
    return store.layer_of_blob(blob_digest) is not None


def _docker_only(document: dict) -> bool:
    """Whether a config (decoded) uses fields only Docker's config media type defines."""
    config = document.get("config") or {}
    return any(config.get(key) for key in ("Healthcheck", "Shell", "OnBuild"))


def _commit(store: Store, archive: _Archive, config_bytes: bytes, media_type: str, layers: list[LayerRecord],
            tags: list[str], *, what: str) -> LoadedImage:
    # The config blob is stored here, tracked like the archive's blobs, so that if recording the
    # image fails it is removed again instead of staying behind as an orphan.
    config = ingest_chunks(store.content, [config_bytes], detect=False, what=f"{what}: image config")
    archive.shadowed.append(config)
    refs = [parse_reference(tag) for tag in tags]
    replaced: list = []
    image_id = store.add_image(config_bytes, media_type, layers, tags=refs, replaced=replaced)
    return LoadedImage(image_id, [ref.familiar for ref in refs], [(ref.familiar, old) for ref, old in replaced])


def _discard_new_blobs(store: Store, archive: _Archive) -> None:
    store.discard_unrecorded(blob.digest for blob in [*archive.blobs.values(), *archive.shadowed] if blob.created)
