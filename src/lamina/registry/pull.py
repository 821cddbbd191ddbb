"""``lamina pull``: registry → store, verified, parallel, skipping what the store has.

Every blob is streamed into the content store through a BlobWriter (digest and size checked
before it becomes visible); layers are hashed uncompressed in the same pass to learn their
diffIDs, which must match the image config. Nothing is recorded until all of it checks out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from lamina.errors import ArchiveError, DigestMismatchError, ManifestError
from lamina.oci import mediatypes as mt
from lamina.oci.models import Descriptor, parse_config, parse_index, parse_manifest
from lamina.oci.platform import Platform, host_platform
from lamina.oci.reference import Reference
from lamina.registry.client import Manifest, RegistryClient
from lamina.registry.locations import record_locations
from lamina.registry.transfer_events import EventSink, TransferEvent, ignore, short
from lamina.store.store import LayerRecord, Store


@dataclass(slots=True)
class PullResult:
    reference: Reference
    image_id: str
    digest: str                 # what the user pulled: the index digest for multi-platform images
    downloaded: bool            # False: everything was already in the store ("Image is up to date")
    layers_fetched: int = 0
    platforms: list[str] = field(default_factory=list)


def pull_image(store: Store, client: RegistryClient, ref: Reference, *, platform: Platform | None = None,
               events: EventSink = ignore, max_concurrent: int = 3, announce=None) -> PullResult:
    """``announce`` gets docker's "<tag>: Pulling from <repo>" line once the manifest is found."""
    repository = ref.path
    top = client.get_manifest(repository, ref.digest or ref.tag or "latest")
    if announce is not None:
        announce(f"{ref.tag or ref.digest}: Pulling from {repository}")
    wanted = platform or host_platform()
    manifest_doc, index_doc = _resolve_platform(client, repository, top, wanted)
    manifest = parse_manifest(manifest_doc.data, where=f"manifest {manifest_doc.digest}")
    with store.lease():
        new_blobs: list[str] = []
        try:
            config_bytes = _fetch_small(store, client, repository, manifest.config, new_blobs)
            config = parse_config(config_bytes, where=f"config {manifest.config.digest}")
            if len(config.rootfs.diff_ids) != len(manifest.layers):
                raise ManifestError(f"{ref.familiar}: manifest lists {len(manifest.layers)} layers, config {len(config.rootfs.diff_ids)}")
            layers, fetched = _fetch_layers(store, client, repository, manifest.layers, config.rootfs.diff_ids,
                                            events, max_concurrent, new_blobs)
            store.content.ingest_bytes(manifest_doc.data, manifest_doc.digest)
            if index_doc is not None:
                store.content.ingest_bytes(index_doc.data, index_doc.digest)
            tags = [ref] if ref.tag is not None else []
            image_id = store.add_image(config_bytes, manifest.config.mediaType, layers, tags=tags)
        except BaseException:
            for digest in new_blobs:
                store.content.delete(digest)
            raise
        store.add_manifest(manifest_doc.digest, manifest_doc.media_type, image_id, platform=str(wanted))
        if index_doc is not None:
            store.add_manifest(index_doc.digest, index_doc.media_type, children=[manifest_doc.digest])
            if ref.tag is not None:
                store.set_tag_target(ref, index_doc.digest)  # push can send the index whole later
        store.add_repo_digest(ref.repository, top.digest, image_id)
        record_locations(store, client.host, repository, [layer.blob_digest for layer in layers])
    return PullResult(ref, image_id, top.digest, downloaded=bool(fetched) or bool(new_blobs), layers_fetched=fetched)


def _resolve_platform(client: RegistryClient, repository: str, top: Manifest,
                      wanted: Platform) -> tuple[Manifest, Manifest | None]:
    if top.media_type not in mt.INDEXES:
        return top, None
    index = parse_index(top.data, where=f"index {top.digest}")
    choice = _choose(index.manifests, wanted)
    if choice is None:
        available = ", ".join(
            f"{d.platform.os}/{d.platform.architecture}" for d in index.manifests if d.platform is not None
        )
        raise ManifestError(f"no matching manifest for {wanted} in the manifest list entries (available: {available})")
    return client.get_manifest(repository, choice.digest), top


def _choose(descriptors: list[Descriptor], wanted: Platform) -> Descriptor | None:
    exact = [d for d in descriptors if d.platform is not None
             and wanted.matches(d.platform.os, d.platform.architecture, d.platform.variant or "")]
    if exact:
        return exact[0]
    loose = [d for d in descriptors if d.platform is not None
             and (d.platform.os, d.platform.architecture) == (wanted.os, wanted.architecture)]
    return loose[0] if loose else None


def _fetch_small(store: Store, client: RegistryClient, repository: str, descriptor: Descriptor,
                 new_blobs: list[str]) -> bytes:
    if not store.content.has(descriptor.digest):
        with store.content.writer(descriptor.digest, descriptor.size) as writer:
            client.fetch_blob(repository, descriptor.digest, writer, expected_size=descriptor.size)
            writer.commit("config")
            if writer.created:
                new_blobs.append(descriptor.digest)
    return store.content.read(descriptor.digest)


class _Stage:
    """One step of a pipeline on a thread of its own, fed through a bounded queue.

    The thread releases the GIL inside its work (inflate, sha256), so stages overlap on
    separate cores. An error inside ``work`` is kept (the rest of the items are then skipped)
    and raised by ``finish``: a download runs to its end first, so a tampered blob is reported
    as a digest mismatch rather than as whatever its bytes did to the inflater.
    """

    _DONE = None

    def __init__(self, work: Callable[[list[bytes]], object], name: str, maxsize: int = 4):
        import queue

        self._work = work
        self.error: BaseException | None = None
        self._full = queue.Full
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: list[bytes]) -> None:
        self._queue.put(item)

    def finish(self) -> None:
        """Wait until every item went through; raise what the work raised."""
        self._queue.put(self._DONE)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """Stop the thread without doing the remaining work (after a failed download)."""
        if not self._thread.is_alive():
            return
        self.error = self.error or RuntimeError("download abandoned")
        while self._thread.is_alive():
            try:
                self._queue.put(self._DONE, timeout=0.1)
            except self._full:
                pass
            self._thread.join(0.1)

    def _run(self) -> None:
        while (item := self._queue.get()) is not self._DONE:
            if self.error is None:
                try:
                    self._work(item)
                except BaseException as exc:  # reported to the feeding thread
                    self.error = exc


class _Stopped(Exception):
    """Raised inside a download when another layer failed or the pull was interrupted."""


class _LayerSink:
    """Receives a layer's bytes: into the blob writer, and decompressed into the diffID hasher.

    Three threads share the work so that it costs about the slowest step, not the sum: the
    downloading thread (socket, sha256 of the compressed bytes, file write), an inflating
    thread and a thread hashing the inflated bytes. Each step runs without the GIL for large
    chunks, so on two or more cores the pull is bound by the inflate alone. Chunks travel in
    batches of about ``BATCH`` bytes: one hand-over per 64 KiB read cost more CPU than the
    hashing it moved.
    """

    BATCH = 1 << 20

    def __init__(self, writer, compression: str, stop: threading.Event | None = None):
        from lamina.archive.ingest import _DiffHasher  # not imported by a pull that fetches no layer
        from lamina.layer.contentsize import ContentSizer

        self.writer = writer
        self._stop = stop
        self.diff = _DiffHasher(compression) if compression in ("gzip", "zstd") else None
        self.sizer = ContentSizer()  # docker's size of the layer (its files), fed the tar as it passes
        self._batch: list[bytes] = []
        self._batched = 0
        if self.diff is not None:
            self._hash = _Stage(self._hash_batch, "diffid-hash", maxsize=4)
            self._inflate = _Stage(self._inflate_batch, "inflate", maxsize=4)

    def write(self, data) -> int:
        if self._stop is not None and self._stop.is_set():
            raise _Stopped()
        self.writer.write(data)
        if self.diff is None:
            self.sizer.feed(data)
        else:
            self._batch.append(data)
            self._batched += len(data)
            if self._batched >= self.BATCH:
                self._inflate.put(self._batch)
                self._batch, self._batched = [], 0
        return len(data)

    def finish(self) -> tuple[str, int]:
        """(diffID, uncompressed size) once every byte went through; raises what inflating raised."""
        if self.diff is None:
            raise ValueError("not a compressed layer")
        if self._batch:
            self._inflate.put(self._batch)
            self._batch = []
        self._inflate.finish()
        self._hash.finish()
        return self.diff.finish()

    def close(self) -> None:
        """Stop the threads after a failed download (upstream first: it feeds the other)."""
        if self.diff is not None:
            self._inflate.abandon()
            self._hash.abandon()

    def _inflate_batch(self, chunks: list[bytes]) -> None:
        # Inflated pieces go on in batches as they come, so memory stays bounded (the queue is)
        # however much a chunk expands.
        out: list[bytes] = []
        size = 0

        def emit(piece: bytes) -> None:
            nonlocal out, size
            out.append(piece)
            size += len(piece)
            if size >= 2 * self.BATCH:
                self._hash.put(out)
                out, size = [], 0

        for chunk in chunks:
            self.diff.inflate_into(chunk, emit)
        if out:
            self._hash.put(out)

    def _hash_batch(self, pieces: list[bytes]) -> None:
        for piece in pieces:
            self.diff.hasher.update(piece)
            self.sizer.feed(piece)


def _fetch_layers(store: Store, client: RegistryClient, repository: str, descriptors: list[Descriptor],
                  diff_ids: list[str], events: EventSink, max_concurrent: int,
                  new_blobs: list[str]) -> tuple[list[LayerRecord], int]:
    records: list[LayerRecord | None] = [None] * len(descriptors)
    todo: list[int] = []
    for i, (descriptor, diff_id) in enumerate(zip(descriptors, diff_ids, strict=True)):
        known = [r for r in store.layers_of(diff_id) if store.content.has(r.blob_digest)]
        same_blob = [r for r in known if r.blob_digest == descriptor.digest]
        if same_blob or (known and not store.content.has(descriptor.digest)):
            # the layer's content is here (maybe as another blob): docker's "Already exists"
            records[i] = same_blob[0] if same_blob else LayerRecord(
                diff_id, known[0].blob_digest, known[0].media_type, known[0].blob_size, known[0].diff_size)
            events(TransferEvent(short(descriptor.digest), "Already exists"))
        else:
            todo.append(i)
            events(TransferEvent(short(descriptor.digest), "Pulling fs layer"))
    lock = threading.Lock()
    stop = threading.Event()  # set when the pull fails or is interrupted: running downloads end

    def fetch(i: int) -> LayerRecord:
        descriptor, diff_id = descriptors[i], diff_ids[i]
        if stop.is_set():
            raise _Stopped()
        if not mt.is_layer(descriptor.mediaType):
            raise ManifestError(f"unknown layer media type {descriptor.mediaType}")
        compression = mt.layer_compression(descriptor.mediaType)
        name = short(descriptor.digest)

        step = max(1 << 20, descriptor.size // 200)  # a few hundred updates a layer, not one per read
        shown = [0]

        def progress(done: int, total: int | None) -> None:
            if done - shown[0] >= step or done == total:
                shown[0] = done
                events(TransferEvent(name, "Downloading", done, total))

        # fetch_blob hashes every byte and raises before we commit: no second sha256 here
        with store.content.writer(descriptor.digest, descriptor.size, verified_upstream=True) as writer:
            sink = _LayerSink(writer, compression, stop)
            try:
                client.fetch_blob(repository, descriptor.digest, sink, expected_size=descriptor.size,
                                  progress=progress)
                events(TransferEvent(name, "Verifying Checksum"))
                actual_diff, diff_size = sink.finish() if sink.diff else (descriptor.digest, descriptor.size)
            except ArchiveError as exc:  # the blob matched its digest, but it is not valid gzip/zstd
                raise ArchiveError(f"layer {descriptor.digest}: {exc}") from None
            finally:
                sink.close()
            if actual_diff != diff_id:
                raise DigestMismatchError(f"layer {descriptor.digest}: uncompressed content hashes to {actual_diff}, "
                                          f"but the image config expects {diff_id}")
            writer.commit(f"layer {descriptor.digest}")
            if writer.created:
                with lock:
                    new_blobs.append(descriptor.digest)
        events(TransferEvent(name, "Download complete"))
        counted = sink.sizer.size
        return LayerRecord(diff_id, descriptor.digest, descriptor.mediaType, descriptor.size,
                           diff_size if counted is None else counted)

    if todo:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        with ThreadPoolExecutor(max_workers=max(1, max_concurrent)) as pool:
            futures = {i: pool.submit(fetch, i) for i in todo}
            reported = 0
            try:
                for future in as_completed(futures.values()):
                    future.result()  # the first failure ends the pull without waiting for the rest
                    while reported < len(todo) and futures[todo[reported]].done():
                        # docker extracts in order: report "Pull complete" in layer order
                        i = todo[reported]
                        records[i] = futures[i].result()
                        events(TransferEvent(short(descriptors[i].digest), "Pull complete"))
                        reported += 1
            except BaseException:  # a failed layer, or Ctrl-C: stop the other downloads now
                stop.set()
                for future in futures.values():
                    future.cancel()
                raise
    return [r for r in records if r is not None], len(todo)
