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
from typing import BinaryIO, Protocol

__all__ = ["FileView", "MAX_SPOOL_FILE", "Wants", "normalise_path"]

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
            if isinstance(entry.spool, bytes):
                entry.spool = self._to_disk(entry.spool)
            return entry.spool
        for position, (layer, spool) in enumerate(entry.history):
            if self.diff_ids[layer] == diff_id:
                if isinstance(spool, bytes):
                    spool = self._to_disk(spool)
                    entry.history[position] = (layer, spool)
                return spool
        raise FileNotFoundError(f"{path} in layer {diff_id}")

    def _to_disk(self, content: bytes) -> str:
        spool = self._new_spool()
        with open(spool, "xb") as handle:
            handle.write(content)
        self._memory -= len(content)
        return spool

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

    def add_layer(self, index: int, tar_stream: BinaryIO, wants: Wants) -> None:
        """Apply one layer's tar (base first): whiteouts, opaque dirs, then its wanted files."""
        from lamina.layer.tarread import TarReader

        diff_id = self.diff_ids[index]
        reader = TarReader(tar_stream, what=f"layer {diff_id}")
        regular_in_layer: dict[str, str | bytes] = {}  # path -> spool, for hard links to wanted files
        for member in reader:
            path = normalise_path(member.name)
            if not path:
                continue
            if WHITEOUT_PREFIX in path:
                parent, base = posixpath.split(path)
                if base == OPAQUE_MARKER:
                    self._remove_below(parent, before_layer=index)
                    continue
                if base.startswith(WHITEOUT_PREFIX):
                    self._remove(posixpath.join(parent, base[len(WHITEOUT_PREFIX):]), below_too=True,
                                 before_layer=index)
                    continue
            kind = member.type
            if kind == b"5":
                self._replace_with_directory(path)
                continue
            if kind == b"2":
                self._remove(path, below_too=True)
                self._record(path, _Entry(layer=index, target=member.linkname))
                continue
            if kind == b"1":
                self._add_hard_link(path, normalise_path(member.linkname), member.mode, index,
                                    regular_in_layer, wants)
                continue
            if not member.is_regular:  # devices, fifos: nothing a cataloger reads
                self._remove(path, below_too=True)
                continue
            mode = stat.S_IFREG | (member.mode & 0o7777)
            if not wants(path, mode, member.size):
                self._remove(path, below_too=True)
                continue
            if member.size > MAX_SPOOL_FILE:
                self._warn(f"{path} in layer {diff_id} is {member.size} bytes: larger than "
                           f"{MAX_SPOOL_FILE >> 20} MiB, skipped")
                self._remove(path, below_too=True)
                continue
            spool = self._spool(reader, member.size)
            regular_in_layer[path] = spool
            self._put_file(path, _Entry(layer=index, spool=spool, size=member.size, mode=mode))

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
        self._entries.clear()
        self._ancestors.clear()

    def __enter__(self) -> FileView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

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
        else:
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
               on_warning: Callable[[str], None] | None = None) -> FileView:
    """A FileView over ``(diff_id, open_tar)`` pairs, base first; the caller closes the view."""
    pairs = list(layers)
    view = FileView([diff_id for diff_id, _ in pairs], on_warning=on_warning)
    try:
        for index, (_, open_tar) in enumerate(pairs):
            with open_tar() as stream:
                view.add_layer(index, stream, wants)
    except BaseException:
        view.close()
        raise
    return view


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

