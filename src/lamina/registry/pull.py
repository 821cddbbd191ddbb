"""``lamina pull``: registry → store, verified, parallel, skipping what the store has.

Every blob is streamed into the content store through a BlobWriter (digest and size checked
before it becomes visible); layers are hashed uncompressed in the same pass to learn their
diffIDs, which must match the image config. Nothing is recorded until all of it checks out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lamina import TYPE_CHECKING
from lamina.errors import ArchiveError, DigestMismatchError, LaminaError, LayerError, ManifestError
from lamina.oci import mediatypes as mt
from lamina.oci.models import Descriptor, parse_config, parse_index, parse_manifest
from lamina.oci.platform import Platform, host_platform
from lamina.oci.reference import Reference
from lamina.registry.client import Manifest, RegistryClient
from lamina.registry.locations import record_locations
from lamina.registry.transfer_events import EventSink, TransferEvent, ignore, short
from lamina.store.store import LayerRecord, Store

if TYPE_CHECKING:
    from lamina.layer.validate import LayerScan


@dataclass(slots=True)
class PullResult:
    reference: Reference
    image_id: str
    digest: str                 # what the user pulled: the index digest for multi-platform images
    downloaded: bool            # False: everything was already in the store ("Image is up to date")
    layers_fetched: int = 0
    platforms: list[str] = field(default_factory=list)


def pull_image(store: Store, client: RegistryClient, ref: Reference, *, platform: Platform | None = None,
               events: EventSink = ignore, max_concurrent: int = 3, announce=None, admit=None) -> PullResult:
    """``announce`` gets docker's "<tag>: Pulling from <repo>" line once the manifest is found.
    ``admit(client, ref, manifest_digest)`` (a signature policy) may refuse the image by raising,
    before anything is stored.

    Every error names the reference (``<ref>: layer sha256:…: …``): with ``--all-tags`` or a
    build's pulls the user must see which image failed.
    """
    try:
        return _pull(store, client, ref, platform, events, max_concurrent, announce, admit)
    except LaminaError as exc:
        _name_reference(exc, ref)
        raise


def _name_reference(exc: LaminaError, ref: Reference) -> None:
    """Put the reference in front of an error's message, unless the message names it already."""
    message = str(exc)
    if len(exc.args) == 1 and ref.familiar not in message and str(ref) not in message:
        exc.args = (f"{ref.familiar}: {message}",)


def _pull(store: Store, client: RegistryClient, ref: Reference, platform: Platform | None, events: EventSink,
          max_concurrent: int, announce, admit=None) -> PullResult:
    repository = ref.path
    top = client.get_manifest(repository, ref.digest or ref.tag or "latest")
    if admit is not None:
        admit(client, ref, top.digest)
    if announce is not None:
        announce(f"{ref.tag or ref.digest}: Pulling from {repository}")
    wanted = platform or host_platform()
    manifest_doc, index_doc = _resolve_platform(client, repository, top, wanted)
    manifest = parse_manifest(manifest_doc.data, where=f"manifest {manifest_doc.digest}")
    if manifest.config.size > MAX_CONFIG_SIZE:
        raise ManifestError(f"config {manifest.config.digest} is {manifest.config.size} bytes; "
                            f"configs over {MAX_CONFIG_SIZE >> 20} MiB are refused")
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
            _discard(store, new_blobs)
            raise
        store.add_manifest(manifest_doc.digest, manifest_doc.media_type, image_id, platform=str(wanted))
        if index_doc is not None:
            store.add_manifest(index_doc.digest, index_doc.media_type, children=[manifest_doc.digest])
            if ref.tag is not None:
                store.set_tag_target(ref, index_doc.digest)  # push can send the index whole later
        store.add_repo_digest(ref.repository, top.digest, image_id)
        record_locations(store, client.host, repository, [layer.blob_digest for layer in layers])
    return PullResult(ref, image_id, top.digest, downloaded=bool(fetched) or bool(new_blobs), layers_fetched=fetched)


def _discard(store: Store, new_blobs: list[str]) -> None:
    """Delete the blobs this failed pull created, but not one that another pull of the same
    content has recorded meanwhile (both hold the lease; the other found the blob in place)."""
    store.discard_unrecorded(new_blobs)


def _resolve_platform(client: RegistryClient, repository: str, top: Manifest,
                      wanted: Platform) -> tuple[Manifest, Manifest | None]:
    if not _is_index(top):
        return top, None
    index = parse_index(top.data, where=f"index {top.digest}")
    choice = _choose(index.manifests, wanted)
    if choice is None:
        available = ", ".join(
            f"{d.platform.os}/{d.platform.architecture}" for d in index.manifests if d.platform is not None
        )
        listed = f" (available: {available})" if available else ""
        raise ManifestError(f"no matching manifest for {wanted} in the manifest list entries{listed}")
    child = client.get_manifest(repository, choice.digest)
    if _is_index(child):
        raise ManifestError(f"index {top.digest} lists another index ({child.digest}) for {wanted}")
    return child, top


def _is_index(document: Manifest) -> bool:
    """Whether a fetched manifest is an index (else an image manifest); refuses everything else.

    A registry that labels manifests ``application/json`` (or not at all) is read by the
    document's shape. Schema 1 and documents that are no image (an HTML page, an artifact
    manifest) get a line saying what they are instead of a decoder's complaint.
    """
    media_type = document.media_type
    if media_type in mt.INDEXES:
        return True
    if media_type in mt.IMAGE_MANIFESTS:
        return False
    keys = _top_level_keys(document.data)
    if media_type in _SCHEMA1 or keys.get("schemaVersion") == 1:
        raise ManifestError(f"manifest {document.digest} is Docker image manifest schema 1, which is no longer "
                            "supported; the image must be pushed again with a current tool")
    if media_type in _GENERIC_TYPES:
        if "manifests" in keys:
            return True
        if "layers" in keys and "config" in keys:
            return False
    raise ManifestError(f"manifest {document.digest} has media type {media_type or '(none)'}, "
                        "which is not a container image")


_SCHEMA1 = frozenset({"application/vnd.docker.distribution.manifest.v1+json",
                      "application/vnd.docker.distribution.manifest.v1+prettyjws"})
_GENERIC_TYPES = frozenset({"", "application/json", "text/plain", "application/octet-stream"})
#: Image configs are small JSON documents; a larger one is refused before it is fetched (a
#: hostile manifest could otherwise make the pull read gigabytes into memory).
MAX_CONFIG_SIZE = 8 << 20


def _top_level_keys(data: bytes) -> dict:
    """The document's top-level object, or {} when it is not a JSON object."""
    import json

    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return document if isinstance(document, dict) else {}


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


class _CheckStage(_Stage):
    """The last step of a layer's pipeline: the tar is checked as it passes (and hashed, if inflated).

    Its thread reads the batches as one stream through ``check_layer_chunks`` (the rules
    ``load`` applies: nothing that could never unpack enters the store), so a hostile layer is
    refused at pull time, as docker's extraction refuses it, without a second read of the blob.
    What the check has not read when it fails is drained unhashed: the feeding threads never block.
    """

    def __init__(self, what: str, hasher=None, maxsize: int = 4):
        self._what = what
        self._hasher = hasher
        self.scan: LayerScan | None = None
        super().__init__(lambda _batch: None, "layer-check", maxsize)

    def _run(self) -> None:
        from lamina.layer.validate import check_layer_chunks

        pieces = self._pieces()
        try:
            self.scan = check_layer_chunks(pieces, self._what)
        except BaseException as exc:  # reported to the feeding thread by finish()
            self.error = exc
            self._hasher = None
        for _piece in pieces:
            pass

    def _pieces(self) -> Iterator[bytes]:
        while (batch := self._queue.get()) is not self._DONE:
            for piece in batch:
                if self._hasher is not None:
                    self._hasher.update(piece)
                yield piece


class _LayerSink:
    """Receives a layer's bytes: into the blob writer, and (inflated) into the diffID hash and the tar check.

    Three threads share the work so that it costs about the slowest step, not the sum: the
    downloading thread (socket, sha256 of the compressed bytes, file write), an inflating
    thread and a thread hashing the inflated bytes and checking the tar's headers. Each step
    but the header check runs without the GIL for large chunks, so on two or more cores the
    pull is bound by the inflate alone. Chunks travel in batches of about ``BATCH`` bytes: one
    hand-over per 64 KiB read cost more CPU than the hashing it moved. A plain tar layer skips
    the inflate: its batches go to the check directly (its diffID is its digest).
    """

    BATCH = 1 << 20

    def __init__(self, writer, compression: str, stop: threading.Event | None = None, *, what: str = "layer"):
        from lamina.archive.ingest import _DiffHasher  # not imported by a pull that fetches no layer

        self.writer = writer
        self._stop = stop
        self.diff = _DiffHasher(compression) if compression in ("gzip", "zstd") else None
        self._batch: list[bytes] = []
        self._batched = 0
        self._check = _CheckStage(what, self.diff.hasher if self.diff is not None else None)
        self._next: _Stage = self._check
        if self.diff is not None:
            self._next = self._inflate = _Stage(self._inflate_batch, "inflate", maxsize=4)

    def write(self, data) -> int:
        if self._stop is not None and self._stop.is_set():
            raise _Stopped()
        self.writer.write(data)
        self._batch.append(data)
        self._batched += len(data)
        if self._batched >= self.BATCH:
            self._next.put(self._batch)
            self._batch, self._batched = [], 0
        return len(data)

    def finish(self) -> tuple[str | None, int, LayerScan]:
        """(diffID, uncompressed size, tar scan) once every byte went through; the diffID is None
        for a plain layer (it is the blob's digest). Raises what inflating or the check raised."""
        if self._batch:
            self._next.put(self._batch)
            self._batch = []
        if self.diff is None:
            self._check.finish()
            assert self._check.scan is not None
            return None, 0, self._check.scan
        self._inflate.finish()
        try:
            self._check.finish()
        except LayerError:
            self.diff.finish()  # a truncated gzip stream says so, rather than "the tar is truncated"
            raise
        assert self._check.scan is not None
        return *self.diff.finish(), self._check.scan

    def close(self) -> None:
        """Stop the threads after a failed download (upstream first: it feeds the other)."""
        if self.diff is not None:
            self._inflate.abandon()
        self._check.abandon()

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
                self._check.put(out)
                out, size = [], 0

        for chunk in chunks:
            self.diff.inflate_into(chunk, emit)
        if out:
            self._check.put(out)


def _adopt(store: Store, descriptor: Descriptor, diff_id: str) -> LayerRecord | None:
    """The layer from a blob already in the store that no layer row names (a killed pull or
    load committed it), after a download's checks; None when it fails them (then it is fetched)."""
    from lamina.layer.validate import check_layer_blob

    if not mt.is_layer(descriptor.mediaType):
        return None
    try:
        with store.content.open(descriptor.digest) as blob:
            checked = check_layer_blob(blob, mt.layer_compression(descriptor.mediaType),
                                       f"layer {descriptor.digest}")
    except (LaminaError, OSError):
        checked = None
    if checked is None or checked.digest != descriptor.digest:
        if checked is not None or not _intact(store, descriptor.digest):
            store.content.delete(descriptor.digest)  # damaged on disk: make way for the download's good copy
        return None
    if (checked.size, checked.diff_id) != (descriptor.size, diff_id):
        return None
    return LayerRecord(diff_id, descriptor.digest, descriptor.mediaType, descriptor.size, checked.scan.content_size)


def _intact(store: Store, digest: str) -> bool:
    try:
        return store.content.verify(digest)
    except (LaminaError, OSError):
        return True  # gone meanwhile: nothing to make way for


def _fetch_layers(store: Store, client: RegistryClient, repository: str, descriptors: list[Descriptor],
                  diff_ids: list[str], events: EventSink, max_concurrent: int,
                  new_blobs: list[str]) -> tuple[list[LayerRecord], int]:
    records: list[LayerRecord | None] = [None] * len(descriptors)
    todo: list[int] = []
    for i, (descriptor, diff_id) in enumerate(zip(descriptors, diff_ids, strict=True)):
        known = [r for r in store.layers_of(diff_id) if store.content.has(r.blob_digest)]
        same_blob = [r for r in known if r.blob_digest == descriptor.digest]
        adopted = None if known or not store.content.has(descriptor.digest) else _adopt(store, descriptor, diff_id)
        if same_blob or (known and not store.content.has(descriptor.digest)) or adopted is not None:
            # the layer's content is here (maybe as another blob): docker's "Already exists"
            records[i] = adopted or (same_blob[0] if same_blob else LayerRecord(
                diff_id, known[0].blob_digest, known[0].media_type, known[0].blob_size, known[0].diff_size))
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
            sink = _LayerSink(writer, compression, stop, what=f"layer {descriptor.digest}")
            try:
                client.fetch_blob(repository, descriptor.digest, sink, expected_size=descriptor.size,
                                  progress=progress)
                events(TransferEvent(name, "Verifying Checksum"))
                actual_diff, _, scan = sink.finish()
            except ArchiveError as exc:  # the blob matched its digest, but it is not valid gzip/zstd
                raise ArchiveError(f"layer {descriptor.digest}: {exc}") from None
            finally:
                sink.close()
            actual_diff = actual_diff or descriptor.digest
            if actual_diff != diff_id:
                raise DigestMismatchError(f"layer {descriptor.digest}: uncompressed content hashes to {actual_diff}, "
                                          f"but the image config expects {diff_id}")
            writer.commit(f"layer {descriptor.digest}")
            if writer.created:
                with lock:
                    new_blobs.append(descriptor.digest)
        events(TransferEvent(name, "Download complete"))
        return LayerRecord(diff_id, descriptor.digest, descriptor.mediaType, descriptor.size, scan.content_size)

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
