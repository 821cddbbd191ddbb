"""Member names in the layers lamina makes from a rootfs tar: relative, with no ``..``.

Why: ``tar -P``, some image exporters and hand-made rootfs tars hold absolute names
(``/etc/x``). docker's ``import`` keeps them in the layer and strips the ``/`` only when it
extracts; a naive extractor of that layer (``tar -P``, old Python tarfile, many scanners)
writes them outside its target. lamina's own extractor is safe either way, but a layer lamina
*writes* should be safe for every reader, so ``import`` rewrites such names. Layers that come
by ``load`` or ``pull`` keep their bytes: their digests are fixed by a manifest.

Only the names that need it change (``./etc`` and ``etc`` stay as they are), so a clean
tarball still gives the same layer, and diffID, as docker's import of it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from lamina.errors import LayerError
from lamina.layer.tarread import BLOCK, TarReader
from lamina.layer.tarwrite import LNKTYPE, encode_header

__all__ = ["clean_member_name", "needs_cleaning", "write_clean_names"]

_END_OF_ARCHIVE = bytes(2 * BLOCK)


def needs_cleaning(name: str) -> bool:
    """Whether a member name (or hard-link target) is absolute or has a ``..`` component."""
    return name.startswith("/") or (".." in name and ".." in name.split("/"))


def clean_member_name(name: str, what: str) -> str:
    """``name`` relative to the layer root: leading ``/`` dropped, ``..`` resolved lexically
    (as docker's extractor joins it to its target); one that climbs above the root is refused."""
    if not needs_cleaning(name):
        return name
    directory = name.endswith("/")
    depth = 0
    for part in name.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise LayerError(f"{what}: unsafe path {name!r} escapes the layer root")
        elif part not in ("", "."):
            depth += 1
    cleaned = posixpath.normpath("/" + name).lstrip("/")
    if not cleaned:
        return "./"
    return cleaned + "/" if directory else cleaned


def write_clean_names(reader: TarReader, write: Callable[[bytes | memoryview], object]) -> int:
    """Copy the tar ``reader`` reads to ``write`` with every name cleaned; returns the count
    of names that changed.

    Each member is written again with lamina's header encoder (ustar, PAX where a field needs
    it, xattrs kept); data passes through unchanged. Times keep whole seconds, as docker's
    layers do.
    """
    changed = 0
    for member in reader:
        name = clean_member_name(member.name, reader.what)
        linkname = member.linkname
        if member.type == LNKTYPE:
            linkname = clean_member_name(linkname, reader.what)
        changed += (name != member.name) + (linkname != member.linkname)
        size = member.size if member.is_regular else 0
        write(encode_header(
            _encode(name), member.type if member.type != b"\0" else b"0", member.mode, member.uid,
            member.gid, size, member.mtime_ns // 1_000_000_000, linkname=_encode(linkname),
            xattrs=member.xattrs or None, devmajor=member.devmajor, devminor=member.devminor,
        ))
        if size:
            reader.copy_data(write)
            write(bytes(-size % BLOCK))
    write(_END_OF_ARCHIVE)
    return changed


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")
