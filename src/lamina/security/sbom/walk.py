"""The layer walker: an image's final filesystem, restricted to the files catalogers want.

Why one pass per layer, base first: a cataloger needs the files as the running container would
see them (a later layer's whiteout deletes a package database, an opaque directory hides a whole
tree), but nothing here may unpack an image. Each layer tar is streamed once; files some
cataloger wants are spooled (small ones in memory up to a fixed budget, the rest to a private
temp dir, so memory stays flat whatever the image), everything else is skipped unread. Symlinks are recorded and followed only inside the view, so
a link to ``/`` or a loop never leaves it.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from lamina.store.layercache import LayerCache

__all__ = ["FileView", "MAX_SPOOL_FILE", "Wants", "build_view", "cache_stamp", "normalise_path"]

#: Largest file spooled for a cataloger; bigger ones are skipped with a warning.
MAX_SPOOL_FILE = 512 << 20
#: Symlink hops before a path is declared a loop (Linux's MAXSYMLINKS).
MAX_SYMLINK_HOPS = 40
#: Files up to this size are kept in memory while the total stays under MEMORY_BUDGET: a temp
#: file per wanted file costs an open, a write and an unlink (a third of a debian sbom's time).
MAX_MEMORY_FILE = 256 << 10
MEMORY_BUDGET = 64 << 20
#: Most paths (wanted files and symlinks) the view records: a layer of millions of symlinks
#: must not grow memory without bound. Far above real images (debian: ~1000 symlinks).
MAX_ENTRIES = 500_000
#: Earlier versions of a file kept (for "which layer added this record"): only small files.
MAX_HISTORY_FILE = 32 << 20

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


class Wants(Protocol):
    """What the walker asks of each file: the catalogers' ``wants``, or'ed."""

    def __call__(self, path: str, mode: int, size: int) -> bool: ...


@dataclass(slots=True)
class _Entry:
    """One recorded path of the view: a spooled regular file or a symlink."""

    layer: int  # index into the image's layers
    spool: str | bytes | None = None  # regular files: the content (bytes) or a temp file holding it
    target: str = ""  # link target (symlinks)
    size: int = 0
    mode: int = 0
    history: list[tuple[int, str | bytes]] = field(default_factory=list)  # earlier (layer, spool), oldest first


def normalise_path(name: str) -> str:
    """A tar member name as a path relative to the image root: no ``./``, ``/`` or trailing ``/``."""
    path = name[2:] if name.startswith("./") else name
    path = path.strip("/")
    if "//" not in path and "/." not in path and not path.startswith("."):
        return path  # the common case, without normpath's cost (it runs for every member)
    path = posixpath.normpath("/" + name).lstrip("/")
    return "" if path == "." else path


class FileView:
    """The wanted files of an image's final filesystem, spooled to a private temp dir.

    Use as a context manager; leaving it removes the temp dir. ``diff_ids`` are the layers base
    first; ``layer_of`` says which one last wrote a path.
    """

    def __init__(self, diff_ids: list[str], *, on_warning: Callable[[str], None] | None = None,
                 temp_dir: str | None = None):
        self.diff_ids = list(diff_ids)
        self._warn = on_warning or (lambda message: None)
        self._dir = tempfile.mkdtemp(prefix="lamina-sbom-", dir=temp_dir)
        self._entries: dict[str, _Entry] = {}
        self._ancestors: dict[str, int] = {}  # directory -> count of recorded paths below it
        self._counter = 0
        self._memory = 0  # bytes of spooled content held in memory
        self._full = False  # MAX_ENTRIES reached (warned once)
        self._borrowed: set[str] = set()  # spool files of a layer cache entry: read, never removed

    # -- the cataloger's side ----------------------------------------------------------------

    def paths(self, prefix: str = "") -> list[str]:
        """The regular files in the view (sorted), optionally only those under ``prefix``."""
        if prefix:
            prefix = prefix.rstrip("/") + "/"
        return sorted(p for p, e in self._entries.items() if e.spool is not None and p.startswith(prefix))

    def exists(self, path: str) -> bool:
        """Whether ``path`` (symlinks followed inside the view) is a regular file of the view."""
        try:
            return self._resolve(path).spool is not None
        except FileNotFoundError:
            return False

    def open(self, path: str) -> BinaryIO:
        """The content of ``path`` (symlinks followed inside the view); FileNotFoundError if absent."""
        return _open_spool(self._file_entry(path).spool)

    def read(self, path: str, limit: int = 16 << 20) -> bytes:
        """Up to ``limit`` bytes of ``path``; ValueError naming the path when it is longer."""
        entry = self._file_entry(path)
        if entry.size > limit:
            raise ValueError(f"{path} is larger than {limit} bytes")
        with _open_spool(entry.spool) as handle:
            return handle.read(limit)

    def local_path(self, path: str, diff_id: str | None = None) -> str:
        """The spooled copy of ``path`` on disk (as layer ``diff_id`` wrote it, if given), for
        readers that need a file name (sqlite); read only."""
        entry = self._file_entry(path)
        if diff_id is None or self.diff_ids[entry.layer] == diff_id:
            if isinstance(entry.spool, bytes) or entry.spool in self._borrowed:
                entry.spool = self._own_copy(entry.spool)
            return entry.spool
        for position, (layer, spool) in enumerate(entry.history):
            if self.diff_ids[layer] == diff_id:
                if isinstance(spool, bytes) or spool in self._borrowed:
                    spool = self._own_copy(spool)
                    entry.history[position] = (layer, spool)
                return spool
        raise FileNotFoundError(f"{path} in layer {diff_id}")

    def _own_copy(self, spool: str | bytes) -> str:
        """A spool file of this view's own: a reader that wants a path (sqlite) may write beside
        it (journals), which must touch neither a cache entry nor the memory budget's books."""
        copy = self._new_spool()
        if isinstance(spool, bytes):
            with open(copy, "xb") as handle:
                handle.write(spool)
            self._memory -= len(spool)
        else:
            shutil.copyfile(spool, copy)
        return copy

    def size(self, path: str) -> int:
        return self._file_entry(path).size

    def layer_of(self, path: str) -> str:
        """The diffID of the layer that last wrote ``path`` (the link itself for symlinks)."""
        entry = self._entries.get(normalise_path(path))
        if entry is None:
            raise FileNotFoundError(path)
        return self.diff_ids[entry.layer]

    def history(self, path: str) -> list[str]:
        """DiffIDs of the layers that wrote ``path``, oldest first, since it last (re)appeared."""
        entry = self._file_entry(path)
        return [self.diff_ids[layer] for layer, _ in entry.history] + [self.diff_ids[entry.layer]]

    def open_version(self, path: str, diff_id: str) -> BinaryIO:
        """The content of ``path`` as layer ``diff_id`` wrote it (one of :meth:`history`)."""
        entry = self._file_entry(path)
        for layer, spool in [*entry.history, (entry.layer, entry.spool)]:
            if self.diff_ids[layer] == diff_id:
                return _open_spool(spool)
        raise FileNotFoundError(f"{path} in layer {diff_id}")

    def readlink(self, path: str) -> str:
        """The target of the symlink ``path`` as stored; OSError if it is not a symlink."""
        entry = self._entries.get(normalise_path(path))
        if entry is None:
            raise FileNotFoundError(path)
        if entry.spool is not None or not entry.target:
            raise OSError(f"{path} is not a symlink")
        return entry.target

    def warn(self, message: str) -> None:
        """A cataloger's warning (a file it could not read), passed to the caller's handler."""
        self._warn(message)

    # -- building the view -------------------------------------------------------------------

    def add_layer(self, index: int, tar_stream: BinaryIO, wants: Wants, *,
                  recorder: _Recorder | None = None) -> None:
        """Apply one layer's tar (base first): whiteouts, opaque dirs, then its wanted files.

        With a ``recorder``, what the layer did to the view is also written down (see
        :meth:`replay_layer`), so that the next walk over the same layer need not read it."""
        from lamina.layer.tarread import TarReader

        diff_id = self.diff_ids[index]
        reader = TarReader(tar_stream, what=f"layer {diff_id}")
        regular_in_layer: dict[str, str | bytes] = {}  # path -> spool, for hard links to wanted files
        record = recorder.events.append if recorder is not None else None
        for member in reader:
            path = normalise_path(member.name)
            if not path:
                continue
            if WHITEOUT_PREFIX in path:
                parent, base = posixpath.split(path)
                if base == OPAQUE_MARKER:
                    if record:
                        record(("o", parent))
                    self._remove_below(parent, before_layer=index)
                    continue
                if base.startswith(WHITEOUT_PREFIX):
                    hidden = posixpath.join(parent, base[len(WHITEOUT_PREFIX):])
                    if record:
                        record(("w", hidden))
                    self._remove(hidden, below_too=True, before_layer=index)
                    continue
            kind = member.type
            if kind == b"5":
                if record:
                    record(("d", path))
                self._replace_with_directory(path)
                continue
            if kind == b"2":
                if record:
                    record(("s", path, member.linkname))
                self._add_symlink(path, member.linkname, index)
                continue
            if kind == b"1":
                target = normalise_path(member.linkname)
                if record:
                    record(("h", path, target, member.mode))
                self._add_hard_link(path, target, member.mode, index, regular_in_layer, wants)
                continue
            if not member.is_regular:  # devices, fifos: nothing a cataloger reads
                if record:
                    record(("x", path))
                self._remove(path, below_too=True)
                continue
            mode = stat.S_IFREG | (member.mode & 0o7777)
            if not wants(path, mode, member.size):
                if record:
                    record(("x", path))
                self._remove(path, below_too=True)
                continue
            if member.size > MAX_SPOOL_FILE:
                if record:
                    record(("b", path, member.size))
                self._skip_large(path, member.size, index)
                continue
            spool = self._spool(reader, member.size)
            if recorder is not None:
                recorder.keep(path, mode, member.size, spool)
            self._add_file(path, mode, member.size, spool, index, regular_in_layer)

    def replay_layer(self, index: int, entry: str, events: list[tuple], wants: Wants) -> None:
        """Apply a layer as a cached record of an earlier :meth:`add_layer` says it went.

        The record holds every change the layer made to the view, in order, and the wanted
        files' contents (small ones inline, larger ones as files of the entry, used in place),
        so the view ends up as reading the tar would have left it; warnings are given again."""
        regular_in_layer: dict[str, str | bytes] = {}
        for event in events:
            tag = event[0]
            if tag == "x":
                self._remove(event[1], below_too=True)
            elif tag == "f":
                _, path, mode, size, content = event
                if isinstance(content, bytes):
                    spool = self._spool_bytes(content)
                else:
                    spool = os.path.join(entry, content)
                    self._borrowed.add(spool)
                self._add_file(path, mode, size, spool, index, regular_in_layer)
            elif tag == "d":
                self._replace_with_directory(event[1])
            elif tag == "s":
                self._add_symlink(event[1], event[2], index)
            elif tag == "h":
                self._add_hard_link(event[1], event[2], event[3], index, regular_in_layer, wants)
            elif tag == "o":
                self._remove_below(event[1], before_layer=index)
            elif tag == "w":
                self._remove(event[1], below_too=True, before_layer=index)
            elif tag == "b":
                self._skip_large(event[1], event[2], index)
            else:
                raise ValueError(f"unknown event {tag!r}")

    def _add_symlink(self, path: str, target: str, index: int) -> None:
        self._remove(path, below_too=True)
        self._record(path, _Entry(layer=index, target=target))

    def _skip_large(self, path: str, size: int, index: int) -> None:
        self._warn(f"{path} in layer {self.diff_ids[index]} is {size} bytes: larger than "
                   f"{MAX_SPOOL_FILE >> 20} MiB, skipped")
        self._remove(path, below_too=True)

    def _add_file(self, path: str, mode: int, size: int, spool: str | bytes, index: int,
                  regular_in_layer: dict[str, str | bytes]) -> None:
        regular_in_layer[path] = spool
        self._put_file(path, _Entry(layer=index, spool=spool, size=size, mode=mode))

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
        self._entries.clear()
        self._ancestors.clear()

    def __enter__(self) -> FileView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _spool_bytes(self, content: bytes) -> str | bytes:
        """Cached content, kept as :meth:`_spool` would keep it: in memory only within the budget."""
        size = len(content)
        if size <= MAX_MEMORY_FILE and self._memory + size <= MEMORY_BUDGET:
            self._memory += size
            return content
        spool = self._new_spool()
        with open(spool, "xb") as handle:
            handle.write(content)
        return spool

    def _spool(self, reader, size: int) -> str | bytes:
        """The current member's content: in memory when small and the budget allows, else a temp file."""
        if size <= MAX_MEMORY_FILE and self._memory + size <= MEMORY_BUDGET:
            buffer = bytearray()
            reader.copy_data(buffer.extend)
            self._memory += size
            return bytes(buffer)
        spool = self._new_spool()
        fd = os.open(spool, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            reader.copy_data_to_fd(fd)
        finally:
            os.close(fd)
        return spool

    def _new_spool(self) -> str:
        self._counter += 1
        return os.path.join(self._dir, str(self._counter))

    def _add_hard_link(self, path: str, target: str, mode: int, index: int,
                       regular_in_layer: dict[str, str], wants: Wants) -> None:
        source = regular_in_layer.get(target)
        target_entry = self._entries.get(target)
        size = target_entry.size if target_entry and target_entry.spool is not None else 0
        if not wants(path, stat.S_IFREG | (mode & 0o7777), size):
            self._remove(path, below_too=True)
            return
        if source is None or target_entry is None or target_entry.spool is not source:
            self._warn(f"{path} in layer {self.diff_ids[index]} is a hard link to {target}, "
                       "which was not read: skipped")
            self._remove(path, below_too=True)
            return
        spool: str | bytes = source
        if isinstance(source, str):
            spool = self._new_spool()
            if source in self._borrowed:  # a link would let a reader of the copy write to the entry
                shutil.copyfile(source, spool)
            else:
                os.link(source, spool)
        elif self._memory + len(source) <= MEMORY_BUDGET:
            self._memory += len(source)
        else:
            self._warn(f"{path} in layer {self.diff_ids[index]}: over the memory budget, skipped")
            self._remove(path, below_too=True)
            return
        self._put_file(path, _Entry(layer=index, spool=spool, size=target_entry.size, mode=target_entry.mode))

    def _put_file(self, path: str, entry: _Entry) -> None:
        """Record a regular file, keeping the earlier small versions for :meth:`history`."""
        previous = self._entries.get(path)
        if previous is not None and previous.spool is not None and previous.layer < entry.layer:
            if entry.size <= MAX_HISTORY_FILE and previous.size <= MAX_HISTORY_FILE:
                entry.history = [*previous.history, (previous.layer, previous.spool)]
                self._entries[path] = entry  # keep the old spools: they are history now
                return
        self._remove(path, below_too=True)
        self._record(path, entry)

    def _release(self, spool: str | bytes) -> None:
        if isinstance(spool, bytes):
            self._memory -= len(spool)
        elif spool not in self._borrowed:
            _unlink(spool)

    def _record(self, path: str, entry: _Entry) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            if not self._full:
                self._full = True
                self._warn(f"more than {MAX_ENTRIES} wanted files and symlinks: {path} and later ones skipped")
            if entry.spool is not None:
                self._release(entry.spool)
            return
        self._entries[path] = entry
        for directory in _parents(path):
            self._ancestors[directory] = self._ancestors.get(directory, 0) + 1

    def _replace_with_directory(self, path: str) -> None:
        """A directory entry over a recorded file or link replaces it (its children stay)."""
        if path in self._entries:
            self._drop(path)

    def _remove(self, path: str, *, below_too: bool, before_layer: int | None = None) -> None:
        entry = self._entries.get(path)
        if entry is not None and (before_layer is None or entry.layer < before_layer):
            self._drop(path)
        if below_too:
            self._remove_below(path, before_layer=before_layer)

    def _remove_below(self, directory: str, *, before_layer: int | None) -> None:
        if directory and not self._ancestors.get(directory):
            return
        prefix = directory + "/" if directory else ""
        doomed = [p for p, e in self._entries.items()
                  if p.startswith(prefix) and (before_layer is None or e.layer < before_layer)]
        for path in doomed:
            self._drop(path)

    def _drop(self, path: str) -> None:
        entry = self._entries.pop(path)
        for _, spool in entry.history:
            self._release(spool)
        if entry.spool is not None:
            self._release(entry.spool)
        for directory in _parents(path):
            left = self._ancestors.get(directory, 0) - 1
            if left > 0:
                self._ancestors[directory] = left
            else:
                self._ancestors.pop(directory, None)

    def _file_entry(self, path: str) -> _Entry:
        entry = self._resolve(path)
        if entry.spool is None:
            raise FileNotFoundError(path)
        return entry

    def _resolve(self, path: str) -> _Entry:
        """Follow symlinks (in the last component and in parents) inside the view only."""
        pending = normalise_path(path).split("/")
        resolved: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/".join([*resolved, part])
            entry = self._entries.get(candidate)
            if entry is not None and entry.target and entry.spool is None:
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise FileNotFoundError(f"{path}: too many levels of symbolic links")
                target = entry.target
                if target.startswith("/"):
                    resolved = []
                pending = [p for p in target.split("/") if p] + pending
                continue
            resolved.append(part)
        entry = self._entries.get("/".join(resolved))
        if entry is None:
            raise FileNotFoundError(path)
        return entry


def build_view(layers: Iterable[tuple[str, Callable[[], BinaryIO]]], wants: Wants, *,
               on_warning: Callable[[str], None] | None = None, cache: LayerCache | None = None) -> FileView:
    """A FileView over ``(diff_id, open_tar)`` pairs, base first; the caller closes the view.

    With a ``cache`` (only for layers whose diffIDs are trusted: the store's), a layer with an
    entry is replayed from it instead of read, and one without is recorded into a new entry.
    The cache's stamp must name everything ``wants`` depends on (see :func:`cache_stamp`)."""
    pairs = list(layers)
    temp_dir = _cache_temp_dir(cache)
    view = FileView([diff_id for diff_id, _ in pairs], on_warning=on_warning, temp_dir=temp_dir)
    try:
        for index, (diff_id, open_tar) in enumerate(pairs):
            entry = cache.entry(diff_id) if cache is not None else None
            events = _load_record(entry) if entry is not None else None
            if events is not None:
                view.replay_layer(index, str(entry), events, wants)
                continue
            recorder = _Recorder.start(cache)
            try:
                with open_tar() as stream:
                    view.add_layer(index, stream, wants, recorder=recorder)
            except BaseException:
                if recorder is not None:
                    recorder.abandon()
                raise
            if recorder is not None:
                recorder.finish(diff_id)
    except BaseException:
        view.close()
        raise
    return view


def cache_stamp(names: Iterable[str], modules: Iterable[object]) -> str:
    """A layer cache stamp for a walk whose ``wants`` comes from these catalogers' code.

    It hashes the cataloger names, the source of the given modules, of every module of the sbom
    package (the catalogers' ``wants`` and their helpers) and of the tar reader (what a record
    holds depends on all of them): any code change, a different selection of catalogers, or
    another lamina version starts a fresh set of entries."""
    import hashlib
    import sys

    from lamina.layer import tarread

    digest = hashlib.sha256(f"{RECORD_VERSION}:{','.join(names)}".encode())
    files = {getattr(module, "__file__", None) for module in modules}
    files |= {__file__, tarread.__file__}
    package = os.path.dirname(__file__)
    for directory, _, filenames in os.walk(package):
        files |= {os.path.join(directory, f) for f in filenames if f.endswith(".py")}
    for name in sorted(f for f in files if f):
        try:
            with open(name, "rb") as handle:
                digest.update(name.encode() + b"\0" + handle.read())
        except OSError:
            digest.update(name.encode() + b"\0?")
    digest.update(sys.version.encode())
    return digest.hexdigest()[:20]


#: The record format's version (part of every stamp).
RECORD_VERSION = 1
_RECORD_FILE = "record"


class _Recorder:
    """Writes down what :meth:`FileView.add_layer` did to the view, as a layer cache entry.

    Small contents stay inline (up to MEMORY_BUDGET in all, so memory stays bounded even though
    the record keeps what the view may have dropped); the rest are hard links (or copies) of the
    spool files in the entry's directory."""

    def __init__(self, cache: LayerCache, staging: str):
        self.events: list[tuple] = []
        self._cache = cache
        self._staging = staging
        self._inline = 0
        self._files = 0

    @classmethod
    def start(cls, cache: LayerCache | None) -> _Recorder | None:
        if cache is None:
            return None
        try:
            return cls(cache, str(cache.begin()))
        except OSError:  # a read-only store: walk without recording
            return None

    def keep(self, path: str, mode: int, size: int, spool: str | bytes) -> None:
        if isinstance(spool, bytes) and self._inline + len(spool) <= MEMORY_BUDGET:
            self._inline += len(spool)
            self.events.append(("f", path, mode, size, spool))
            return
        self._files += 1
        name = str(self._files)
        target = os.path.join(self._staging, name)
        if isinstance(spool, bytes):
            with open(target, "xb") as handle:
                handle.write(spool)
        else:
            try:
                os.link(spool, target)
            except OSError:
                shutil.copyfile(spool, target)
        self.events.append(("f", path, mode, size, name))

    def finish(self, diff_id: str) -> None:
        import marshal

        try:
            with open(os.path.join(self._staging, _RECORD_FILE), "xb") as handle:
                marshal.dump((RECORD_VERSION, self.events), handle)
            self._cache.commit(diff_id, Path(self._staging))
        except OSError:  # a full disk costs the cache entry, never the walk
            self.abandon()

    def abandon(self) -> None:
        self._cache.abandon(Path(self._staging))


def _load_record(entry: Path) -> list[tuple] | None:
    """A cache entry's events, or None when it cannot be used (then the layer is read)."""
    import marshal

    try:
        with open(entry / _RECORD_FILE, "rb") as handle:
            version, events = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return events if version == RECORD_VERSION and isinstance(events, list) else None


def _cache_temp_dir(cache: LayerCache | None) -> str | None:
    """Spool beside the cache when there is one, so recorded spool files are hard-linked, not copied."""
    if cache is None:
        return None
    try:
        return str(cache.temp_dir())
    except OSError:
        return None


def _parents(path: str) -> Iterator[str]:
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path
    yield ""


def _open_spool(spool: str | bytes) -> BinaryIO:
    return io.BytesIO(spool) if isinstance(spool, bytes) else open(spool, "rb")  # noqa: SIM115 - the caller closes


def _unlink(spool: str) -> None:
    try:
        os.unlink(spool)
    except FileNotFoundError:
        pass

