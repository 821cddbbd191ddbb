"""Local manifest lists (``lamina manifest create/add/annotate/rm``), kept in the store.

A list is a tag whose ``target_digest`` names an index blob in the content store, the same
shape a pulled multi-platform image has, so ``push`` sends it whole (registry/push.py
``push_index``). Every child is a stored image: its manifest is made here as ``push`` would
make it (gzip layers, kept next to the plain tars), so the index's digests are the ones the
registry will see. The tag itself points at the child of this machine's platform (else the
first), so ``run``/``inspect`` of the list's name still find an image.
"""

from __future__ import annotations

from lamina.errors import ImageNotFoundError, ManifestError
from lamina.oci import mediatypes as mt
from lamina.oci.digest import sha256_digest
from lamina.oci.models import Descriptor, Index, Platform, encode, parse_config, parse_index
from lamina.oci.platform import host_platform
from lamina.oci.reference import Reference, parse_reference
from lamina.store.store import Store

MAX_CHILDREN = 1000  # bounded work for a list built from a script gone wrong


def list_reference(name: str) -> Reference:
    """The list's name as a tag (``:latest`` when none is given)."""
    ref = parse_reference(name)
    if ref.tag is None:
        raise ManifestError(f"{name}: a manifest list is named by a tag, not a digest")
    return ref


def local_index(store: Store, name: str) -> tuple[str, Index] | None:
    """(digest, index) of the local list (or pulled multi-platform image) ``name``; None if there is none."""
    ref = list_reference(name)
    digest = store.tag_target(ref)
    if not digest or not store.content.has(digest):
        return None
    return digest, parse_index(store.content.read(digest), where=f"{ref.familiar} ({digest})")


def create(store: Store, name: str, images: list[str], *, amend: bool = False) -> str:
    """``manifest create``: a list of ``images`` (stored images); the index digest."""
    ref = list_reference(name)
    existing = local_index(store, name)
    if existing is not None and not amend:
        raise ManifestError(f"refusing to amend an existing manifest list with no --amend flag: {ref.familiar}")
    descriptors = list(existing[1].manifests) if existing else []
    for image in images:
        descriptors = _with_child(descriptors, _child_descriptor(store, image))
    return _save(store, ref, descriptors)


def add(store: Store, name: str, image: str, *, os: str = "", arch: str = "", variant: str = "",
        annotations: dict[str, str] | None = None) -> str:
    """``manifest add`` (podman's): one more stored image in an existing list; the index digest."""
    ref = list_reference(name)
    digest_index = _require(store, name)
    child = _annotated(_child_descriptor(store, image), os=os, arch=arch, variant=variant, annotations=annotations)
    return _save(store, ref, _with_child(list(digest_index[1].manifests), child))


def annotate(store: Store, name: str, image: str, *, os: str = "", arch: str = "", variant: str = "",
             os_features: list[str] | None = None, annotations: dict[str, str] | None = None) -> str:
    """``manifest annotate``: change the platform (or annotations) the list states for ``image``."""
    ref = list_reference(name)
    _, index = _require(store, name)
    target = _find_child(store, index, image, ref)
    changed = [_annotated(d, os=os, arch=arch, variant=variant, os_features=os_features, annotations=annotations)
               if d.digest == target.digest else d for d in index.manifests]
    return _save(store, ref, changed)


def remove(store: Store, name: str) -> None:
    """``manifest rm``: forget the list; the images in it stay."""
    ref = list_reference(name)
    if local_index(store, name) is None:
        raise ImageNotFoundError(f"No such manifest: {ref.familiar}")
    store.untag(ref)


def _require(store: Store, name: str) -> tuple[str, Index]:
    found = local_index(store, name)
    if found is None:
        raise ImageNotFoundError(f"No such manifest: {list_reference(name).familiar}")
    return found


def _child_descriptor(store: Store, image: str) -> Descriptor:
    """The descriptor of ``image``'s manifest as push makes it; the manifest is kept in the store."""
    from lamina.registry.push import _manifest_for  # the manifest push sends, so the digests match

    image_id = store.resolve(image)
    manifest_bytes, media_type, _, config_bytes = _manifest_for(store, image_id, "gzip", None, False)
    config_digest = sha256_digest(config_bytes)
    if not store.content.has(config_digest):
        store.content.ingest_bytes(config_bytes, config_digest)
    digest = sha256_digest(manifest_bytes)
    store.content.ingest_bytes(manifest_bytes, digest)
    config = parse_config(config_bytes, where=f"{image} config")
    platform = Platform(architecture=config.architecture or "amd64", os=config.os or "linux",
                        variant=getattr(config, "variant", None) or None,
                        os_version=getattr(config, "os_version", None) or None)
    store.add_manifest(digest, media_type, image_id, platform=_platform_text(platform))
    return Descriptor(mediaType=media_type, digest=digest, size=len(manifest_bytes), platform=platform)


def _with_child(descriptors: list[Descriptor], child: Descriptor) -> list[Descriptor]:
    """``descriptors`` with ``child`` added, replacing an entry of the same digest (as docker --amend)."""
    kept = [d for d in descriptors if d.digest != child.digest]
    if len(kept) >= MAX_CHILDREN:
        raise ManifestError(f"a manifest list holds at most {MAX_CHILDREN} manifests")
    return [*kept, child]


def _find_child(store: Store, index: Index, image: str, ref: Reference) -> Descriptor:
    """The entry of ``index`` for ``image``: a manifest digest, or a stored image's name or ID."""
    for descriptor in index.manifests:
        if descriptor.digest == image:
            return descriptor
    image_id = store.resolve(image)
    for descriptor in index.manifests:
        if store.manifest_image(descriptor.digest) == image_id:
            return descriptor
    raise ManifestError(f"manifest for image {image} does not exist in {ref.familiar}")


def _annotated(descriptor: Descriptor, *, os: str = "", arch: str = "", variant: str = "",
               os_features: list[str] | None = None, annotations: dict[str, str] | None = None) -> Descriptor:
    old = descriptor.platform or Platform(architecture="amd64", os="linux")
    platform = Platform(architecture=arch or old.architecture, os=os or old.os,
                        variant=variant or old.variant, os_version=old.os_version,
                        os_features=list(os_features) if os_features else old.os_features)
    merged = {**(descriptor.annotations or {}), **(annotations or {})} or None
    return Descriptor(mediaType=descriptor.mediaType, digest=descriptor.digest, size=descriptor.size,
                      platform=platform, annotations=merged)


def _save(store: Store, ref: Reference, descriptors: list[Descriptor]) -> str:
    """Write the index (docker's list type when every child is a docker manifest, else OCI's) and
    point the list's tag at it and at the child for this machine's platform."""
    if not descriptors:
        raise ManifestError(f"{ref.familiar}: a manifest list needs at least one image")
    docker = all(d.mediaType == mt.DOCKER_MANIFEST for d in descriptors)
    media_type = mt.DOCKER_MANIFEST_LIST if docker else mt.OCI_INDEX
    index_bytes = encode(Index(schemaVersion=2, mediaType=media_type, manifests=descriptors))
    digest = sha256_digest(index_bytes)
    store.content.ingest_bytes(index_bytes, digest)
    store.add_manifest(digest, media_type, children=[d.digest for d in descriptors])
    for descriptor in descriptors:  # named by digest, as a pulled child is: prune keeps it
        child_image = store.manifest_image(descriptor.digest)
        if child_image:
            store.add_repo_digest(ref.repository, descriptor.digest, child_image)
    store.tag(_default_image(store, descriptors), ref)
    store.set_tag_target(ref, digest)
    return digest


def _default_image(store: Store, descriptors: list[Descriptor]) -> str:
    host = host_platform()
    for descriptor in descriptors:
        p = descriptor.platform
        if p is not None and host.matches(p.os, p.architecture, p.variant or ""):
            return store.manifest_image(descriptor.digest)
    return store.manifest_image(descriptors[0].digest)


def _platform_text(platform: Platform) -> str:
    text = f"{platform.os}/{platform.architecture}"
    return f"{text}/{platform.variant}" if platform.variant else text
