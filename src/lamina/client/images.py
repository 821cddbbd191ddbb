"""``client.images``: the store's images as :class:`~lamina.client.models.Image` objects.

The collection hands out models and calls the client's operations (``import_image``, ``pull``,
``build`` …), which stay the one implementation of each verb. Calling the collection itself,
``client.images(...)``, gives the rows of ``docker images`` (one per name), as it always did.
"""

from __future__ import annotations

import os

from lamina import TYPE_CHECKING
from lamina.client.models import Image
from lamina.errors import LaminaError
from lamina.oci.reference import parse_reference

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, BinaryIO

    from lamina.client.client import Client
    from lamina.client.records import ImageSummary, PruneReport
    from lamina.registry.push import PushResult
    from lamina.registry.search import SearchResult
    from lamina.registry.transfer_events import EventSink
    from lamina.store.store import RemovalReport

__all__ = ["ImageCollection"]


class ImageCollection:
    """The images of one client's store."""

    __slots__ = ("client",)

    def __init__(self, client: Client):
        self.client = client

    def __call__(self, reference: str | None = None, *, all: bool = False,
                 filters: Sequence[str] = ()) -> list[ImageSummary]:
        """``docker images``: one row per name; untagged images as ``<none>``. ``reference``
        narrows to ``REPO[:TAG]`` (globs allowed); ``filters`` are docker's ``KEY=VALUE`` filters."""
        from lamina.client.filters import ImageFilter
        from lamina.client.records import ImageSummary

        store = self.client.store
        image_filter = ImageFilter.parse(filters, self.client)
        records = store.list_images()
        parents = {r.parent for r in records if r.parent}
        rows: list[ImageSummary] = []
        for record in records:
            intermediate = not record.tags and not record.repo_digests and record.id in parents
            dangling = not record.tags and not record.repo_digests and not intermediate
            if intermediate and not all:
                continue
            names: list[tuple[str, str, str]] = []
            digests_by_repo: dict[str, str] = {}
            for repo_digest in record.repo_digests:
                ref = parse_reference(repo_digest, default_tag=False)
                digests_by_repo.setdefault(ref.familiar_repository, ref.digest or "")
            for name in record.tags:
                ref = parse_reference(name)
                names.append((ref.familiar_repository, ref.tag or "", digests_by_repo.get(ref.familiar_repository, "")))
            tagged_repos = {n[0] for n in names}
            for repo, digest in digests_by_repo.items():
                if repo not in tagged_repos:
                    names.append((repo, "<none>", digest))
            if not names:
                names.append(("<none>", "<none>", ""))
            for repository, tag, digest in names:
                row = ImageSummary(record.id, repository, tag, digest or "<none>", record.created,
                                   record.created_ts, record.size, record.labels, dangling, intermediate)
                if reference and not _matches_reference(reference, repository, tag):
                    continue
                if image_filter.accepts(row):
                    rows.append(row)
        return rows

    def list(self, name: str | None = None, *, all: bool = False, filters: Sequence[str] = ()) -> list[Image]:
        """One ``Image`` per image (not per name), in ``docker images``' order; the arguments
        are those of ``docker images``."""
        seen: dict[str, None] = {}
        for row in self(name, all=all, filters=filters):
            seen.setdefault(row.id)
        return [self.get(image_id) for image_id in seen]

    def get(self, name: str) -> Image:
        """The image a name, ID or ID prefix resolves to (ImageNotFoundError otherwise)."""
        return Image(self.client.inspect_image(name), self.client)

    def remove(self, name: str, *, force: bool = False, prune: bool = True) -> RemovalReport:
        """``docker rmi NAME``: the untagged names and deleted IDs."""
        result = self.client.remove_images([name], force=force, prune=prune)[0]
        if isinstance(result, LaminaError):
            raise result
        return result

    def pull(self, repository: str, tag: str | None = None, *, all_tags: bool = False,
             platform: str | None = None, events: EventSink | None = None) -> Image | list[Image]:
        """``docker pull``: the pulled image (a list of them with ``all_tags``). Progress goes to
        ``events`` (a callable receiving ``TransferEvent``)."""
        name = f"{repository}:{tag}" if tag else repository
        pulled = [self.get(result.image_id)
                  for result, _newer in self.client.pull(name, all_tags=all_tags, platform=platform, events=events)]
        return pulled if all_tags else pulled[0]

    def push(self, repository: str, tag: str | None = None, *, all_tags: bool = False,
             compression: str = "gzip", events: EventSink | None = None) -> list[PushResult]:
        """``docker push``: one ``PushResult`` (manifest digest, size) per tag pushed."""
        name = f"{repository}:{tag}" if tag else repository
        return self.client.push(name, all_tags=all_tags, compression=compression, events=events)

    def build(self, context: str | os.PathLike[str] | BinaryIO, *, progress: Callable[[Any], None] | None = None,
              **options: Any) -> Image:
        """``docker build``: the built image. ``options`` are :meth:`lamina.Client.build`'s
        (``dockerfile``, ``tags``, ``build_args``, ``target``, ``no_cache`` …); ``progress``
        receives the build events."""
        result = self.client.build(context, progress=progress, **options)
        return self.get(result.image_id)

    def load(self, source: str | os.PathLike[str] | BinaryIO) -> list[Image]:
        """``docker load`` of a docker-archive or oci-archive (path or stream): the images in it."""
        loaded = self.client.load(os.fspath(source) if isinstance(source, os.PathLike) else source)
        return [self.get(entry.image_id) for entry in loaded]

    def import_image(self, source: str | os.PathLike[str] | BinaryIO, reference: str | None = None, *,
                     changes: Sequence[str] = (), message: str = "", platform: str | None = None) -> Image:
        """``docker import``: a rootfs tar (path, URL, ``-`` or stream) as a one-layer image;
        ``changes`` are Dockerfile instructions (``CMD ["sh"]``, ``ENV A=1``)."""
        image_id = self.client.import_image(os.fspath(source) if isinstance(source, os.PathLike) else source,
                                            reference, changes=changes, message=message, platform=platform)
        return self.get(image_id)

    def prune(self, *, all: bool = False, filters: Sequence[str] = ()) -> PruneReport:
        """``docker image prune``: dangling images (``all``: every image no container uses)."""
        return self.client.prune_images(all=all, filters=filters)

    def prune_builds(self, *, all: bool = False) -> PruneReport:
        """``docker builder prune``: dangling step images and stale cache records."""
        return self.client.prune_build_cache(all=all)

    def search(self, term: str, *, limit: int = 25, filters: Sequence[str] = (),
               registry: str | None = None) -> list[SearchResult]:
        """``docker search`` (the same as ``client.registry.search``)."""
        return self.client.search(term, limit=limit, filters=filters, registry=registry)


def _matches_reference(pattern: str, repository: str, tag: str) -> bool:
    """``images REPO[:TAG]``: the repository (and tag) must match, globbing allowed."""
    slash, colon = pattern.rfind("/"), pattern.rfind(":")
    repo_pattern, tag_pattern = (pattern[:colon], pattern[colon + 1 :]) if colon > slash else (pattern, "")
    from fnmatch import fnmatchcase

    if not fnmatchcase(repository, repo_pattern):
        try:
            normalized = parse_reference(repo_pattern, default_tag=False).familiar_repository
        except LaminaError:
            return False
        if normalized != repository:
            return False
    return not tag_pattern or fnmatchcase(tag, tag_pattern)
