"""Where COPY/ADD read from: the build context, another image's files, or files the build made.

A :class:`SourceTree` is a directory the builder may read below, with the rules of its kind:
the context honours .dockerignore (an excluded directory whose child an ``!`` exception brings
back shows up as a plain 0755 directory, as docker's context tar makes it); an image's root
filesystem and the builder's own temp dirs show everything. :func:`source_checksum` gives the
``file:…``/``dir:…`` digests docker records in history, which the build cache keys on.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec

from lamina.build.context import ContextError, match_sources, walk_context
from lamina.build.digests import FileDigests
from lamina.build.dockerignore import PatternMatcher

_IMPLIED_DIR_MODE = stat.S_IFDIR | 0o755


class SourceTree:
    """A directory COPY may read: a build context, an image's files, or a builder temp dir."""

    def __init__(self, root: Path, matcher: PatternMatcher | None = None):
        self.root = root.resolve()
        self.base = str(self.root)
        self.matcher = matcher if matcher is not None and matcher.patterns else None

    def host_path(self, rel: str) -> str:
        return self.base if rel in ("", ".") else os.path.join(self.base, rel)

    def lstat(self, rel: str) -> os.stat_result:
        return os.lstat(self.host_path(rel))

    def match(self, source: str) -> list[tuple[str, str]]:
        """``(matched, resolved)`` paths a COPY source names (see :func:`match_sources`)."""
        return match_sources(self.root, source, self.matcher)

    def below(self, rel: str) -> Iterator[tuple[str, str, os.stat_result]]:
        """Everything under directory ``rel``: ``(path below rel, host path, lstat)``, parents first."""
        base = self.host_path(rel)
        for sub, info in walk_context(base):
            yield sub, os.path.join(base, sub), info


class ContextTree(SourceTree):
    """The build context after .dockerignore, walked once per build.

    ``dockerfile`` is the Dockerfile's path in the context, if it is there. docker's client
    sends it even when .dockerignore excludes it, and the daemon then deletes it from the
    context: what stays are its parent directories, as plain 0755 directories, when they
    are excluded too (``-f sub/Dockerfile`` with ``sub`` ignored gives an empty ``sub``).
    """

    def __init__(self, root: Path, matcher: PatternMatcher | None = None, dockerfile: str | None = None):
        super().__init__(root, matcher)
        self.entries: list[tuple[str, os.stat_result]] = list(walk_context(self.root, self.matcher))
        self._index = {rel: position for position, (rel, _) in enumerate(self.entries)}
        self.kept_dirs: set[str] = set()
        if dockerfile and self.matcher is not None and self.matcher.matches(dockerfile):
            self._keep_parents(dockerfile)

    def _keep_parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        now = int(time.time())
        implied = os.stat_result((_IMPLIED_DIR_MODE, 0, 0, 1, 0, 0, 0, now, now, now),
                                 {"st_mtime_ns": now * 1_000_000_000, "st_rdev": 0})
        for depth in range(1, len(parts) + 1):
            directory = "/".join(parts[:depth])
            if directory not in self._index:
                self.kept_dirs.add(directory)
                self.entries.append((directory, implied))
        if self.kept_dirs:
            self.entries.sort(key=lambda entry: entry[0].split("/"))  # the walk's order: parents first
            self._index = {rel: position for position, (rel, _) in enumerate(self.entries)}

    def match(self, source: str) -> list[tuple[str, str]]:
        """As :meth:`SourceTree.match`; a path climbing out of the context fails as in docker's
        classic builder (BuildKit would look for it at the context root)."""
        cleaned = posixpath.normpath(source)
        if cleaned == ".." or cleaned.startswith("../"):
            raise ContextError(f"forbidden path outside the build context: {source} ()")
        if cleaned.strip("/") in self.kept_dirs:
            return [(cleaned.strip("/"), cleaned.strip("/"))]
        return super().match(source)

    def tar_size(self) -> int:
        """About the size of the context as a tar (what docker reports as "sending")."""
        size = 1024
        for _, info in self.entries:
            size += 512
            if stat.S_ISREG(info.st_mode):
                size += -(-info.st_size // 512) * 512
        return size

    def below(self, rel: str) -> Iterator[tuple[str, str, os.stat_result]]:
        if rel in ("", "."):
            prefix, start = "", 0
        else:
            prefix = rel.rstrip("/") + "/"
            position = self._index.get(rel)
            if position is None:
                # ``rel`` was excluded but a child was brought back: find the first child
                position = next((i for i, (path, _) in enumerate(self.entries) if path.startswith(prefix)), len(self.entries))
                start = position
            else:
                start = position + 1
        made: set[str] = set()
        for path, info in self.entries[start:]:
            if not path.startswith(prefix):
                if prefix:
                    break
            sub = path[len(prefix):]
            parent = sub.rpartition("/")[0]
            if parent and parent not in made:
                yield from self._implied_parents(parent, prefix, made, info)
            if stat.S_ISDIR(info.st_mode):
                made.add(sub)
            yield sub, os.path.join(self.base, path), info

    def _implied_parents(
        self, parent: str, prefix: str, made: set[str], child: os.stat_result
    ) -> Iterator[tuple[str, str, os.stat_result]]:
        parts = parent.split("/")
        for depth in range(1, len(parts) + 1):
            directory = "/".join(parts[:depth])
            if directory in made:
                continue
            made.add(directory)
            implied = os.stat_result((_IMPLIED_DIR_MODE, 0, 0, 1, 0, 0, 0, 0, int(child.st_mtime), 0),
                                     {"st_mtime_ns": child.st_mtime_ns, "st_rdev": 0})
            yield directory, os.path.join(self.base, prefix + directory), implied


class Source(msgspec.Struct, frozen=True):
    """One thing a COPY/ADD source named: a file or a directory in a tree.

    ``name`` is the base name a file gets when copied into a directory (the name as written,
    e.g. the symlink's, not its target's). ``local`` sources (context files) are the only ones
    ADD may unpack. ``preserve_owner``: ``COPY --from`` keeps the owners of the source image.
    """

    tree: SourceTree
    rel: str
    name: str
    is_dir: bool
    local: bool = True
    preserve_owner: bool = False
    under: str = ""  # COPY --parents: the source's directory path, kept below the destination
    exclude: PatternMatcher | None = None  # --exclude, matched below a directory source

    def entries(self) -> Iterator[tuple[str, str, os.stat_result]]:
        """What a directory source copies (``--exclude`` applied), parents first."""
        for sub, path, info in self.tree.below(self.rel):
            if self.exclude is None or not self.exclude.matches(sub):
                yield sub, path, info

    @property
    def host_path(self) -> str:
        return self.tree.host_path(self.rel)


def source_checksum(sources: list[Source], digests: FileDigests | None = None) -> str:
    """docker's history digest of a COPY's sources: ``file:<hex>``, ``dir:<hex>`` or ``multi:<hex>``.

    Covers paths, contents, modes, owners and link targets, never mtimes, so the build cache
    hits when nothing that ends up in the image changed. ``digests`` spares reading files
    whose content digest is already known.
    """
    known = digests if digests is not None else FileDigests()
    for source in sources:
        known.prepare(source.tree.base)
    parts = [_one_checksum(source, known) for source in sources]
    if len(parts) == 1:
        return parts[0]
    return "multi:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _one_checksum(source: Source, known: FileDigests) -> str:
    if not source.is_dir:
        info = os.stat(source.host_path)
        digest = hashlib.sha256(_entry_line(source.name, info, source.host_path, known)).hexdigest()
        return "file:" + digest
    digest = hashlib.sha256()
    for sub, path, info in source.entries():
        digest.update(_entry_line(sub, info, path, known))
    return "dir:" + digest.hexdigest()


def _entry_line(name: str, info: os.stat_result, path: str, known: FileDigests) -> bytes:
    mode = info.st_mode
    detail = ""
    if stat.S_ISREG(mode):
        detail = known.digest(path, info)
    elif stat.S_ISLNK(mode):
        detail = os.readlink(path)
    line = f"{name}\0{mode:o}\0{info.st_uid}:{info.st_gid}\0{info.st_size if stat.S_ISREG(mode) else 0}\0{detail}\n"
    return line.encode("utf-8", "surrogateescape")

