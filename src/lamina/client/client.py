"""The public Python API: one ``Client`` per store, with docker-py's collections.

    import lamina
    client = lamina.Client(root="/tmp/store")
    image = client.images.import_image("rootfs.tar", "busybox:latest")
    for container in client.containers.list(all=True):
        print(container.name, container.status)

The collections (``client.images``, ``containers``, ``volumes``, ``registry``, ``system``;
modules beside this one) hand out model objects and call the operations below; the operations
keep their docker-verb names (``inspect_image``, ``stop_container`` …) and are the one
implementation, so the flat names and the collections never disagree. Methods raise
subclasses of :class:`lamina.errors.LaminaError`. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from lamina import TYPE_CHECKING
from lamina.errors import ImageNotFoundError, LaminaError, UsageError
from lamina.oci.reference import parse_reference
from lamina.oci.timefmt import parse_rfc3339
from lamina.store.store import RemovalReport, Store

if TYPE_CHECKING:
    from typing import Any, BinaryIO

    from lamina.client.containers import ContainerCollection
    from lamina.client.images import ImageCollection
    from lamina.client.records import HistoryEntry, PruneReport
    from lamina.client.registry import RegistryCollection
    from lamina.client.system import SystemCollection
    from lamina.client.volumes import VolumeCollection
    from lamina.registry.pull import PullResult
    from lamina.registry.push import PushResult
    from lamina.registry.transfer_events import EventSink
    from lamina.store.fsck import FsckReport


class Client:
    """A handle on one lamina store (``root``; default ``$LAMINA_ROOT`` or the per-user dir).

    ``host="ssh://[user@]host[:port]"``: another host's store over ssh instead, as a
    :class:`lamina.remote.client.RemoteClient` (the same images/containers methods)."""

    def __new__(cls, root: str | os.PathLike[str] | None = None, *, host: str | None = None):
        if host is not None:
            from lamina.remote.client import RemoteClient

            return RemoteClient(host)
        return super().__new__(cls)

    def __init__(self, root: str | os.PathLike[str] | None = None, *, host: str | None = None):
        self._root = Path(root) if root is not None else None
        self._store: Store | None = None
        self._images: ImageCollection | None = None
        self._containers: ContainerCollection | None = None
        self._volumes: VolumeCollection | None = None
        self._registry_collection: RegistryCollection | None = None
        self._system: SystemCollection | None = None
        #: where registry credentials come from (None: docker's config.json and its helpers); the
        #: engine API sets one per request from the client's ``X-Registry-Auth`` header
        self.registry_credentials = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self._root)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----- collections (docker-py's shape; each module loads on first use) -------------
    @property
    def images(self) -> ImageCollection:
        """Images of the store: ``list``, ``get``, ``pull``, ``build`` … (calling it, as
        ``client.images()``, gives ``docker images``' rows)."""
        if self._images is None:
            from lamina.client.images import ImageCollection

            self._images = ImageCollection(self)
        return self._images

    @property
    def containers(self) -> ContainerCollection:
        """Containers of the store: ``run``, ``create``, ``get``, ``list``, ``prune``."""
        if self._containers is None:
            from lamina.client.containers import ContainerCollection

            self._containers = ContainerCollection(self)
        return self._containers

    @property
    def volumes(self) -> VolumeCollection:
        """Volumes: ``create``, ``get``, ``list``, ``prune`` (``client.volumes()``: the list)."""
        if self._volumes is None:
            from lamina.client.volumes import VolumeCollection

            self._volumes = VolumeCollection(self)
        return self._volumes

    @property
    def registry(self) -> RegistryCollection:
        """Registries: ``login``, ``logout``, ``search``, ``copy``, ``manifest``."""
        if self._registry_collection is None:
            from lamina.client.registry import RegistryCollection

            self._registry_collection = RegistryCollection(self)
        return self._registry_collection

    @property
    def manifests(self):
        """Local manifest lists (multi-platform images): ``create``, ``add``, ``annotate``,
        ``local``, ``index``, ``push``, ``remove`` (lamina.client.manifests)."""
        from lamina.client.manifests import ManifestLists

        return ManifestLists(self)

    @property
    def system(self) -> SystemCollection:
        """The store as a whole: ``df``, ``info``, ``version``, ``prune``, ``fsck``."""
        if self._system is None:
            from lamina.client.system import SystemCollection

            self._system = SystemCollection(self)
        return self._system

    # ----- listing --------------------------------------------------------------------
    def scan(self, image: str, *, scanners: str | None = None, severity: str | None = None,
             ignore_unfixed: bool = False, vex: Sequence[str] = (), ignore_files: Sequence[str] = (),
             platform: str | None = None, progress: Callable[[str], None] | None = None,
             on_warning: Callable[[str], None] | None = None):
        """Vulnerabilities, secrets and misconfigurations of an image, as ``lamina scan`` finds them.

        Returns a ``lamina.security.scan.report.ScanReport``; ``lamina.security.scan.render`` lays it
        out as table, Trivy JSON, SARIF or CycloneDX.
        """
        from lamina.security.scan import scan

        return scan(image, root=str(self._root) if self._root is not None else None, platform=platform,
                    scanners=scanners, severity=severity, ignore_unfixed=ignore_unfixed, vex=vex,
                    ignore_files=ignore_files, progress=progress, on_warning=on_warning)

    def inspect_image(self, name: str) -> dict[str, Any]:
        """``docker image inspect``: docker's keys, from the stored config."""
        from lamina.oci.models import decode_json

        image_id = self.store.resolve(name)
        record = self.store.image(image_id)
        document = decode_json(self.store.config_bytes(image_id))
        config = _docker_container_config(document.get("config") or {})
        return {
            "Id": image_id,
            "RepoTags": [parse_reference(t).familiar for t in record.tags],
            "RepoDigests": [parse_reference(d, default_tag=False).familiar for d in record.repo_digests],
            "Parent": record.parent,
            "Comment": document.get("comment", ""),
            "Created": document.get("created", ""),
            "DockerVersion": document.get("docker_version", ""),
            "Author": document.get("author", ""),
            "Config": config,
            "Architecture": document.get("architecture", ""),
            **({"Variant": document["variant"]} if document.get("variant") else {}),
            "Os": document.get("os", ""),
            "Size": record.size,
            "VirtualSize": record.size,
            "RootFS": {"Type": "layers", "Layers": list((document.get("rootfs") or {}).get("diff_ids") or [])},
            "Metadata": {"LastTagTime": ""},
        }

    def history(self, name: str) -> list[HistoryEntry]:
        """``docker history``: newest first; layer sizes matched to non-empty entries."""
        from lamina.client.records import HistoryEntry

        image_id = self.store.resolve(name)
        config = self.store.config(image_id)
        diff_ids = list(config.rootfs.diff_ids)
        sizes = []
        for diff_id in diff_ids:
            layer = self.store.layer_for(diff_id)
            sizes.append(layer.diff_size if layer else 0)
        entries: list[HistoryEntry] = []
        layer_index = 0
        history = config.history or [None] * len(diff_ids)  # type: ignore[list-item]
        for item in history:
            empty = bool(item.empty_layer) if item is not None else False
            size = 0
            if not empty and layer_index < len(sizes):
                size = sizes[layer_index]
                layer_index += 1
            created = (item.created if item is not None else None) or ""
            entries.append(HistoryEntry("<missing>", created, parse_rfc3339(created),
                                        (item.created_by or "") if item else "", size,
                                        (item.comment or "") if item else "", empty))
        # Like docker: the entry that tops each image of the local build chain (image, its
        # parent, …) shows that image's ID; entries from pulled or imported bases stay <missing>.
        current = image_id
        while current:
            count = len(self.store.config(current).history or [])
            if 0 < count <= len(entries) and entries[count - 1].id == "<missing>":
                entries[count - 1].id = current
            try:
                current = self.store.image(current).parent
            except ImageNotFoundError:
                break
        entries.reverse()
        if entries and entries[0].id == "<missing>":
            entries[0].id = image_id
        return entries

    # ----- names ----------------------------------------------------------------------
    def tag(self, source: str, target: str) -> str:
        image_id = self.store.resolve(source)
        ref = parse_reference(target)
        if ref.digest is not None:
            raise UsageError(f"refusing to create a tag with a digest reference: {target}")
        self.store.tag(image_id, ref)
        index_digest = ""
        with contextlib.suppress(LaminaError):
            source_ref = parse_reference(source)
            if self.store.lookup(source_ref) == image_id and source_ref.tag is not None:
                index_digest = self.store.tag_target(source_ref)
        if index_digest:  # the new name stands for the same multi-platform image
            self.store.set_tag_target(ref, index_digest)
        return image_id

    def remove_images(self, names: Sequence[str], *, force: bool = False,
                      prune: bool = True) -> list[RemovalReport | LaminaError]:
        """``docker rmi``: one report (or the error) per name, in order; the rest still run."""
        results: list[RemovalReport | LaminaError] = []
        for name in names:
            try:
                results.append(self.store.remove(name, force=force, prune=prune))
            except LaminaError as exc:
                results.append(exc)
        return results

    # ----- archives -------------------------------------------------------------------
    def import_image(self, source: str | BinaryIO, reference: str | None = None, *,
                     changes: Sequence[str] = (), message: str = "", platform: str | None = None) -> str:
        """``docker import``: a rootfs tarball (file path, URL, ``-``, or a stream) → image ID."""
        from lamina.archive.changes import apply_changes
        from lamina.archive.importer import import_rootfs

        ref = parse_reference(reference) if reference else None
        config = apply_changes({}, changes)
        plat = None
        if platform:
            from lamina.oci.platform import parse_platform

            p = parse_platform(platform)
            plat = (p.os, p.architecture, p.variant)
        with _open_source(source) as (stream, source_name):
            image_id = import_rootfs(self.store, stream, source_name=source_name, config=config,
                                     message=message, platform=plat, tags=[ref] if ref else [])
        return image_id

    def save(self, names: Sequence[str], out: BinaryIO, *, platform: str | None = None,
             compression: str | None = None, compression_level: int | None = None,
             force_compression: bool = False) -> None:
        """``docker save``: several images into one archive written to ``out``.

        A name the store does not have is read from its registry straight into the archive
        (docker refuses; lamina stores nothing on the way). ``platform`` picks from a
        registry's multi-platform index. ``compression`` (gzip, zstd, estargz, none; None:
        layers as stored) and its level and force apply to stored images as for ``push``.
        """
        from lamina.image.archive_writer import ArchiveEntry, write_docker_archive
        from lamina.image.layer_formats import check_level, converted_image
        from lamina.image.store_source import StoreImage

        if compression is not None:
            check_level(compression, compression_level)

        entries: dict[str, ArchiveEntry] = {}
        try:
            for name in names:
                try:
                    image_id = self.store.resolve(name)
                except ImageNotFoundError:
                    remote = _registry_image_for_save(name, platform)
                    entries.setdefault(f"remote:{name}", ArchiveEntry(remote, [parse_reference(name)]))
                    continue
                if image_id not in entries and compression is not None:
                    entries[image_id] = ArchiveEntry(converted_image(
                        self.store, image_id, name, compression, level=compression_level, force=force_compression))
                elif image_id not in entries:
                    entries[image_id] = ArchiveEntry(StoreImage(self.store, image_id, name))
                refs = entries[image_id].refs
                ref = None
                with contextlib.suppress(LaminaError):
                    candidate = parse_reference(name)
                    if self.store.lookup(candidate) == image_id and candidate.tag is not None:
                        ref = candidate
                if ref is None and not name.startswith("sha256:") and not _is_id_prefix_of(name, image_id):
                    # a repository name without tag: docker saves every tag of it
                    record = self.store.image(image_id)
                    ref_repo = parse_reference(name, default_tag=False)
                    for tag in record.tags:
                        tagged = parse_reference(tag)
                        if tagged.repository == ref_repo.repository and tagged not in refs:
                            refs.append(tagged)
                elif ref is not None and ref not in refs:
                    refs.append(ref)
            write_docker_archive(list(entries.values()), out)
        finally:
            for entry in entries.values():
                entry.image.close()

    def load(self, source: str | BinaryIO) -> list:
        """``docker load``: returns ``LoadedImage`` records (image ID, tags, replaced tags)."""
        from lamina.archive.load import load_archive

        with _open_source(source) as (stream, source_name):
            return load_archive(self.store, stream, what=source_name)

    # ----- build ----------------------------------------------------------------------
    def build(self, context: str | os.PathLike[str] | BinaryIO, *, dockerfile: str | None = None,
              tags: Sequence[str] = (), build_args: Sequence[str] = (), target: str | None = None,
              labels: Sequence[str] = (), no_cache: bool = False, network: str = "default",
              platform: str | None = None, secrets: Sequence[str] = (), pull: bool | None = None,
              progress: Callable[[Any], None] | None = None, cache_from: Sequence[str] = (),
              run_host_config: Mapping[str, Any] | None = None, builder: str | None = None,
              squash: bool = False, cache_to: Sequence[str] = ()) -> Any:
        """``docker build``: returns a ``BuildResult`` (image ID, tags).

        ``context`` is a directory, ``-`` (stdin: a tar context or a bare Dockerfile) or a tar
        stream; ``build_args``/``labels`` are ``K=V`` strings as on the command line; ``progress``
        receives ``lamina.build.events`` objects. Images the Dockerfile names are pulled when
        missing (``pull=None``, docker's default), always (``True``, ``--pull``) or never (``False``).
        ``cache_from`` names images (local, or pulled when missing) whose history and layers may
        stand in for steps, as docker's ``--cache-from`` does with the classic builder, or caches
        (``type=registry,ref=REF``, ``type=local,src=DIR``); ``cache_to`` exports the build's
        cache (``type=registry,ref=REF|type=local,dest=DIR[,mode=min|max]``, lamina.build.cacheexport).
        ``run_host_config``: docker's HostConfig fields for the RUN containers (made by
        ``lamina.runtime.hostflags.build_host_config`` from ``--add-host``, ``--ulimit``, ``-m`` …).
        ``builder``: ``"classic"`` (docker's classic builder's results, ``DOCKER_BUILDKIT=0``) or
        ``"buildkit"``; None is BuildKit, current docker's default (``lamina.build.mode``).
        ``squash``: docker's ``--squash``, the final stage's new layers merged into one on top of
        its base image (``lamina.analysis.squash``), history kept.
        """
        from lamina.build.executor import BuildOptions, build
        from lamina.build.inputs import (
            check_network,
            parse_build_args,
            parse_labels,
            parse_secrets,
            prepare_context,
        )
        from lamina.build.multiplatform import platform_resolver, split_platforms
        from lamina.runtime.scratch import scratch_dir, sweep_scratch

        platforms = split_platforms(platform)
        resolver = platform_resolver(self.store, None if pull is False else self._pull_for_build,
                                     always_pull=bool(pull)) if platforms else None
        sweep_scratch(self.store.root)  # what builds killed before they could clean up left
        with scratch_dir(self.store.root, "build") as scratch, prepare_context(context, dockerfile,
                                                                               scratch=scratch) as prepared:
            (scratch / "secrets").mkdir(mode=0o700)

            def options_for(one_platform: str | None, one_tags: list[str]) -> BuildOptions:
                return BuildOptions(
                    context_dir=prepared.directory, dockerfile=prepared.dockerfile,
                    dockerfile_text=prepared.dockerfile_text, tags=one_tags,
                    build_args=parse_build_args(build_args), target=target, labels=parse_labels(labels),
                    no_cache=no_cache, network=check_network(network), platform=one_platform,
                    secrets=parse_secrets(secrets, scratch / "secrets"), pull=bool(pull), scratch=scratch,
                    pull_image=None if pull is False else self._pull_for_build, cache_from=list(cache_from),
                    cache_to=list(cache_to),
                    run_host_config=dict(run_host_config or {}), builder=builder,
                    squash=self._squash_for_build if squash else None, platform_image=resolver,
                )

            if len(platforms) <= 1:
                return build(self.store, options_for(platforms[0] if platforms else None, list(tags)), progress)
            results = [build(self.store, options_for(one, []), progress) for one in platforms]
            return self._tag_platform_builds(results, list(tags), progress)

    def _tag_platform_builds(self, results: list, tags: list[str], progress=None) -> Any:
        """``build --platform a,b``: each tag names a manifest list of the platforms' images (a
        tag that named something else before is taken over, as a build's tag is)."""
        from lamina.build.executor import BuildResult
        from lamina.registry.manifestlist import create

        familiar = []
        for tag in tags:
            ref = parse_reference(tag)
            if ref.digest is not None:
                raise UsageError(f"refusing to create a tag with a digest reference: {tag}")
            self.store.untag(ref)
            create(self.store, str(ref), [result.image_id for result in results])
            familiar.append(ref.familiar)
            if progress is not None:
                from lamina.build.events import Tagged

                progress(Tagged(ref.familiar))
        default = self.store.resolve(tags[0]) if tags else results[0].image_id
        return BuildResult(image_id=default, tags=familiar,
                           warnings=[w for result in results for w in result.warnings])

    def _squash_for_build(self, image_id: str, base_id: str) -> str:
        """``build --squash``: the built image squashed onto its final stage's base; its ID."""
        from lamina.analysis.squash import squash_stored

        return squash_stored(self.store, image_id, base_id)

    def _pull_for_build(self, name: str, platform: str | None = None) -> str:
        """Pull one image a Dockerfile names (for ``platform``: that platform's); its ID."""
        image_id = ""
        for result, _ in self.pull(name, platform=platform):
            image_id = result.image_id
        return image_id

    # ----- cleanup --------------------------------------------------------------------
    def prune_images(self, *, all: bool = False, filters: Sequence[str] = ()) -> PruneReport:
        """``docker image prune``: dangling images (``all``: every image without a container)."""
        from lamina.client.filters import PruneFilter
        from lamina.client.records import PruneReport

        prune_filter = PruneFilter.parse(filters)
        report = PruneReport()
        before = _store_bytes(self.store)
        records = self.store.list_images()
        parents = {r.parent for r in records if r.parent}
        for record in records:
            named = bool(record.tags or record.repo_digests)
            if (named and not all) or (record.id in parents and not named):
                continue
            if self.store.containers_using(record.id):
                continue  # docker keeps every image a container was created from
            if not prune_filter.accepts(record):
                continue
            try:
                if named:  # prune -a: tagged but unused images go too
                    result = self.store.remove(record.id, force=True)
                else:
                    result = self.store.remove_dangling(record.id)
            except (ImageNotFoundError, LaminaError):
                continue
            report.untagged += result.untagged
            report.deleted += result.deleted
        report.space_reclaimed = max(0, before - _store_bytes(self.store))
        return report

    def prune_build_cache(self, *, all: bool = False) -> PruneReport:
        """``docker builder prune``: dangling step images and stale cache records; with ``all``,
        also every cache record and the RUN ``--mount=type=cache`` directories."""
        from lamina.layer.treeremoval import discard_tree  # iterative: any depth

        report = self.prune_images()  # abandoned step images are dangling images
        from lamina.store.repos.build import prune_build_records

        removed_rows = prune_build_records(self.store.meta, everything=all)
        mounts = Path(self.store.root) / "cache-mounts"
        if all and mounts.is_dir():
            from lamina.runtime.lifecycle import tree_size

            for entry in sorted(mounts.iterdir()):
                report.space_reclaimed += tree_size(entry)
                report.deleted.append(f"cache mount {entry.name[:12]}")
                discard_tree(entry)
        if removed_rows:
            report.deleted.append(f"{removed_rows} cache records")
        return report

    def fsck(self, *, repair: bool = False) -> FsckReport:
        from lamina.store.fsck import check_store

        return check_store(self.store, repair=repair)

    def system_df(self):
        """``docker system df``: a ``lamina.diskusage.DiskUsage`` of images, containers,
        volumes and build cache."""
        from lamina.diskusage import disk_usage

        return disk_usage(self.store, self.container_store if self._has_containers() else None)

    def _has_containers(self) -> bool:
        from lamina.store.repos.containers import ContainerRows

        return ContainerRows(self.store.meta).any()

    def info(self) -> dict[str, Any]:
        """``docker info``: counts, storage, runtime, kernel and registry settings (docker's keys)."""
        from lamina.registry.config import RegistryConfig
        from lamina.sysinfo import host_info

        states = [c.status for c in self.container_store.list()] if self._has_containers() else []
        return host_info(self.store, states, RegistryConfig.load())

    def version(self) -> dict[str, Any]:
        """``docker version``: lamina's version and the runtime it drives."""
        from lamina.sysinfo import version_document

        return version_document()

    def prune_system(self, *, all: bool = False, volumes: bool = False) -> dict[str, Any]:
        """``docker system prune``: stopped containers, then unused images (dangling ones unless
        ``all``), the build cache, and with ``volumes`` unused anonymous volumes."""
        containers, container_bytes = self.prune_containers() if self._has_containers() else ([], 0)
        images = self.prune_images(all=all)
        cache = self.prune_build_cache(all=all)
        removed_volumes, volume_bytes = self.prune_volumes() if volumes else ([], 0)
        return {"containers": containers, "images": images, "build_cache": cache, "volumes": removed_volumes,
                "space_reclaimed": container_bytes + images.space_reclaimed + cache.space_reclaimed + volume_bytes}

    # ----- volumes --------------------------------------------------------------------
    def _volume_store(self):
        from lamina.runtime.volumestore import VolumeStore

        containers = self.container_store.list() if self._has_containers() else []
        return VolumeStore(Path(self.store.root), {c.id: c.document.get("Mounts") or [] for c in containers})

    def inspect_volume(self, name: str) -> dict[str, Any]:
        return self._volume_store().get(name).document()

    def create_volume(self, name: str | None = None, *, driver: str = "local",
                      labels: dict[str, str] | None = None, options: dict[str, str] | None = None) -> str:
        """``docker volume create``: returns the volume's name (random when none is given)."""
        return self._volume_store().create(name, driver=driver, labels=labels, options=options).name

    def remove_volume(self, name: str, *, force: bool = False) -> None:
        self._volume_store().remove(name, force=force)

    def prune_volumes(self, *, all: bool = False, labels: Sequence[str] = ()) -> tuple[list[str], int]:
        """``docker volume prune``: unused anonymous volumes (``all``: named ones too)."""
        return self._volume_store().prune(all=all, labels=list(labels))

    # ----- registries -----------------------------------------------------------------
    def _registry(self, host: str):
        from lamina.registry.client import RegistryClient

        return RegistryClient(host, credentials=self.registry_credentials)

    def pull(self, name: str, *, all_tags: bool = False, platform: str | None = None,
             events: EventSink | None = None, announce: Callable[[str], None] | None = None,
             policy: str | None = None) -> list[tuple[PullResult, bool]]:
        """``docker pull``: pulls now and returns (PullResult, downloaded_newer) per tag pulled.

        Progress goes to ``events`` (a callable receiving :class:`TransferEvent`) while it runs;
        :meth:`iter_pull` is the same work handed out tag by tag, for callers that show results
        as they come (a generator would do nothing unless iterated, a trap for a verb).
        """
        return list(self.iter_pull(name, all_tags=all_tags, platform=platform, events=events, announce=announce,
                                   policy=policy))

    def iter_pull(self, name: str, *, all_tags: bool = False, platform: str | None = None,
                  events: EventSink | None = None, announce: Callable[[str], None] | None = None,
                  policy: str | None = None) -> Iterator[tuple[PullResult, bool]]:
        """The streaming :meth:`pull`: yields each tag's (PullResult, downloaded_newer) once it is
        pulled; nothing happens until it is iterated. ``policy``: a containers-policy.json checked
        before anything is stored (None: $LAMINA_POLICY, lamina's config dir, /etc/containers)."""
        from lamina.oci.platform import parse_platform
        from lamina.registry.pull import pull_image
        from lamina.registry.transfer_events import ignore
        from lamina.security.signing.policy import pull_gate

        ref = parse_reference(name)
        wanted = parse_platform(platform) if platform else None
        admit = pull_gate(policy)
        with self._registry(ref.domain) as registry:
            if all_tags:
                refs = [ref.with_tag(tag) for tag in registry.list_tags(ref.path)]
            else:
                refs = [ref]
            for target in refs:
                before = self.store.lookup(target)
                result = pull_image(self.store, registry, target, platform=wanted, events=events or ignore,
                                    max_concurrent=registry.config.max_concurrent_downloads, announce=announce,
                                    admit=admit)
                yield result, (before != result.image_id or result.downloaded)

    def push(self, name: str, *, all_tags: bool = False, compression: str = "gzip",
             events: EventSink | None = None, announce: Callable[[str], None] | None = None,
             compression_level: int | None = None, force_compression: bool = False) -> list[PushResult]:
        """``docker push``: pushes now and returns a PushResult per tag pushed.

        Progress goes to ``events`` while it runs; :meth:`iter_push` is the streaming variant.
        ``compression``: gzip, zstd, estargz or none (``lamina.image.layer_formats``);
        ``compression_level`` where a blob is made; ``force_compression`` remakes blobs stored
        in another compression.
        """
        return list(self.iter_push(name, all_tags=all_tags, compression=compression, events=events,
                                   announce=announce, compression_level=compression_level,
                                   force_compression=force_compression))

    def iter_push(self, name: str, *, all_tags: bool = False, compression: str = "gzip",
                  events: EventSink | None = None, announce: Callable[[str], None] | None = None,
                  compression_level: int | None = None, force_compression: bool = False,
                  ) -> Iterator[PushResult]:
        """The streaming :meth:`push`: yields each tag's PushResult once it is pushed; nothing
        happens until it is iterated."""
        from lamina.image.layer_formats import check_level
        from lamina.registry.push import push_image, push_index
        from lamina.registry.transfer_events import ignore

        check_level(compression, compression_level)
        ref = parse_reference(name, default_tag=False)
        if all_tags or (ref.tag is None and ref.digest is None):
            targets = [parse_reference(tag) for tag in self.store.tags_in_repository(ref.repository)]
            if not targets:
                raise ImageNotFoundError(f"An image does not exist locally with the tag: {ref.familiar}")
        else:
            targets = [ref]
        with self._registry(ref.domain) as registry:
            if announce:
                announce(f"The push refers to repository [{ref.repository}]")
            for target in targets:
                try:
                    image_id = self.store.resolve(str(target))
                except ImageNotFoundError:
                    raise ImageNotFoundError(
                        f"An image does not exist locally with the tag: {target.familiar_repository}") from None
                index_digest = self.store.tag_target(target) if target.tag is not None else ""
                if force_compression or compression_level is not None or compression != "gzip":
                    index_digest = ""  # a multi-platform index is pushed as stored only by a plain push
                whole = push_index(self.store, registry, target, index_digest, events=events or ignore,
                                   max_concurrent=registry.config.max_concurrent_uploads) if index_digest else None
                yield whole or push_image(self.store, registry, target, image_id, compression=compression,
                                          events=events or ignore, level=compression_level,
                                          force=force_compression,
                                          max_concurrent=registry.config.max_concurrent_uploads)

    def login(self, server: str, username: str, password: str) -> str:
        from lamina.registry.login import login

        return login(server, username, password)

    def logout(self, server: str) -> str:
        from lamina.registry.login import logout

        return logout(server)

    def search(self, term: str, *, limit: int = 25, filters: Sequence[str] = (), registry: str | None = None):
        """``docker search``: Docker Hub's search API, or the /v2/_catalog of other registries."""
        from lamina.registry.search import search

        return search(term, limit=limit, filters=filters, registry=registry)

    def manifest_inspect(self, name: str):
        ref = parse_reference(name)
        with self._registry(ref.domain) as registry:
            return registry.get_manifest(ref.path, ref.digest or ref.tag or "latest")

    def copy(self, source: str, destination: str, *, all_platforms: bool = False, platform: str | None = None,
             events=None) -> str:
        """Copy an image from one place to another; returns the manifest digest written.

        Both ends are image specs (lamina.image.spec): ``docker-archive:``, ``oci-archive:``,
        ``oci:``, ``store:``, ``docker://`` or a plain name. Between two registries (plain names
        or docker://) blobs go registry to registry, mounted when both are on one registry, and
        ``all_platforms`` copies a whole multi-platform index. Anything else is "open a source,
        write to a sink": a plain source name is the store's image if it has one, else the
        registry's; a plain destination is a registry.
        """
        from lamina.image import open_image, write_image
        from lamina.image.spec import parse_spec
        from lamina.registry.transfer_events import ignore

        src, dst = parse_spec(source), parse_spec(destination)
        if src.transport in ("", "docker") and dst.transport in ("", "docker"):
            from lamina.registry.copy import copy_image

            from_ref, to_ref = parse_reference(src.location), parse_reference(dst.location)
            with self._registry(from_ref.domain) as source_registry, self._registry(to_ref.domain) as target_registry:
                digest = copy_image(self.store, source_registry, from_ref, target_registry, to_ref,
                                    all_platforms=all_platforms, events=events or ignore)
                from lamina.security.signing.attachments import copy_attachments

                copy_attachments(source_registry, from_ref.path, target_registry, to_ref.path, digest)  # cosign copy
                return digest
        if all_platforms:
            raise UsageError("--all copies multi-platform images between registries only")
        with open_image(source, store=self.store, platform=platform) as image:
            return write_image(image, destination, store=self.store, events=events or ignore)

    # ----- containers -----------------------------------------------------------------
    @property
    def container_store(self):
        """The store's containers (``lamina.runtime.containers.ContainerStore``)."""
        from lamina.runtime.containers import ContainerStore

        if getattr(self, "_container_store", None) is None or self._container_store.store is not self.store:
            self._container_store = ContainerStore(self.store)
        return self._container_store

    def container(self, name: str):
        """A container by ID, name or unique ID prefix (ContainerNotFoundError otherwise)."""
        return self.container_store.resolve(name)

    def create_container(self, image: str, options, *, announce=None, events=None) -> str:
        """``docker create``: pulls the image per ``options.pull``; returns the container ID."""
        import json

        from lamina.runtime import lifecycle
        from lamina.runtime.slirp import find_slirp4netns

        image_id = self._image_for_run(image, options.pull, platform=getattr(options, "platform", None),
                                       policy=getattr(options, "policy", None), announce=announce, events=events)
        image_config = (json.loads(self.store.config_bytes(image_id)).get("config") or {})
        default_network = "private" if find_slirp4netns() else "none"
        container = lifecycle.create(self.container_store, image, image_id, image_config, options,
                                     default_network=default_network)
        return container.id

    def start_container(self, name: str, *, attach=None, raw_terminal: int | None = None) -> int | None:
        """``docker start``: detached (returns None once it runs) or attached (``attach``, a
        ``lamina.Attach`` of this process's file descriptors: runs here until it exits, returns
        the exit code). ``raw_terminal``: a terminal descriptor put in raw mode while attached,
        so that keys reach the container's tty unprocessed (``run -it``)."""
        from lamina.runtime.lifecycle import prepare_start
        from lamina.runtime.monitor import launch_monitor, supervise

        container = self.container(name)
        if container.running:
            return None
        prepare_start(self.container_store, container)
        if attach is not None:
            if raw_terminal is None:
                return supervise(self.store, container.id, attach=attach)
            from lamina.runtime.lifecycle import _raw_terminal  # the runtime's one tty helper

            with _raw_terminal(raw_terminal):
                return supervise(self.store, container.id, attach=attach)
        launch_monitor(self.store.root, container.id)
        return None

    def container_size(self, name: str) -> dict[str, int]:
        """``inspect --size``: docker's ``SizeRw`` (what the container wrote) and ``SizeRootFs``
        (that plus its image)."""
        from lamina.runtime.lifecycle import tree_size

        container = self.container(name)
        written = tree_size(container.base / "upper")
        try:
            image_size = self.store.image(container.image_id).size
        except LaminaError:
            image_size = 0
        return {"SizeRw": written, "SizeRootFs": written + image_size}

    def stop_container(self, name: str, *, timeout: int | None = None, signal: str | None = None) -> None:
        """``docker stop``: ``signal`` (default: the container's StopSignal, else SIGTERM), then
        SIGKILL after ``timeout`` seconds."""
        from lamina.runtime import lifecycle

        lifecycle.stop(self.container_store, self.container(name), timeout, signal)

    def restart_container(self, name: str, *, timeout: int | None = None, signal: str | None = None) -> None:
        self.stop_container(name, timeout=timeout, signal=signal)
        self.start_container(name)

    def kill_container(self, name: str, *, signal: str = "KILL") -> None:
        from lamina.runtime import lifecycle

        lifecycle.kill(self.container_store, self.container(name), signal)

    def wait_container(self, name: str) -> int:
        from lamina.runtime import lifecycle

        return lifecycle.wait(self.container_store, self.container(name))

    def remove_container(self, name: str, *, force: bool = False, volumes: bool = False) -> str:
        from lamina.runtime import lifecycle

        container = self.container(name)
        lifecycle.remove(self.container_store, container, force=force, volumes=volumes)
        return container.id

    def list_containers(self, *, all: bool = False, filters: Sequence[str] = ()) -> list:
        """``docker ps``: running containers (``all``: every one), newest first."""
        from lamina.runtime.filters import ContainerFilter

        container_filter = ContainerFilter.parse(filters, self)
        return [c for c in self.container_store.list()
                if (all or c.running or container_filter.wants_stopped) and container_filter.accepts(c)]

    def inspect_container(self, name: str) -> dict[str, Any]:
        from lamina.runtime import lifecycle

        return lifecycle.inspect_document(self.container_store, self.container(name))

    def container_logs(self, name: str, *, follow: bool = False, tail: int | None = None, since: str | None = None,
                       until: str | None = None):
        """``docker logs``: yields ``LogEntry`` (stream, text, time_ns)."""
        from lamina.runtime.logs import parse_since, read_log

        container = self.container(name)
        containers = self.container_store
        if (container.host_config.get("LogConfig") or {}).get("Type") == "none":
            raise LaminaError("configured logging driver does not support reading")

        def still_running() -> bool:
            current = containers.get(container.id)
            return current is not None and containers.refresh(current).running

        yield from read_log(container.log_path, tail=tail, since_ns=parse_since(since) if since else 0,
                            until_ns=parse_since(until) if until else 0, follow=still_running if follow else None)

    def attach_container(self, name: str):
        """``docker attach`` (output only): an iterator of the running container's new output
        (``LogEntry``) until it stops."""
        from lamina.errors import ConflictError

        if not self.container(name).running:
            raise ConflictError("You cannot attach to a stopped container, start it first")
        return self.container_logs(name, follow=True, tail=0)

    def exec_in_container(self, name: str, command: Sequence[str], **options) -> int:
        from lamina.runtime import lifecycle

        return lifecycle.exec_process(self.container_store, self.container(name), list(command), **options)

    def export_container(self, name: str, out: BinaryIO) -> None:
        from lamina.runtime import lifecycle

        lifecycle.export(self.container_store, self.container(name), out)

    def commit_container(self, name: str, reference: str | None = None, *, changes: Sequence[str] = (),
                         message: str = "", author: str = "", pause: bool = True) -> str:
        from lamina.runtime import lifecycle

        tags = [parse_reference(reference)] if reference else []
        return lifecycle.commit(self.container_store, self.container(name), changes=list(changes),
                                message=message, author=author, pause=pause, tags=tags)

    def prune_containers(self) -> tuple[list[str], int]:
        from lamina.runtime import lifecycle

        return lifecycle.prune(self.container_store)

    def pause_container(self, name: str) -> None:
        from lamina.runtime import lifecycle

        lifecycle.pause(self.container_store, self.container(name))

    def unpause_container(self, name: str) -> None:
        from lamina.runtime import lifecycle

        lifecycle.unpause(self.container_store, self.container(name))

    def rename_container(self, name: str, new_name: str) -> None:
        from lamina.runtime import lifecycle

        lifecycle.rename(self.container_store, self.container(name), new_name)

    def container_top(self, name: str, ps_args: Sequence[str] = ()) -> tuple[list[str], list[list[str]]]:
        """``docker top``: the titles and rows of the host's ``ps`` for the container's processes."""
        from lamina.runtime.processes import top

        return top(self.container_store, self.container(name), list(ps_args))

    def container_ports(self, name: str) -> list[tuple[str, str, int]]:
        """``docker port``: (``PORT/PROTO``, host IP, host port) of a running container's bindings."""
        container = self.container(name)
        if not container.running:
            return []
        return [(f"{port}/{protocol}", host_ip or "0.0.0.0", host_port)
                for port, protocol, host_ip, host_port in container.document.get("Ports") or []]

    def copy_from_container(self, name: str, source: str, destination: str | BinaryIO, *,
                            follow_link: bool = False) -> None:
        """``docker cp CTR:SRC DEST``: DEST is a host path or a binary stream (gets a tar)."""
        from lamina.runtime.copy import copy_from_container

        copy_from_container(self.container_store, self.container(name), source, destination,
                            follow_link=follow_link)

    def copy_to_container(self, name: str, source: str | BinaryIO, destination: str, *, archive: bool = False,
                          follow_link: bool = False) -> None:
        """``docker cp SRC CTR:DEST``: SRC is a host path or a binary stream (a tar for DEST)."""
        from lamina.runtime.copy import copy_to_container

        copy_to_container(self.container_store, self.container(name), source, destination, archive=archive,
                          follow_link=follow_link)

    def container_changes(self, name: str) -> list[tuple[str, str]]:
        """``docker diff``: (``A``/``C``/``D``, path) for what the container changed."""
        from lamina.runtime.diff import container_changes

        return container_changes(self.container_store, self.container(name))

    def container_stats(self, names: Sequence[str] = (), *, all: bool = False) -> list:
        """``docker stats --no-stream``: two readings per container (``ResourceUsage``), half a
        second apart; running containers unless named or ``all``."""
        from lamina.runtime.processes import sample_twice

        targets = ([self.container(name) for name in names] if names
                   else [c for c in self.container_store.list() if all or c.running])
        return sample_twice(self.container_store, targets)

    def _image_for_run(self, image: str, pull: str, *, platform: str | None = None, policy: str | None = None,
                       announce=None, events=None) -> str:
        """The image ID to run: local, else pulled (``--pull missing|always|never``); with
        ``platform``, a local image of another platform counts as missing (pulled for it)."""
        if pull not in ("missing", "always", "never"):
            raise UsageError(f'invalid pull option: \'{pull}\': must be one of "always", "missing" or "never"')
        wanted = _requested_platform(platform) if platform else None
        if pull != "always":
            try:
                image_id = self.store.resolve(image)
                actual = _image_platform(self.store.config_bytes(image_id)) if wanted else None
                if wanted is None or wanted.matches(*actual):
                    return image_id
                sibling = _local_platform_image(self.store, image, wanted)
                if sibling:  # a local manifest list (or pulled index) holds this platform's image too
                    return sibling
                if pull == "never":
                    raise ImageNotFoundError(
                        f"image with reference {image} was found but does not match the specified platform: "
                        f"wanted {wanted}, actual: {'/'.join(part for part in actual if part)}")
                if announce is not None:
                    announce(f"Unable to find image '{image}' for platform {wanted} locally")
            except ImageNotFoundError as missing:
                if missing.args and "does not match the specified platform" in str(missing):
                    raise
                try:
                    familiar = parse_reference(image).familiar
                except LaminaError:
                    raise ImageNotFoundError(f"No such image: {image}") from None
                if pull == "never":  # docker names the normalised reference, tag included
                    raise ImageNotFoundError(f"No such image: {familiar}") from None
                if announce is not None:
                    announce(f"Unable to find image '{familiar}' locally")
        for result, newer in self.pull(image, platform=str(wanted) if wanted else None, events=events,
                                       announce=announce, policy=policy):
            if announce is not None:
                status = "Downloaded newer image for " if newer else "Image is up to date for "
                announce(f"Digest: {result.digest}\nStatus: {status}{result.reference.familiar}")
            return result.image_id
        raise ImageNotFoundError(f"No such image: {image}")


def _requested_platform(text: str):
    """``--platform`` as docker's client parses it (os[/arch[/variant]])."""
    from lamina.oci.platform import parse_platform

    if not text or text.count("/") > 2 or any(not part for part in text.split("/")):
        raise UsageError(f'error parsing specified platform: "{text}": cannot parse platform specifier: '
                         "invalid argument")
    return parse_platform(text)


def _local_platform_image(store: Store, image: str, wanted) -> str:
    """The stored image for ``wanted`` among the children of the index ``image``'s tag names; ''."""
    from lamina.oci.models import parse_index

    with contextlib.suppress(LaminaError):
        ref = parse_reference(image)
        target = store.tag_target(ref) if ref.tag is not None else ""
        if target and store.content.has(target):
            for child in parse_index(store.content.read(target)).manifests:
                p = child.platform
                if p is not None and wanted.matches(p.os, p.architecture, p.variant or ""):
                    found = store.manifest_image(child.digest)
                    if found:
                        return store.image(found).id  # ImageNotFoundError when it left the store
    return ""


def _image_platform(config_bytes: bytes) -> tuple[str, str, str]:
    """(os, architecture, variant) an image config states (docker's defaults: linux, amd64)."""
    import json

    config = json.loads(config_bytes)
    return (config.get("os") or "linux", config.get("architecture") or "amd64", config.get("variant") or "")


def _registry_image_for_save(name: str, platform: str | None):
    """The registry's image for a name ``save`` did not find in the store; else docker's error."""
    from lamina.image.registry_source import open_registry_image
    from lamina.oci.digest import looks_like_id_prefix

    if name.startswith("sha256:") or looks_like_id_prefix(name):
        raise ImageNotFoundError(f"No such image: {name}")
    try:
        parse_reference(name)
    except LaminaError:
        raise ImageNotFoundError(f"No such image: {name}") from None
    try:
        return open_registry_image(name, name, platform=platform)
    except LaminaError as exc:
        raise ImageNotFoundError(f"No such image: {name} (not in the store; its registry: {exc})") from None


def _store_bytes(store: Store) -> int:
    total = 0
    for digest in store.content.digests():
        with contextlib.suppress(FileNotFoundError):
            total += store.content.size(digest)
    return total


def _is_id_prefix_of(name: str, image_id: str) -> bool:
    body = name.removeprefix("sha256:")
    return image_id.removeprefix("sha256:").startswith(body)


_DOCKER_CONFIG_KEYS = (
    ("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False), ("AttachStdout", False),
    ("AttachStderr", False), ("Tty", False), ("OpenStdin", False), ("StdinOnce", False), ("Env", None),
    ("Cmd", None), ("Image", ""), ("Volumes", None), ("WorkingDir", ""), ("Entrypoint", None),
    ("OnBuild", None), ("Labels", None),
)


def _docker_container_config(config: dict[str, Any]) -> dict[str, Any]:
    """The image config's ``config`` with docker's defaults filled in, as docker inspect shows it."""
    result = {key: config.get(key, default) for key, default in _DOCKER_CONFIG_KEYS}
    for key, value in config.items():
        if key not in result:
            result[key] = value
    return result


@contextlib.contextmanager
def _open_source(source: str | BinaryIO):
    """A path, ``-`` (stdin), an http(s) URL, or an open binary stream."""
    import sys

    if not isinstance(source, str):
        yield source, getattr(source, "name", "stream")
        return
    if source == "-":
        yield sys.stdin.buffer, "-"
        return
    if source.startswith(("http://", "https://")):
        import httpx

        with httpx.stream("GET", source, follow_redirects=True, timeout=60) as response:
            if response.status_code != 200:
                raise LaminaError(f"{source}: HTTP {response.status_code}")
            yield _IterStream(response.iter_raw()), source
        return
    try:
        with open(source, "rb") as stream:
            yield stream, source
    except FileNotFoundError:
        raise LaminaError(f"open {source}: no such file or directory") from None
    except IsADirectoryError:
        raise LaminaError(f"{source}: is a directory, not an archive") from None


class _IterStream:
    """A read()-able view of an iterator of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


__all__ = ["Client"]
