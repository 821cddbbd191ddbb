"""``docker-archive:PATH[:REF]``: one image of a ``docker save`` archive, read in place.

``manifest.json`` says which config and layer files make each image. The manifest given for
the image is the archive's own when it carries one that matches (Docker 25+ and ``lamina
save`` write an OCI layout beside manifest.json); else a Docker v2 schema 2 manifest is made
for it, as skopeo does: an uncompressed layer's digest is its diffID, a compressed one's is
hashed once here.
"""

from __future__ import annotations

from functools import partial

from lamina.errors import ArchiveError, LaminaError, ManifestError
from lamina.image.blobs import BlobLayer
from lamina.image.source import DOCUMENT_MAX, SourceImage, oci_manifest
from lamina.image.tarindex import ArchiveMembers
from lamina.layer.compression import detect_compression
from lamina.oci import mediatypes as mt
from lamina.oci.digest import Hasher, is_digest, sha256_digest
from lamina.oci.models import decode_json, parse_config, parse_index, parse_manifest
from lamina.oci.reference import parse_reference


def open_docker_archive(path: str, ref: str | None, spec: str) -> SourceImage:
    members = ArchiveMembers(path, spec)
    if members.find("manifest.json") is None:
        raise ArchiveError(f"{spec}: not a docker archive (no manifest.json)")
    entries = _json(members.read("manifest.json", DOCUMENT_MAX), f"{spec}: manifest.json")
    if not isinstance(entries, list) or not entries:
        raise ArchiveError(f"{spec}: manifest.json lists no images")
    entry = _choose_entry(entries, ref, spec)
    if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
        raise ArchiveError(f"{spec}: manifest.json entry has no Config")
    layer_paths = entry.get("Layers") or []
    if not isinstance(layer_paths, list) or not all(isinstance(p, str) for p in layer_paths):
        raise ArchiveError(f"{spec}: manifest.json Layers must be a list of strings")
    config_bytes = members.read(entry["Config"], DOCUMENT_MAX)
    config = parse_config(config_bytes, where=f"{spec}: {entry['Config']}")
    if len(layer_paths) != len(config.rootfs.diff_ids):
        raise ManifestError(f"{spec}: {entry['Config']} names {len(config.rootfs.diff_ids)} layers but "
                            f"manifest.json lists {len(layer_paths)}")
    layers = [_layer(members, layer_path, diff_id, spec)
              for layer_path, diff_id in zip(layer_paths, config.rootfs.diff_ids, strict=True)]
    manifest = _archived_manifest(members, config_bytes, layers, spec)
    if manifest is not None:
        manifest_bytes, media_type = manifest
        for layer, descriptor in zip(layers, parse_manifest(manifest_bytes, where=spec).layers, strict=True):
            layer.media_type = descriptor.mediaType
    else:
        media_type = mt.DOCKER_MANIFEST
        manifest_bytes = oci_manifest(config_bytes, [(layer.media_type, layer.digest, layer.size) for layer in layers],
                                      config_media_type=mt.DOCKER_CONFIG, media_type=mt.DOCKER_MANIFEST)
    return SourceImage(spec, manifest_bytes, media_type, config_bytes, layers)


def _choose_entry(entries: list, ref: str | None, spec: str) -> object:
    """The entry ``ref`` names (a RepoTag, or ``@N``: the Nth), or the only one."""
    if ref is None:
        if len(entries) > 1:
            raise ArchiveError(f"{spec}: the archive holds {len(entries)} images; name one as "
                               "docker-archive:PATH:REF or docker-archive:PATH:@N")
        return entries[0]
    if ref.startswith("@"):
        try:
            number = int(ref[1:])
            if number < 0:
                raise IndexError(number)
            return entries[number]
        except (ValueError, IndexError):
            raise ArchiveError(f"{spec}: no image number {ref[1:]} in the archive ({len(entries)} images)") from None
    try:
        wanted = parse_reference(ref).familiar
    except LaminaError as exc:
        raise ArchiveError(f"{spec}: {exc}") from None
    for entry in entries:
        tags = entry.get("RepoTags") if isinstance(entry, dict) else None
        for tag in tags or []:
            try:
                if isinstance(tag, str) and parse_reference(tag).familiar == wanted:
                    return entry
            except LaminaError:
                continue
    raise ArchiveError(f"{spec}: no image tagged {wanted} in the archive")


def _layer(members: ArchiveMembers, layer_path: str, diff_id: str, spec: str) -> BlobLayer:
    resolved = members.find(layer_path)
    if resolved is None:
        raise ArchiveError(f"{spec}: layer {layer_path} is named in manifest.json but missing")
    size = members.size(resolved)
    with members.open(resolved) as head:
        compression = detect_compression(head.read(6))
    if compression not in ("", "gzip", "zstd"):
        raise ArchiveError(f"{spec}: layer {layer_path} is {compression}-compressed, which images cannot be")
    digest = _digest_from_path(resolved)
    if digest is None:
        digest = diff_id if not compression else _hash_member(members, resolved)
    media_type = mt.docker_layer_type(compression)
    return BlobLayer(digest=digest, diff_id=diff_id, media_type=media_type, size=size,
                     opener=partial(members.open, resolved), what=f"{spec}: layer {layer_path}")


def _digest_from_path(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "blobs" and is_digest(f"{parts[1]}:{parts[2]}"):
        return f"{parts[1]}:{parts[2]}"
    return None


def _hash_member(members: ArchiveMembers, path: str) -> str:
    hasher = Hasher()
    with members.open(path) as member:
        while chunk := member.read(1 << 20):
            hasher.update(chunk)
    return hasher.digest


def _archived_manifest(members: ArchiveMembers, config_bytes: bytes, layers: list[BlobLayer],
                       spec: str) -> tuple[bytes, str] | None:
    """The archive's own manifest for this config and these layer blobs, if it has one."""
    if members.find("index.json") is None:
        return None
    try:
        index = parse_index(members.read("index.json", DOCUMENT_MAX), where=f"{spec}: index.json")
    except ManifestError:
        return None  # manifest.json is what docker-archive readers go by
    config_digest = sha256_digest(config_bytes)
    wanted = [(layer.digest, layer.size, layer.compression) for layer in layers]
    for descriptor in index.manifests:
        if descriptor.mediaType not in mt.IMAGE_MANIFESTS:
            continue
        path = "blobs/" + descriptor.digest.replace(":", "/")
        if members.find(path) is None or members.size(path) > DOCUMENT_MAX:
            continue
        data = members.read(path, DOCUMENT_MAX)
        if sha256_digest(data) != descriptor.digest:
            continue
        try:
            manifest = parse_manifest(data)
        except ManifestError:
            continue
        listed = [(d.digest, d.size, mt.LAYER_COMPRESSION.get(d.mediaType)) for d in manifest.layers]
        if manifest.config.digest == config_digest and listed == wanted:
            return data, descriptor.mediaType
    return None


def _json(data: bytes, where: str):
    try:
        return decode_json(data)
    except (ValueError, RecursionError) as exc:
        raise ArchiveError(f"{where}: not valid JSON ({exc})") from None
