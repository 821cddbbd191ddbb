"""``system df``: what the store's images, containers, volumes and build cache take on disk.

The numbers follow docker's definitions so the two tools can be compared row for row:
- an image's SIZE is the sum of its layers; SHARED SIZE the part of it in layers that another
  image also uses; the Images row's SIZE counts every stored layer once; RECLAIMABLE is that
  total minus what images with containers use exclusively (docker's formula);
- a container's SIZE is what it wrote (its upper dir); stopped ones are reclaimable;
- a volume is reclaimable when no container mounts it;
- the build cache is RUN ``--mount=type=cache`` directories (step images are images).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lamina.store.store import Store

__all__ = ["DiskUsage", "ImageUsage", "VolumeUsage", "CacheUsage", "disk_usage"]

_ACTIVE_STATES = ("running", "paused", "restarting")


@dataclass(slots=True)
class ImageUsage:
    id: str
    repository: str
    tag: str
    created_ts: float
    size: int
    shared_size: int
    containers: int

    @property
    def unique_size(self) -> int:
        return self.size - self.shared_size


@dataclass(slots=True)
class VolumeUsage:
    name: str
    links: int
    size: int


@dataclass(slots=True)
class CacheUsage:
    id: str
    kind: str
    size: int
    created_ts: float
    last_used_ts: float


@dataclass(slots=True)
class DiskUsage:
    layers_size: int
    images: list[ImageUsage] = field(default_factory=list)
    containers: list = field(default_factory=list)   # lamina.runtime.containers.Container
    container_sizes: dict[str, int] = field(default_factory=dict)
    volumes: list[VolumeUsage] = field(default_factory=list)
    build_cache: list[CacheUsage] = field(default_factory=list)

    @property
    def images_reclaimable(self) -> int:
        used = sum(image.unique_size for image in self.images if image.containers)
        return max(0, self.layers_size - used)

    @property
    def containers_active(self) -> int:
        return sum(1 for c in self.containers if c.status in _ACTIVE_STATES)

    @property
    def containers_size(self) -> int:
        return sum(self.container_sizes.values())

    @property
    def containers_reclaimable(self) -> int:
        return sum(self.container_sizes.get(c.id, 0) for c in self.containers if c.status not in _ACTIVE_STATES)


def disk_usage(store: Store, container_store=None) -> DiskUsage:
    """Measure everything ``system df`` shows; ``container_store`` is the store's
    ContainerStore (None when no container was ever made)."""
    from lamina.runtime.lifecycle import tree_size
    from lamina.runtime.volumestore import VolumeStore, directory_size

    records = store.list_images()
    layer_images: dict[str, set[str]] = {}
    image_layers: dict[str, list[str]] = {}
    for record in records:
        image_layers[record.id] = store.image_diff_ids(record.id)
        for diff_id in image_layers[record.id]:
            layer_images.setdefault(diff_id, set()).add(record.id)
    layer_sizes = {diff_id: _layer_size(store, diff_id) for diff_id in layer_images}

    containers = container_store.list() if container_store else []
    per_image: dict[str, int] = {}
    for container in containers:
        per_image[container.image_id] = per_image.get(container.image_id, 0) + 1

    usage = DiskUsage(layers_size=sum(layer_sizes.values()))
    parents = {r.parent for r in records if r.parent}
    for record in records:
        if not record.tags and not record.repo_digests and record.id in parents:
            continue  # intermediate build images: docker leaves them out too
        diff_ids = image_layers[record.id]
        size = sum(layer_sizes[d] for d in set(diff_ids))
        shared = sum(layer_sizes[d] for d in set(diff_ids) if len(layer_images[d]) > 1)
        repository, tag = _first_name(record.tags)
        usage.images.append(ImageUsage(record.id, repository, tag, record.created_ts, size, shared,
                                       per_image.get(record.id, 0)))

    for container in containers:
        usage.container_sizes[container.id] = tree_size(container.base / "upper")
        usage.containers.append(container)

    mounts = {c.id: c.document.get("Mounts") or [] for c in containers}
    for volume in VolumeStore(Path(store.root), mounts).list():
        usage.volumes.append(VolumeUsage(volume.name, len(volume.users), directory_size(volume.mountpoint)))

    cache_root = Path(store.root) / "cache-mounts"
    if cache_root.is_dir():
        for entry in sorted(cache_root.iterdir()):
            info = entry.stat()
            usage.build_cache.append(CacheUsage(entry.name, "exec.cachemount", tree_size(entry),
                                                info.st_ctime, info.st_mtime))
    return usage


def _layer_size(store: Store, diff_id: str) -> int:
    layer = store.layer_for(diff_id)
    return layer.diff_size if layer else 0


def _first_name(tags: list[str]) -> tuple[str, str]:
    """docker's df shows one row per image, named by its first tag."""
    from lamina.oci.reference import parse_reference

    if not tags:
        return "<none>", "<none>"
    ref = parse_reference(sorted(tags)[0])
    return ref.familiar_repository, ref.tag or "<none>"

