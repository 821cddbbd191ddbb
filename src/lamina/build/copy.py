"""COPY and ADD as docker's classic builder does them, planned in memory and written as one layer.

Nothing is copied on disk: a :class:`CopyPlan` maps each image path the step writes to the file
that provides it (context file, file of another image, extracted archive member, downloaded
file) and the header it gets (mode, owner, mtime). :func:`write_plan` then streams exactly those
entries into a layer tar in the content store, reading each file once.

The classic builder's rules, reproduced here:

- the destination is resolved through symlinks inside the image (``COPY f /link/`` follows
  ``/link``); a file goes *into* it when it ends in ``/`` or is an existing directory;
- a directory source copies its contents; the destination directory, when new, is 0755 and
  owned by the ``--chown`` owner (root by default), its new parents 0755 root;
- a file's new parent directories are 0755 and owned by the ``--chown`` owner;
- copied files and directories keep their permission bits (with setuid/setgid/sticky) and are
  owned by the ``--chown`` owner, or keep their owners for ``COPY --from`` without ``--chown``;
- ``ADD`` of a local tar archive (plain, gzip, bzip2, xz, zstd) extracts it into the
  destination with the archive's owners and modes (``--chown`` does not apply there).
"""

from __future__ import annotations

import os
import posixpath
import stat
import tempfile
import time
from pathlib import Path

import msgspec

from lamina.build.context import resolve_in_context
from lamina.build.layerwrite import stream_entries
from lamina.build.sources import Source, SourceTree
from lamina.errors import BuildError
from lamina.layer.apply import apply_members
from lamina.layer.compression import open_decompressed
from lamina.layer.contentsize import SizingWriter
from lamina.layer.tarread import TarMember, TarReader
from lamina.oci import mediatypes as mt
from lamina.store.store import LayerRecord, Store

ROOT_OWNER = (0, 0)
_DIR = stat.S_IFDIR
_TAR_BLOCK = 512


class PlannedEntry(msgspec.Struct):
    """One member of the layer: where its bytes come from and the header it gets.

    ``host`` is None for directories the copy creates; ``keep_xattrs`` copies the host file's
    xattrs (files of images and archives; never the build context's host-specific ones).
    ``link_group``: hard links are kept only between entries of one group (one directory
    source or archive: docker copies each source on its own).
    """

    host: str | None
    info: os.stat_result
    keep_xattrs: bool = False
    link_group: int = 0

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.info.st_mode)


class CopyPlan:
    """The entries one COPY/ADD adds to an image whose merged files are at ``image_root``."""

    def __init__(self, image_root: Path, *, now: float | None = None, keep_special_bits: bool = False,
                 chown_new_parents: bool = False):
        self.image_root = image_root
        self.keep_special_bits = keep_special_bits  # BuildKit's copy keeps setuid/setgid; docker's chown drops them
        # BuildKit makes every missing directory above a copied directory with the --chown owner;
        # the classic builder makes them root's and chowns only the destination itself
        self.chown_new_parents = chown_new_parents
        self.entries: dict[str, PlannedEntry] = {}
        self.now = int(time.time() if now is None else now)
        self._scratch: list[Path] = []
        self._groups = 0

    # -- the public steps ----------------------------------------------------------------

    def resolve_dest(self, dest: str) -> tuple[str, bool]:
        """An absolute destination → (image path relative to ``/`` after symlinks, ends in ``/``)."""
        ends_in_slash = dest.endswith("/")
        resolved = resolve_in_context(self.image_root, dest)
        return ("" if resolved == "." else resolved), ends_in_slash

    def add(
        self,
        source: Source,
        dest: str,
        *,
        dest_is_dir: bool,
        owner: tuple[int, int] | None,
        mode: int | None = None,
        unpack: bool = False,
    ) -> None:
        """Copy one source to the resolved ``dest``; ``owner`` None keeps the source's owners."""
        if source.is_dir:
            self._copy_directory(source, dest, owner, mode)
        elif unpack and source.local and is_archive(source.host_path):
            self._extract(source.host_path, dest)
        else:
            target = dest
            if dest_is_dir or self.is_directory(dest):
                target = _join(dest, source.name)
            self.make_dirs(_parent(target), owner or ROOT_OWNER)
            info = source.tree.lstat(source.rel)
            self.put(target, source.host_path, _header(info, owner, mode, self.keep_special_bits),
                     keep_xattrs=source.preserve_owner, link_group=self._link_group())

    def add_directory(self, path: str, owner: tuple[int, int]) -> None:
        """Make ``path`` (and missing parents) a 0755 directory, as WORKDIR does."""
        self.make_dirs(path, owner)

    def add_existing_parents(self) -> None:
        """Give every entry its parent directories, as they are in the image.

        A layer must carry the directories its files sit in: with overlayfs each layer is its
        own directory tree, and a parent missing from the tar would be made 0755 root there,
        hiding the image's real mode and owner (docker's own diffs carry them, copied up).
        """
        for path in list(self.entries):
            parent = _parent(path)
            while parent and parent not in self.entries:
                host = os.path.join(self.image_root, parent)
                self.entries[parent] = PlannedEntry(host, os.lstat(host), keep_xattrs=True)
                parent = _parent(parent)

    def close(self) -> None:
        from lamina.layer.treeremoval import discard_tree  # iterative: any depth

        for directory in self._scratch:
            discard_tree(directory)
        self._scratch.clear()

    # -- what exists -----------------------------------------------------------------------

    def is_directory(self, path: str) -> bool:
        """Is ``path`` a directory after this plan (following a symlink in the image)?"""
        planned = self.entries.get(path)
        if planned is not None:
            return planned.is_dir
        if path == "":
            return True
        resolved = resolve_in_context(self.image_root, path)
        return os.path.isdir(self.image_root / resolved) and not os.path.islink(self.image_root / resolved)

    def make_dirs(self, path: str, owner: tuple[int, int]) -> None:
        """Create the missing directories of ``path`` as 0755 ``owner`` (docker's MkdirAllAndChownNew)."""
        if not path:
            return
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            current = "/".join(parts[:depth])
            planned = self.entries.get(current)
            if planned is not None:
                if not planned.is_dir:
                    raise BuildError(f"mkdir /{current}: not a directory")
                continue
            host = self.image_root / current
            if os.path.lexists(host):
                if self.is_directory(current):
                    continue
                raise BuildError(f"mkdir /{current}: not a directory")
            self.entries[current] = PlannedEntry(None, _made_dir(owner, self.now))

    def put(self, path: str, host: str | None, info: os.stat_result, *, keep_xattrs: bool = False,
            link_group: int = 0) -> None:
        previous = self.entries.get(path)
        if previous is not None and previous.is_dir and not stat.S_ISDIR(info.st_mode):
            prefix = path + "/"
            for key in [key for key in self.entries if key.startswith(prefix)]:
                del self.entries[key]
        self.entries[path] = PlannedEntry(host, info, keep_xattrs, link_group)

    def _link_group(self) -> int:
        self._groups += 1
        return self._groups

    # -- the three kinds of source ---------------------------------------------------------------

    def _copy_directory(self, source: Source, dest: str, owner: tuple[int, int] | None, mode: int | None) -> None:
        existed = self.is_directory(dest)
        self.make_dirs(dest, owner if self.chown_new_parents and owner is not None else ROOT_OWNER)
        if not existed and owner is not None and dest:
            planned = self.entries[dest]
            planned.info = _header(planned.info, owner, None)
        group = self._link_group()
        for sub, host, info in source.entries():
            self.put(_join(dest, sub), host, _header(info, owner, mode, self.keep_special_bits),
                     keep_xattrs=source.preserve_owner, link_group=group)

    def _extract(self, archive: str, dest: str) -> None:
        """Unpack into a staging dir, then plan its entries below ``dest``.

        A directory the archive only implies (``usr/bin/tool`` with no ``usr/`` member) is
        made by docker's unpacking only when missing; one the image has stays as it is (its
        mode and owner), followed through the image's symlinks as the chrooted unpack does."""
        staging = Path(tempfile.mkdtemp(prefix="lamina-add-"))
        self._scratch.append(staging)
        with open(archive, "rb") as raw:
            stream, _ = open_decompressed(raw)
            reader = _ChrootedNames(stream, "archive")
            apply_members(reader, staging, same_owner=os.geteuid() == 0)
        self.make_dirs(dest, ROOT_OWNER)
        placed: dict[str, str] = {}  # staging path -> image path (parents first)
        group = self._link_group()
        for sub, host, info in SourceTree(staging).below("."):
            parent, _, name = sub.rpartition("/")
            path = _join(placed[parent] if parent else dest, name)
            if stat.S_ISDIR(info.st_mode) and sub not in reader.names and self.is_directory(path):
                resolved = path if path in self.entries else resolve_in_context(self.image_root, path)
                placed[sub] = "" if resolved == "." else resolved
                continue
            placed[sub] = path
            self.put(path, host, info, keep_xattrs=True, link_group=group)


class _ChrootedNames(TarReader):
    """Archive members named as docker's ADD sees them: it unpacks chrooted into the destination,
    so ``../../x``, ``/x`` and ``a/../../x`` all land at ``x`` (hard-link targets likewise)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.names: set[str] = set()  # the members' cleaned paths, without a trailing "/"

    def __iter__(self):
        for member in super().__iter__():
            member = _chrooted(member)
            self.names.add(member.name.rstrip("/"))
            yield member


def _chrooted(member: TarMember) -> TarMember:
    member.name = posixpath.normpath("/" + member.name).lstrip("/") + ("/" if member.name.endswith("/") else "")
    if member.type == b"1":
        member.linkname = posixpath.normpath("/" + member.linkname).lstrip("/")
    return member


def write_plan(store: Store, plan: CopyPlan, *, mtime_clamp: int | None = None) -> tuple[LayerRecord | None, dict[str, str]]:
    """Stream the plan into a layer blob (sorted, parents first); ``mtime_clamp``: SOURCE_DATE_EPOCH.

    Returns the layer (None when the plan adds nothing) and the sha256 of every file copied,
    by host path.
    """
    if not plan.entries:
        return None, {}
    plan.add_existing_parents()
    ordered = sorted(plan.entries.items(), key=lambda item: item[0].split("/"))
    with store.content.writer() as blob:
        counted = SizingWriter(blob)  # docker's size of the layer: the files, not the tar
        digests = stream_entries(counted, ((path, e.host, e.info, e.keep_xattrs, e.link_group) for path, e in ordered),
                                 mtime_clamp=mtime_clamp)
        digest, size = blob.commit("layer")
    return LayerRecord(digest, digest, mt.DOCKER_LAYER, size, counted.size_or(size)), digests


def parse_chmod(text: str | None) -> int | None:
    """``--chmod=755`` → 0o755 (octal, as BuildKit takes it)."""
    if text is None:
        return None
    try:
        mode = int(text, 8)
    except ValueError:
        raise BuildError(f"invalid chmod parameter {text!r}: only octal modes are supported") from None
    if not 0 <= mode <= 0o7777:
        raise BuildError(f"invalid chmod parameter {text!r}")
    return mode


def lookup_owner(chown: str, image_root: Path) -> tuple[int, int]:
    """``--chown=user[:group]`` → (uid, gid), names read from the image's /etc/passwd and /etc/group.

    Like the classic builder, a lone ``user`` is also looked up as the group name; the files are
    read as docker's user package reads them (lines trimmed, first match wins, a bad number is 0).
    """
    parts = chown.split(":")
    if len(parts) > 2:
        raise BuildError(f"invalid chown string format: {chown}")
    user, group = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    uid = _lookup(user, image_root, "etc/passwd", "user")
    gid = _lookup(group, image_root, "etc/group", "group")
    return uid, gid


def _lookup(name: str, image_root: Path, database: str, kind: str) -> int:
    from lamina.runtime.users import parse_group, parse_passwd

    if name.isascii() and name.removeprefix("+").isdigit():  # Go's Atoi: a number is never a name
        return int(name)
    path = image_root / resolve_in_context(image_root, database)
    what = "uid for user" if kind == "user" else "gid for group"
    try:
        text = path.read_text(errors="surrogateescape")
    except OSError:
        raise BuildError(f"can't find {what} {name}: open /{database}: no such file or directory") from None
    if kind == "user":
        found = [entry.uid for entry in parse_passwd(text) if entry.name == name]
    else:
        found = [entry.gid for entry in parse_group(text) if entry.name == name]
    if not found:
        raise BuildError(f"can't find {what} {name}: no such {kind}: {name}")
    return found[0]


def is_archive(path: str | Path) -> bool:
    """Whether ADD unpacks ``path``: it decompresses (or is plain) and starts with a valid tar header."""
    try:
        with open(path, "rb") as raw:
            stream, _ = open_decompressed(raw)
            block = _read_exactly(stream, _TAR_BLOCK)
    except (OSError, EOFError, ValueError, Exception):  # corrupt compressed data: a plain file
        return False
    if len(block) < _TAR_BLOCK or not any(block):
        return False
    return is_tar_header(block)


def _read_exactly(stream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def is_tar_header(block: bytes) -> bool:
    """Whether a 512-byte block is a tar header (its checksum matches, signed or unsigned)."""
    field = block[148:156]
    text = field.rstrip(b"\0 ").lstrip(b" ")
    try:
        recorded = int(text, 8) if text else -1
    except ValueError:
        return False
    spaced = block[:148] + b" " * 8 + block[156:]
    unsigned = sum(spaced)
    signed = sum(b - 256 if b > 127 else b for b in spaced)
    return recorded in (unsigned, signed)


def _header(info: os.stat_result, owner: tuple[int, int] | None, mode: int | None,
            keep_special: bool = False) -> os.stat_result:
    """``info`` with the owner (and permission bits) a copy gives it.

    docker chowns what it copied, and the kernel drops setuid (and group-executable setgid)
    from a regular file on chown, even root's: copied files lose those bits unless the
    owners are kept (``COPY --from`` without ``--chown``) or ``keep_special`` (BuildKit).
    """
    uid, gid = owner if owner is not None else (info.st_uid, info.st_gid)
    st_mode = info.st_mode
    if owner is not None and stat.S_ISREG(st_mode) and not keep_special:
        st_mode &= ~stat.S_ISUID
        if st_mode & stat.S_IXGRP:
            st_mode &= ~stat.S_ISGID
    if mode is not None:
        st_mode = stat.S_IFMT(st_mode) | mode
    if (uid, gid, st_mode) == (info.st_uid, info.st_gid, info.st_mode):
        return info
    return _stat(info, st_mode, uid, gid)


def _stat(info: os.stat_result, mode: int, uid: int, gid: int) -> os.stat_result:
    fields = (mode, info.st_ino, info.st_dev, info.st_nlink, uid, gid, info.st_size,
              int(info.st_atime), int(info.st_mtime), int(info.st_ctime))
    return os.stat_result(fields, {"st_mtime_ns": info.st_mtime_ns, "st_rdev": info.st_rdev})


def _made_dir(owner: tuple[int, int], now: int) -> os.stat_result:
    uid, gid = owner
    return os.stat_result((_DIR | 0o755, 0, 0, 1, uid, gid, 0, now, now, now),
                          {"st_mtime_ns": now * 1_000_000_000, "st_rdev": 0})


def _join(directory: str, name: str) -> str:
    return posixpath.normpath(posixpath.join(directory, name)).lstrip("/") if directory else posixpath.normpath(name)


def _parent(path: str) -> str:
    return posixpath.dirname(path)

