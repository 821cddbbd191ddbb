"""Reject layer and rootfs tars that would write outside their target.

The safe extractor defends against these too; checking at the door (import, load) means a
hostile archive never enters the store at all and the user gets the reason at once.
"""

from __future__ import annotations

import posixpath
import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from lamina.errors import LayerError
from lamina.layer.tarread import TarReader


def normalize_member_name(name: str) -> str:
    """Member path relative to the root, as docker applies it: leading ``/`` and ``./`` dropped."""
    return posixpath.normpath("/" + name).lstrip("/") if name not in ("", ".", "./") else ""


@dataclass(frozen=True, slots=True)
class LayerScan:
    """What a scan of a layer's headers learnt besides its safety."""

    members: int
    content_size: int  # docker's size of the layer: file bytes + symlink targets (see contentsize)


def check_layer_tar(stream: BinaryIO, what: str) -> LayerScan:
    """Scan a (plain) layer tar's headers; raise LayerError naming the first unsafe member.

    Unsafe: a ``..`` that climbs above the root, a member written through a symlink made
    earlier in the same tar, a hard link to outside the root.
    """
    reader = TarReader(stream, what)
    symlinks: set[str] = set()
    count = content_size = 0
    for member in reader:
        count += 1
        if member.is_regular:
            content_size += member.size
        elif member.type == tarfile.SYMTYPE:
            content_size += len(member.linkname.encode("utf-8", "surrogateescape"))
        raw = member.name
        if _escapes(raw):
            raise LayerError(f"{what}: unsafe path {raw!r} escapes the layer root")
        name = normalize_member_name(raw)
        parent = posixpath.dirname(name)
        while parent:
            if parent in symlinks:
                raise LayerError(f"{what}: {raw!r} would be written through the symlink {parent!r}")
            parent = posixpath.dirname(parent)
        if member.type == tarfile.SYMTYPE:
            symlinks.add(name)
        else:
            symlinks.discard(name)
        if member.type == tarfile.LNKTYPE:
            if _escapes(member.linkname):
                raise LayerError(f"{what}: hard link {raw!r} points outside the layer root ({member.linkname!r})")
            target = normalize_member_name(member.linkname)
            probe = target
            while probe:
                if probe in symlinks:
                    raise LayerError(f"{what}: hard link {raw!r} goes through the symlink {probe!r}")
                probe = posixpath.dirname(probe)
    return LayerScan(count, content_size)


def _escapes(name: str) -> bool:
    depth = 0
    for part in name.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False
