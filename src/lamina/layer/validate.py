"""Reject layer and rootfs tars that would write outside their target, or that cannot be applied.

The safe extractor defends against these too; checking at the door (import, load) means a
hostile archive never enters the store at all and the user gets the reason at once, instead of
an image that loads and then fails (or worse) each time it is unpacked into a snapshot.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from lamina.errors import LayerError
from lamina.layer.membernames import needs_cleaning
from lamina.layer.tarread import TarReader

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_AUFS_META = ".wh..wh."

# What the layer's own members made at a path (directories are nested dicts, see _Tree).
_FILE = 1      # a regular file, hard link, device node or fifo
_SYMLINK = 2


def normalize_member_name(name: str) -> str:
    """Member path relative to the root, as docker applies it: leading ``/`` and ``./`` dropped."""
    if name in ("", ".", "./"):
        return ""
    if name[0] not in "./" and name[-1] not in "./" and "//" not in name and "/." not in name:
        return name  # already clean (the usual case): normpath is Python code, linear but slow
    return posixpath.normpath("/" + name).lstrip("/")


@dataclass(frozen=True, slots=True)
class LayerScan:
    """What a scan of a layer's headers learnt besides its safety."""

    members: int
    content_size: int  # docker's size of the layer: file bytes + symlink targets (see contentsize)
    #: members whose name or hard-link target is absolute or has a ``..`` (safe, as the extractor
    #: resolves them inside the root, but not what a layer lamina writes may hold: membernames)
    unclean_names: int = 0


def check_layer_tar(stream: BinaryIO, what: str) -> LayerScan:
    """Scan a (plain) layer tar's headers; raise LayerError naming the first bad member.

    Unsafe: a ``..`` that climbs above the root, a member written through a symlink made
    earlier in the same tar, a hard link to outside the root.

    Unappliable (the extractor would fail on them in every snapshot, as docker's does): a member
    below a file of this layer, a whiteout of ``.``/``..``/nothing, the root as a non-directory,
    and a hard link to a directory or to a path no earlier member of this layer made. (Snapshots
    hold one layer each, so a hard link can never reach a lower layer's file.)
    """
    try:
        return _scan(TarReader(stream, what), what)
    except LayerError as exc:
        message = str(exc)
        if message.startswith(what):
            raise
        # the reader's own messages ("layer tar member 'x': ...") do not say which layer
        raise LayerError(f"{what}: {message}") from None


def check_layer_chunks(chunks: Iterable[bytes], what: str) -> LayerScan:
    """``check_layer_tar`` for a tar that arrives in pieces (a download as it is inflated).

    The same rules, read from the pieces as they come: nothing is copied or written to disk,
    so a pull can refuse a layer while it streams instead of reading the blob a second time.
    """
    return check_layer_tar(_ChunkStream(chunks), what)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class BlobCheck:
    """What ``check_layer_blob`` learnt of a layer blob read whole: its identity and its scan."""

    digest: str     # of the blob as stored (compressed or not)
    size: int
    diff_id: str    # of its uncompressed tar
    scan: LayerScan


def check_layer_blob(stream: BinaryIO, compression: str, what: str) -> BlobCheck:
    """Hash a stored layer blob, and its uncompressed tar, and scan it, in one read.

    Why: a blob a killed ``pull`` committed before recording it is in the store but named by
    no layer row; the next pull adopts it after the same checks a download gets (digest,
    diffID, safe paths) instead of fetching it again.
    """
    from lamina.layer.compression import decompressing_reader
    from lamina.oci.digest import Hasher

    blob_hash, diff_hash = Hasher(), Hasher()
    blob = _HashingStream(stream, blob_hash)
    scan = check_layer_tar(_HashingStream(decompressing_reader(blob, compression, what=what), diff_hash), what)
    while blob.read(1 << 20):  # whatever follows the compressed stream is part of the blob too
        pass
    return BlobCheck(blob_hash.digest, blob_hash.size, diff_hash.digest, scan)


class _HashingStream:
    """A non-seekable ``read`` that feeds every byte it returns to a hasher."""

    __slots__ = ("_stream", "_hasher")

    def __init__(self, stream: BinaryIO, hasher) -> None:
        self._stream, self._hasher = stream, hasher

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._hasher.update(data)
        return data


class _ChunkStream:
    """The ``read`` that TarReader needs, over an iterable of byte pieces (each handed out whole)."""

    __slots__ = ("_chunks", "_rest")

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks: Iterator[bytes] = iter(chunks)
        self._rest = b""

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        while not self._rest:
            piece = next(self._chunks, None)
            if piece is None:
                return b""
            self._rest = piece
        if size < 0 or size >= len(self._rest):
            piece, self._rest = self._rest, b""
            return piece
        piece, self._rest = self._rest[:size], self._rest[size:]
        return piece


def _scan(reader: TarReader, what: str) -> LayerScan:
    tree = _Tree(what)
    count = content_size = unclean = 0
    for member in reader:
        count += 1
        if needs_cleaning(member.name) or (member.type == tarfile.LNKTYPE and needs_cleaning(member.linkname)):
            unclean += 1
        if member.is_regular:
            content_size += member.size
        elif member.type == tarfile.SYMTYPE:
            content_size += len(member.linkname.encode("utf-8", "surrogateescape"))
        raw = member.name
        if _escapes(raw):
            raise LayerError(f"{what}: unsafe path {raw!r} escapes the layer root")
        if member.type == tarfile.LNKTYPE and _escapes(member.linkname):
            raise LayerError(f"{what}: hard link {raw!r} points outside the layer root ({member.linkname!r})")
        tree.add(raw, normalize_member_name(raw), member.type, member.linkname)
    return LayerScan(count, content_size, unclean)


class _Tree:
    """The paths a layer has made so far, as nested dicts (one per directory, leaves as kinds).

    A trie rather than a set of path strings: checking every ancestor of a name as a string
    costs its depth times its length per member, which a hostile 2000-deep name made quadratic;
    here a member costs at most one walk over its components, and usually one lookup of its
    parent in ``dirs``. Replacing a directory drops its subtree, as the extractor's removal
    does, so later checks see what is really there.
    """

    def __init__(self, what: str):
        self.what = what
        self.root: dict = {}
        self.dirs: dict[str, dict] = {}  # parent path → its node; cleared when a directory is replaced

    def add(self, raw: str, name: str, kind: bytes, linkname: str) -> None:
        """Record member ``raw`` (cleaned: ``name``) of tar type ``kind``, checking it first."""
        if not name:
            if kind != tarfile.DIRTYPE:
                raise LayerError(f"{self.what}: member {raw!r} names the root, which must be a directory")
            return
        parent, _, leaf = name.rpartition("/")
        if leaf.startswith(_WHITEOUT):
            self._dir(raw, parent, create=True)
            if leaf != _OPAQUE and not leaf.startswith(_AUFS_META) and leaf[len(_WHITEOUT):] in ("", ".", ".."):
                raise LayerError(f"{self.what}: whiteout {raw!r} names nothing to hide")
            return  # a whiteout hides lower layers' files; it makes nothing here
        if _AUFS_META in parent and any(part.startswith(_AUFS_META) for part in parent.split("/")):
            return  # aufs bookkeeping (.wh..wh.plnk/...): the extractor skips it
        node = self._dir(raw, parent, create=True)
        assert node is not None
        if kind == tarfile.DIRTYPE:
            if not isinstance(node.get(leaf), dict):
                node[leaf] = {}
            return
        if kind == tarfile.LNKTYPE:
            made = self.link_target(raw, normalize_member_name(linkname))
        elif kind == tarfile.SYMTYPE:
            if not linkname:
                raise LayerError(f"{self.what}: symlink {raw!r} has an empty target")  # symlink(2) refuses it
            made = _SYMLINK
        else:
            made = _FILE
        if isinstance(node.get(leaf), dict):
            self.dirs.clear()  # a directory (and all below it) is replaced
        node[leaf] = made

    def link_target(self, raw: str, target: str) -> int:
        """The kind of what hard link ``raw`` names; it must be a non-directory made earlier."""
        if not target:
            raise LayerError(f"{self.what}: hard link {raw!r} points to the root")
        parent, _, leaf = target.rpartition("/")
        node = self._dir(raw, parent, create=False)
        found = node.get(leaf) if node is not None else None
        if found is None:
            raise LayerError(f"{self.what}: hard link {raw!r} points to {target!r}, which no earlier member of the layer made")
        if isinstance(found, dict):
            raise LayerError(f"{self.what}: hard link {raw!r} points to the directory {target!r}")
        return found

    def _dir(self, raw: str, path: str, *, create: bool) -> dict | None:
        """The node of directory ``path``; missing ones are made when ``create`` (as the
        extractor makes missing parents), else None. A symlink or file on the way is refused."""
        if not path:
            return self.root
        node = self.dirs.get(path)
        if node is not None:
            return node
        node = self.root
        parts = path.split("/")
        for depth, part in enumerate(parts):
            child = node.get(part)
            if isinstance(child, dict):
                node = child
            elif child is None:
                if not create:
                    return None
                node[part] = node = {}
            else:
                where = "/".join(parts[: depth + 1])
                if child == _SYMLINK:
                    if create:
                        raise LayerError(f"{self.what}: {raw!r} would be written through the symlink {where!r}")
                    raise LayerError(f"{self.what}: hard link {raw!r} goes through the symlink {where!r}")
                raise LayerError(f"{self.what}: {raw!r} is below {where!r}, which is not a directory")
        self.dirs[path] = node
        return node


def _escapes(name: str) -> bool:
    if ".." not in name:
        return False
    depth = 0
    for part in name.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False
