"""Two images compared: the files of their final filesystems, their configs, their histories.

Each image's filesystem is what a container would see: layers applied in order, whiteouts
deleting the path and everything below it in lower layers, an opaque marker hiding everything
the lower layers had in its directory (the OCI layer rules). A file is compared by type, size,
mode, owner, the sha256 of its contents and its link target; a hard link is compared as the
file it names (which name a tar stores as the link is chance). Layers both images share (same
diffID) are read once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from lamina.analysis.tree import OPAQUE_PREFIX, WHITEOUT_PREFIX, clean_path
from lamina.image.base import Image, Layer
from lamina.layer.tarread import TarReader

__all__ = ["FileEntry", "FileChange", "ImageDiff", "diff_images", "COMPARED_FIELDS"]

_KINDS = {b"0": "file", b"\0": "file", b"7": "file", b"1": "hardlink", b"2": "symlink", b"3": "char",
          b"4": "block", b"5": "dir", b"6": "fifo"}
COMPARED_FIELDS = ("kind", "size", "mode", "uid", "gid", "digest", "link")


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One path of a final filesystem."""

    kind: str  # file, dir, symlink, hardlink, char, block, fifo
    size: int
    mode: int  # permission and special bits (0o7777)
    uid: int
    gid: int
    digest: str  # "sha256:…" of a file's contents ("" for everything else)
    link: str  # a symlink's or hard link's target


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    before: FileEntry
    after: FileEntry

    @property
    def fields(self) -> list[str]:
        return [name for name in COMPARED_FIELDS if getattr(self.before, name) != getattr(self.after, name)]


@dataclass(slots=True)
class ImageDiff:
    """What differs between image A and image B (B seen as the newer)."""

    image_a: str
    image_b: str
    added: list[tuple[str, FileEntry]] = field(default_factory=list)
    removed: list[tuple[str, FileEntry]] = field(default_factory=list)
    changed: list[FileChange] = field(default_factory=list)
    #: config keys whose values differ: (key, value in A, value in B); None where a side lacks it
    config: list[tuple[str, object, object]] = field(default_factory=list)
    #: history entries (created_by) after the common prefix: (index, in A, in B)
    history: list[tuple[int, str | None, str | None]] = field(default_factory=list)
    shared_layers: int = 0  # leading layers both images have

    @property
    def identical(self) -> bool:
        return not (self.added or self.removed or self.changed or self.config or self.history)


def diff_images(image_a: Image, image_b: Image) -> ImageDiff:
    """Compare two open images (any sources).

    Leading layers both images have (same diffIDs) give both the same filesystem, so only paths
    the other layers touch can differ: those layers are read first, and the shared ones are then
    read for those paths alone (the rest of their data is skipped, not hashed).
    """
    layers_a, layers_b = image_a.layers(), image_b.layers()
    shared = 0
    while shared < min(len(layers_a), len(layers_b)) and layers_a[shared].diff_id == layers_b[shared].diff_id:
        shared += 1
    cache: dict[str, _LayerChanges] = {}
    upper_a = [_cached(cache, layer, image_a.name) for layer in layers_a[shared:]]
    upper_b = [_cached(cache, layer, image_b.name) for layer in layers_b[shared:]]
    relevant = _relevance([*upper_a, *upper_b]) if shared else None
    lower = [_read_layer(layer, image_a.name, relevant) for layer in layers_a[:shared]]
    files_a = _final_filesystem([*lower, *upper_a])
    files_b = _final_filesystem([*lower, *upper_b])
    result = ImageDiff(image_a=image_a.name, image_b=image_b.name, shared_layers=shared)
    for path in sorted(files_a.keys() | files_b.keys()):
        before, after = files_a.get(path), files_b.get(path)
        if before is None:
            result.added.append((path, after))  # type: ignore[arg-type]
        elif after is None:
            result.removed.append((path, before))
        elif before != after:
            result.changed.append(FileChange(path, before, after))
    config_a = _config(image_a)
    config_b = _config(image_b)
    result.config = _config_differences(config_a, config_b)
    result.history = _history_differences(config_a.get("history") or [], config_b.get("history") or [])
    return result


def _cached(cache: dict[str, _LayerChanges], layer: Layer, image_name: str) -> _LayerChanges:
    changes = cache.get(layer.diff_id)
    if changes is None:
        changes = cache[layer.diff_id] = _read_layer(layer, image_name)
    return changes


def _relevance(upper: list[_LayerChanges]) -> Callable[[str], bool]:
    """Which paths of the shared layers can matter: those the other layers write (and the files
    their hard links name), and everything below what they delete or make opaque."""
    touched: set[str] = set()
    roots: set[str] = set()
    for changes in upper:
        touched.update(changes.entries)
        touched.update(entry.link for entry in changes.entries.values() if entry.kind == "hardlink")
        roots.update(changes.whiteouts)
        roots.update(changes.opaque)
    if "" in roots:  # an opaque root directory: everything
        return lambda path: True

    def relevant(path: str) -> bool:
        if path in touched:
            return True
        while path:
            if path in roots:
                return True
            path = path.rpartition("/")[0]
        return False

    return relevant


@dataclass(slots=True)
class _LayerChanges:
    """One layer's effect: the opaque directories, the whiteouts, the entries it writes."""

    opaque: list[str] = field(default_factory=list)
    whiteouts: list[str] = field(default_factory=list)
    entries: dict[str, FileEntry] = field(default_factory=dict)


def _final_filesystem(layers: list[_LayerChanges]) -> dict[str, FileEntry]:
    files: dict[str, FileEntry] = {}
    children: dict[str, set[str]] = {}  # directory path -> names below it, for deleting subtrees
    for changes in layers:
        for directory in changes.opaque:
            for name in list(children.get(directory, ())):
                _delete(files, children, _join(directory, name))
        for path in changes.whiteouts:
            _delete(files, children, path)
        for path, entry in changes.entries.items():
            if entry.kind == "hardlink" and entry.link in files:  # a lower layer's file
                entry = _as_linked_file(entry, files[entry.link])
            files[path] = entry
            parent, _, name = path.rpartition("/")
            while True:  # a layer may name a file without its parent directories
                siblings = children.setdefault(parent, set())
                if name in siblings:
                    break
                siblings.add(name)
                if not parent:
                    break
                parent, _, name = parent.rpartition("/")
    return files


def _read_layer(layer: Layer, image_name: str, keep: Callable[[str], bool] | None = None) -> _LayerChanges:
    """A layer's whiteouts, opaque directories and entries (only the paths ``keep`` accepts)."""
    changes = _LayerChanges()
    with layer.open_uncompressed() as stream:
        reader = TarReader(stream, f"{image_name}: layer {layer.diff_id}")
        for member in reader:
            path = clean_path(member.name).strip("/")
            if path in (".", "") or path.startswith("../"):
                continue
            directory, _, name = path.rpartition("/")
            if name.startswith(OPAQUE_PREFIX):
                changes.opaque.append(directory)
                continue
            if name.startswith(WHITEOUT_PREFIX):
                changes.whiteouts.append(_join(directory, name[len(WHITEOUT_PREFIX):]))
                continue
            if keep is not None and not keep(path):
                continue
            kind = _KINDS.get(member.type, "other")
            digest = ""
            if kind == "file":
                hasher = hashlib.sha256()
                reader.copy_data(hasher.update)
                digest = "sha256:" + hasher.hexdigest()
            link = clean_path(member.linkname).strip("/") if kind == "hardlink" else member.linkname
            changes.entries[path] = FileEntry(kind=kind, size=member.size if kind == "file" else 0,
                                              mode=member.mode & 0o7777, uid=member.uid, gid=member.gid,
                                              digest=digest, link=link)
    for path, entry in changes.entries.items():
        if entry.kind == "hardlink" and entry.link in changes.entries:
            changes.entries[path] = _as_linked_file(entry, changes.entries[entry.link])
    return changes


def _as_linked_file(link: FileEntry, target: FileEntry) -> FileEntry:
    """A hard link is the file it names: which of two names a tar stores as the link is chance."""
    if target.kind != "file":
        return link
    return FileEntry(kind="file", size=target.size, mode=link.mode, uid=link.uid, gid=link.gid,
                     digest=target.digest, link="")


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _delete(files: dict[str, FileEntry], children: dict[str, set[str]], path: str) -> None:
    """Remove ``path`` and everything below it."""
    pending = [path]
    while pending:
        current = pending.pop()
        files.pop(current, None)
        below = children.pop(current, None)
        if below:
            pending.extend(_join(current, name) for name in below)
    parent, _, name = path.rpartition("/")
    siblings = children.get(parent)
    if siblings is not None:
        siblings.discard(name)


def _config(image: Image) -> dict:
    from lamina.oci.models import decode_json, parse_config

    data = image.config_bytes()
    parse_config(data, where=f"{image.name}: config")  # a config that is not one is an error here
    document = decode_json(data)
    return document if isinstance(document, dict) else {}


def _config_differences(config_a: dict, config_b: dict) -> list[tuple[str, object, object]]:
    """Differing runtime config keys (``config.Env`` …) and top-level fields (os, architecture…);
    rootfs and history are reported as files and history instead; ``created`` is left out."""
    differences: list[tuple[str, object, object]] = []
    runtime_a, runtime_b = config_a.get("config") or {}, config_b.get("config") or {}
    for key in sorted(runtime_a.keys() | runtime_b.keys()):
        if runtime_a.get(key) != runtime_b.get(key):
            differences.append((f"config.{key}", runtime_a.get(key), runtime_b.get(key)))
    skipped = {"config", "rootfs", "history", "created", "container_config", "container"}
    for key in sorted((config_a.keys() | config_b.keys()) - skipped):
        if config_a.get(key) != config_b.get(key):
            differences.append((key, config_a.get(key), config_b.get(key)))
    return differences


def _history_differences(history_a: list, history_b: list) -> list[tuple[int, str | None, str | None]]:
    steps_a = [_step(entry) for entry in history_a]
    steps_b = [_step(entry) for entry in history_b]
    common = 0
    while common < min(len(steps_a), len(steps_b)) and steps_a[common] == steps_b[common]:
        common += 1
    return [(index, steps_a[index] if index < len(steps_a) else None,
             steps_b[index] if index < len(steps_b) else None)
            for index in range(common, max(len(steps_a), len(steps_b)))]


def _step(entry: object) -> str:
    if not isinstance(entry, dict):
        return ""
    step = entry.get("created_by") or ""
    if entry.get("comment"):
        step += f" # {entry['comment']}" if step else f"# {entry['comment']}"
    return step + (" (empty layer)" if entry.get("empty_layer") else "")
