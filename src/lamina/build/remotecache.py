"""The build cache as an artifact another machine can use (``--cache-from type=registry|local``).

The artifact is an OCI image manifest with ``artifactType`` :data:`ARTIFACT_TYPE`. Its config
blob (:data:`CONFIG_MEDIA_TYPE`) lists one record per step: the key the local cache
(:mod:`lamina.build.cache`) found it by — the parent image's ID and the step key — the exact
image config the step made (so the image gets the same ID on every machine, and the next
step's parent matches the next record) and the layer the step added. Its ``layers`` are those
layer blobs, the same blobs the image's own push sends, so a registry keeps them and mounts
them across repositories.

Importing reads the records only; a record is used when the local cache misses. A hit is lazy:
only its config enters the store, so the next step finds its parent and the chain of hits goes
on without a download. The image is recorded (:meth:`CacheLedger.materialize`) when something
needs its files or rows — a later step that runs or copies, ``COPY --from`` it, the final image,
an export — and only then is each layer the chain added downloaded (unless a layer with that
diffID is already stored), checked against its digest and diffID. A stage whose results only
ever hit (and that nothing copies from) costs no layer download at all.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from lamina.build.cachespec import CacheSpec
from lamina.build.cachetargets import CacheTarget, open_target
from lamina.errors import DigestMismatchError, LaminaError, ManifestError
from lamina.store.store import LayerRecord, Store

ARTIFACT_TYPE = "application/vnd.lamina.buildcache.v1"
CONFIG_MEDIA_TYPE = "application/vnd.lamina.buildcache.config.v1+json"
#: a cache config larger than this is refused (bounded memory on bad input)
MAX_CONFIG = 64 << 20


class CacheLayer(msgspec.Struct, frozen=True):
    digest: str
    size: int
    mediaType: str  # noqa: N815 - OCI descriptor field names
    diffID: str  # noqa: N815
    diffSize: int = 0  # noqa: N815


class CacheRecord(msgspec.Struct, frozen=True):
    parent: str          # the image the step ran on ("" for FROM scratch)
    key: str             # lamina.build.cache.step_key of the step
    image: str           # the image the step made: sha256 of ``config``
    config: str          # that image's config, byte for byte
    configMediaType: str  # noqa: N815
    layer: CacheLayer | None = None  # the layer the step added, if any


class CacheConfig(msgspec.Struct):
    version: int = 1
    records: list[CacheRecord] = msgspec.field(default_factory=list)


def read_cache(target: CacheTarget) -> CacheConfig | None:
    """The records of the cache at ``target``; None when there is none or it is not a cache
    (an image: the caller then uses it as docker's ``--cache-from`` image)."""
    data = target.read_manifest()
    if data is None:
        return None
    try:
        manifest = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise ManifestError(f"{target.where}: cache manifest is not JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise ManifestError(f"{target.where}: cache manifest is not a JSON object")
    config = manifest.get("config") or {}
    if manifest.get("artifactType") != ARTIFACT_TYPE and config.get("mediaType") != CONFIG_MEDIA_TYPE:
        return None
    size = config.get("size")
    digest = config.get("digest")
    if not isinstance(size, int) or not isinstance(digest, str) or not 0 <= size <= MAX_CONFIG:
        raise ManifestError(f"{target.where}: cache config descriptor is invalid")
    sink = io.BytesIO()
    target.fetch_blob(digest, size, sink)
    data = sink.getvalue()
    from lamina.oci.digest import sha256_digest

    if len(data) != size or sha256_digest(data) != digest:
        raise DigestMismatchError(f"{target.where}: cache config does not match its digest {digest}")
    try:
        return msgspec.json.decode(data, type=CacheConfig)
    except msgspec.ValidationError as exc:
        raise ManifestError(f"{target.where}: cache config: {exc}") from None


class ImportedCache:
    """The records of every ``--cache-from`` cache, found by (parent image, step key)."""

    def __init__(self, store: Store, warn: Callable[[str], None]) -> None:
        self.store = store
        self.warn = warn
        self.records: dict[tuple[str, str], tuple[CacheRecord, CacheTarget]] = {}
        self.pending: dict[str, tuple[CacheRecord, CacheTarget]] = {}  # hits not recorded yet
        self.fetched_layers: list[str] = []  # blob digests downloaded, in order

    def add(self, target: CacheTarget, config: CacheConfig) -> None:
        for record in config.records:
            self.records.setdefault((record.parent, record.key), (record, target))

    def __bool__(self) -> bool:
        return bool(self.records)

    def restore(self, parent: str, key: str) -> str | None:
        """The image this step made elsewhere, its config in the store and the image pending
        (see :meth:`materialize`); None on a miss (a record that cannot be used is a miss, with
        a warning naming why)."""
        found = self.records.get((parent, key))
        if found is None:
            return None
        record, target = found
        try:
            self._check(record)
        except (LaminaError, OSError) as exc:
            self.warn(f"cache {target.where}: step {key[:12]} not used: {exc}")
            return None
        self.store.content.ingest_bytes(record.config.encode(), record.image)
        self.pending[record.image] = found
        return record.image

    def _check(self, record: CacheRecord) -> None:
        """The record's config is the image it names, on its parent's layers plus its own."""
        from lamina.oci.digest import sha256_digest
        from lamina.oci.models import parse_config

        config_bytes = record.config.encode()
        if sha256_digest(config_bytes) != record.image:
            raise DigestMismatchError(f"config of {record.image} does not match its digest")
        parent = parse_config(self.store.config_bytes(record.parent)).rootfs.diff_ids if record.parent else []
        wanted = [*parent, *([record.layer.diffID] if record.layer else [])]
        if parse_config(config_bytes).rootfs.diff_ids != wanted:
            raise ManifestError(f"config of {record.image} does not continue its parent's layers")

    def materialize(self, image_id: str) -> None:
        """Record ``image_id`` and its pending ancestors, oldest first, fetching their layers."""
        chain: list[tuple[CacheRecord, CacheTarget]] = []
        while image_id in self.pending:
            chain.append(self.pending[image_id])
            image_id = self.pending[image_id][0].parent
        for record, target in reversed(chain):
            try:
                self._record_image(record, target)
            except (LaminaError, OSError) as exc:
                from lamina.errors import BuildError

                raise BuildError(f"cache {target.where}: step image {record.image[:19]}: {exc}") from None
            del self.pending[record.image]

    def _record_image(self, record: CacheRecord, target: CacheTarget) -> str:
        layers: list[LayerRecord] = []
        for diff_id in self.store.image_diff_ids(record.parent) if record.parent else ():
            layer = self.store.layer_for(diff_id)
            if layer is None:
                raise ManifestError(f"layer {diff_id} of {record.parent} is missing")
            layers.append(layer)
        if record.layer is not None:
            layers.append(self._layer(record.layer, target))
        return self.store.add_image(record.config.encode(), record.configMediaType, layers, parent=record.parent)

    def _layer(self, wanted: CacheLayer, target: CacheTarget) -> LayerRecord:
        """The step's layer: a stored one with its diffID, else its blob downloaded and checked."""
        stored = self.store.layer_for(wanted.diffID)
        if stored is not None:
            return stored
        from lamina.layer.validate import check_layer_blob
        from lamina.oci import mediatypes as mt

        if not mt.is_layer(wanted.mediaType):
            raise ManifestError(f"layer {wanted.digest}: unknown media type {wanted.mediaType}")
        if not self.store.content.has(wanted.digest):
            with self.store.content.writer(wanted.digest, wanted.size) as writer:
                target.fetch_blob(wanted.digest, wanted.size, writer)  # type: ignore[arg-type]
                writer.commit(f"layer {wanted.digest}")
            self.fetched_layers.append(wanted.digest)
        with self.store.content.open(wanted.digest) as blob:
            checked = check_layer_blob(blob, mt.layer_compression(wanted.mediaType), f"layer {wanted.digest}")
        if checked.diff_id != wanted.diffID:
            self.store.content.delete(wanted.digest)
            raise DigestMismatchError(f"layer {wanted.digest}: uncompressed content hashes to {checked.diff_id}, "
                                      f"the cache says {wanted.diffID}")
        record = LayerRecord(wanted.diffID, wanted.digest, wanted.mediaType, wanted.size, checked.scan.content_size)
        self.store.add_layer_record(record)
        return record


def import_caches(store: Store, specs: Iterable[CacheSpec], warn: Callable[[str], None]) -> tuple[ImportedCache, list[str]]:
    """Read every cache ``specs`` name; returns them and the registry refs that were images, not
    caches (docker's ``--cache-from IMAGE``). A cache that cannot be read is a warning, as in
    BuildKit: the build goes on without it."""
    imported = ImportedCache(store, warn)
    images: list[str] = []
    for spec in specs:
        if spec.type == "image":
            images.append(spec.ref)
            continue
        try:
            target = open_target(spec)
            config = read_cache(target)
        except (LaminaError, OSError) as exc:
            warn(f"cache {spec.where} could not be read: {exc}")
            continue
        if config is not None:
            imported.add(target, config)
        elif spec.type == "registry":
            images.append(spec.ref)
        else:
            warn(f"cache {spec.where}: no cache there")
    return imported, images


class CacheLedger:
    """The local build cache with the imported caches behind it, noting which step made which
    image (what ``--cache-to`` exports). It answers the executor as :class:`BuildCache` does."""

    def __init__(self, local: Any, imported: ImportedCache | None = None) -> None:
        self.local = local
        self.imported = imported
        self.steps: dict[str, tuple[str, str]] = {}  # image → (parent, key), in build order
        self.remote_hits: list[str] = []

    def lookup(self, parent: str, key: str) -> str | None:
        found = self.local.lookup(parent, key)
        if found is None and self.imported:
            found = self.imported.restore(parent, key)
            if found is not None:
                self.remote_hits.append(found)
                self.local.record(parent, key, found)  # a hit for later builds once it is recorded
        if found is not None:
            self.steps.setdefault(found, (parent, key))
        return found

    def record(self, parent: str, key: str, image_id: str) -> None:
        self.local.record(parent, key, image_id)
        self.steps[image_id] = (parent, key)

    def materialize(self, image_id: str) -> None:
        """Make a (maybe lazily hit) image whole in the store before its files or rows are used."""
        if self.imported:
            self.imported.materialize(image_id)

    def materialize_all(self) -> None:
        for image_id in list(self.steps):
            self.materialize(image_id)


def open_caches(store: Store, local: Any, cache_from: Iterable[str],
                warn: Callable[[str], None]) -> tuple[CacheLedger, list[str]]:
    """The executor's cache for ``--cache-from`` values: the ledger over the local cache and the
    imported caches, and the names to use as docker's ``--cache-from`` images."""
    from lamina.build.cachespec import parse_import

    specs = [parse_import(value) for value in cache_from]
    if not any(spec.type != "image" for spec in specs):
        return CacheLedger(local), [spec.ref for spec in specs]
    imported, images = import_caches(store, specs, warn)
    return CacheLedger(local, imported), images
