"""The no-op rebuild fast path: answer an unchanged build without loading the builder.

A rebuild of the same Dockerfile, arguments and context, on a store whose tags have not moved
since, is fully cached: docker would print every step as "Using cache" and end on the same
image. Here that answer is found by stat-ing the context (path, type, mode, owner, size, inode,
mtime and ctime of every entry: any write changes ctime, so content edits can't hide) instead of
re-reading it, and by one hash of the tags table. Only the standard library and the store are
imported; on any doubt (no record, a changed file, a moved tag, a removed step image, ADD of a
URL, ONBUILD triggers) the real builder runs and records the next answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Sequence

from lamina.store.repos.build import FastpathRows


class FastRequest:
    """What a build was asked to do (a plain class: ``dataclasses`` costs this path ~15 ms to import)."""

    __slots__ = ("context", "dockerfile", "tags", "build_args", "target", "labels", "network", "platform",
                 "secrets", "builder")

    def __init__(self, context: str, dockerfile: str | None, tags: Sequence[str], build_args: Sequence[str],
                 target: str | None, labels: Sequence[str], network: str, platform: str | None,
                 secrets: Sequence[str], builder: str = "buildkit"):
        self.context, self.dockerfile, self.tags, self.build_args = context, dockerfile, tags, build_args
        self.target, self.labels, self.network, self.platform = target, labels, network, platform
        self.secrets = secrets
        self.builder = builder  # the requested semantics: one mode never replays the other's answer

    def key(self) -> str | None:
        """The request's identity, or None when it cannot take the fast path."""
        if self.context == "-" or self.dockerfile == "-" or not os.path.isdir(self.context):
            return None
        dockerfile = self.dockerfile or os.path.join(self.context, "Dockerfile")
        try:
            with open(dockerfile, "rb") as source:
                text = source.read()
        except OSError:
            return None
        lowered = text.lower()
        if b"http://" in lowered or b"https://" in lowered or b"onbuild" in lowered or b"git@" in lowered:
            return None  # remote sources are re-checked by docker; triggers print differently
        from lamina import __version__

        args = [a if "=" in a else f"{a}={os.environ.get(a, '')}" for a in self.build_args]
        document = {
            "version": __version__, "context": os.path.abspath(self.context),
            "dockerfile": os.path.abspath(dockerfile), "dockerfile_sha": hashlib.sha256(text).hexdigest(),
            "tags": list(self.tags), "args": args, "target": self.target, "labels": list(self.labels),
            "network": self.network, "platform": self.platform,
            "secrets": [_secret_identity(s) for s in self.secrets], "builder": self.builder,
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


class FastAnswer:
    """A recorded build's result: its image and what it printed."""

    __slots__ = ("image_id", "transcript")

    def __init__(self, image_id: str, transcript: list[list[str]] | None = None):
        self.image_id = image_id
        self.transcript = transcript if transcript is not None else []


def context_fingerprint(root: str) -> str:
    """Metadata of every entry under ``root`` (no symlink is followed), in a stable order."""
    digest = hashlib.sha256()
    for directory, dirs, files in _walk(root):
        for name in sorted(files + dirs):
            path = os.path.join(directory, name)
            try:
                st = os.lstat(path)
                target = os.readlink(path) if os.path.islink(path) else ""
            except OSError:
                continue
            digest.update(
                f"{os.path.relpath(path, root)}\0{st.st_mode}\0{st.st_uid}\0{st.st_gid}\0{st.st_size}\0"
                f"{st.st_ino}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{target}\n".encode("utf-8", "surrogateescape")
            )
    return digest.hexdigest()


def _walk(root: str):
    """``os.walk(root)`` top-down with sorted subdirectories, in the same order, but with a stack
    instead of recursion (Python 3.11's os.walk recurses: a context 1,000 directories deep broke it)."""
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as scan:
                entries = list(scan)
        except OSError:
            continue
        dirs, files, below = [], [], set()
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            (dirs if is_dir else files).append(entry.name)
            if is_dir and not entry.is_symlink():
                below.add(entry.name)
        dirs.sort()
        yield directory, dirs, files
        pending.extend(os.path.join(directory, name) for name in reversed(dirs) if name in below)


def tags_hash(store) -> str:
    return FastpathRows(store.meta).tags_hash()


def lookup(store, request: FastRequest) -> FastAnswer | None:
    key = request.key()
    if key is None:
        return None
    rows = FastpathRows(store.meta)
    row = rows.get(key)
    if row is None:
        return None
    if row["tags"] != rows.tags_hash() or row["context"] != context_fingerprint(request.context):
        return None
    if rows.missing_images(json.loads(row["step_images"]) + [row["image_id"]]):
        return None
    return FastAnswer(row["image_id"], json.loads(row["transcript"]))


def record(store, request: FastRequest, image_id: str, step_images: Iterable[str],
           transcript: list[list[str]]) -> None:
    """Remember a finished build's answer (rendered as a fully cached rebuild prints it)."""
    key = request.key()
    if key is None:
        return
    rows = FastpathRows(store.meta)
    rows.put(key, context_fingerprint(request.context), rows.tags_hash(), image_id,
             json.dumps(sorted(set(step_images))), json.dumps(transcript), time.time())


def _secret_identity(spec: str) -> str:
    """A secret's source by identity and change time, never its content."""
    fields = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
    source = fields.get("src") or fields.get("source")
    if source:
        try:
            st = os.stat(source)
            return f"{spec}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"
        except OSError:
            return spec
    if "env" in fields:
        value = os.environ.get(fields["env"], "")
        return f"{spec}\0{hashlib.sha256(value.encode()).hexdigest()}"
    return spec
