"""Squash: an image's upper layers merged into one, on top of the layers of a base it was built on.

Docker's classic ``--squash`` (moby's SquashImage) is the model: the new image keeps the base
image's layers and adds one layer holding the difference between the base's filesystem and the
image's; the config is the image's own with its rootfs replaced, every history entry past the
base's marked ``empty_layer``, and one entry appended with the comment ``merge <image ID> to <base
ID>`` (``create new from <image ID>`` without a base: everything in one layer).

The merged layer holds, for every path the upper layers leave in the final filesystem, the member
of the last layer that wrote it, copied from that layer's stream; a whiteout for every path of the
base's filesystem that is gone (only the topmost of a removed subtree). What an upper layer wrote
and a later one deleted is not in it at all. Two passes over the upper layers (headers, then the
chosen members), one over the base's headers; nothing is unpacked to disk.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from lamina.analysis.tree import OPAQUE_PREFIX, WHITEOUT_PREFIX, clean_path
from lamina.errors import LaminaError, UsageError
from lamina.image.base import Image
from lamina.layer.tarread import TarMember, TarReader
from lamina.layer.tarwrite import encode_header

__all__ = ["SquashedImage", "squash_image", "squash_stored"]

_BLOCK = 512
_BASE = -1  # the layer index recorded for paths that come from the base's layers


class SquashError(LaminaError):
    """An image cannot be squashed as asked (a base that is not its base, a broken hard link)."""


@dataclass(slots=True)
class SquashedImage:
    """The squashed image, ready for a sink; ``close`` removes its temporary layer file."""

    image: Image
    layer_path: str
    squashed_layers: int  # how many upper layers became one

    def close(self) -> None:
        self.image.close()
        try:
            os.unlink(self.layer_path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> SquashedImage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def squash_stored(store, image_id: str, base_id: str) -> str:
    """``build --squash``: the stored image ``image_id`` squashed onto ``base_id`` (its final
    stage's base; "" for scratch: everything in one layer), stored untagged; the new image ID."""
    from contextlib import nullcontext

    from lamina.image import open_image
    from lamina.image.store_sink import write_to_store

    with open_image(image_id, store=store) as image, \
            (open_image(base_id, store=store) if base_id else nullcontext()) as base, \
            squash_image(image, base, allow_empty=True) as squashed:
        return write_to_store(squashed.image, store, [], what=f"squash of {image_id}").image_id


def squash_image(image: Image, base: Image | None = None, *, workdir: str | None = None,
                 created: str | None = None, allow_empty: bool = False) -> SquashedImage:
    """``image`` with the layers above ``base``'s merged into one (all of them without a base).

    ``base`` must be the image it was built on: its layers a prefix of ``image``'s. With no layer
    above the base, ``allow_empty`` adds an empty one (as docker's build does), else it is an
    error. The merged layer is written to a temporary file in ``workdir`` (default: the system's temp dir).
    """
    from lamina.oci.models import decode_json, encode
    from lamina.oci.timefmt import format_rfc3339

    layers = image.layers()
    base_diff_ids = [layer.diff_id for layer in base.layers()] if base is not None else []
    image_diff_ids = [layer.diff_id for layer in layers]
    if image_diff_ids[:len(base_diff_ids)] != base_diff_ids:
        raise SquashError(f"cannot squash {image.name} onto {base.name if base else ''}: "
                          "the base's layers are not the first layers of the image")
    keep = len(base_diff_ids)
    if keep == len(layers) and base is not None and not allow_empty:
        raise UsageError(f"{image.name} has no layers above {base.name}: nothing to squash")
    descriptor, handle = tempfile.mkstemp(prefix="squash-", suffix=".tar", dir=workdir)
    try:
        with os.fdopen(descriptor, "wb") as out:
            hashing = _HashingWriter(out)
            _write_merged_layer(image, layers, keep, hashing)
        diff_id = "sha256:" + hashing.hasher.hexdigest()
        config = decode_json(image.config_bytes())
        base_history = len(decode_json(base.config_bytes()).get("history") or []) if base is not None else 0
        when = created or format_rfc3339()
        history = [dict(entry, empty_layer=True) if index >= base_history else entry
                   for index, entry in enumerate(config.get("history") or [])]
        comment = (f"merge {image.config_digest()} to {base.config_digest()}" if base is not None
                   else f"create new from {image.config_digest()}")
        history.append({"created": when, "comment": comment})
        config["history"] = history
        config["created"] = when
        config["rootfs"] = {"type": "layers", "diff_ids": [*base_diff_ids, diff_id]}
        config_bytes = encode(config)
        squashed = _image_with(image.name, config_bytes, layers[:keep], diff_id, hashing.size, handle)
    except BaseException:
        os.unlink(handle)
        raise
    return SquashedImage(squashed, handle, len(layers) - keep)


def _image_with(name: str, config_bytes: bytes, kept: list, diff_id: str, size: int, path: str) -> Image:
    from lamina.image.blobs import BlobLayer
    from lamina.image.source import SourceImage, oci_manifest
    from lamina.oci import mediatypes as mt

    merged = BlobLayer(digest=diff_id, diff_id=diff_id, media_type=mt.DOCKER_LAYER, size=size,
                       opener=lambda: open(path, "rb"), what=f"{name} (squashed layer)")
    layers = [*kept, merged]
    manifest = oci_manifest(config_bytes, [(layer.media_type, layer.digest, layer.size) for layer in layers],
                            config_media_type=mt.DOCKER_CONFIG, media_type=mt.DOCKER_MANIFEST)
    return SourceImage(f"{name} (squashed)", manifest, mt.DOCKER_MANIFEST, config_bytes, layers)


@dataclass(slots=True)
class _Written:
    """Who wrote a path last: a layer index (``_BASE`` for the base) and the member's position."""

    layer: int
    position: int
    is_dir: bool
    hardlink_to: str = ""
    #: for a hard link, the position of its target's member earlier in the same layer (-1: none)
    source_position: int = -1
    relinked: bool = False  # written as the file it named, not as a link (see _relinks)


@dataclass(slots=True)
class _Filesystem:
    files: dict[str, _Written] = field(default_factory=dict)
    children: dict[str, set[str]] = field(default_factory=dict)

    def exists(self, path: str) -> bool:
        return path == "" or path in self.files or bool(self.children.get(path))

    def is_directory(self, path: str) -> bool:
        """A directory of the final filesystem (one a layer named, or one only implied by its contents)."""
        written = self.files.get(path)
        return path == "" or (written.is_dir if written is not None else bool(self.children.get(path)))

    def delete(self, path: str) -> None:
        pending = [path]
        while pending:
            current = pending.pop()
            self.files.pop(current, None)
            below = self.children.pop(current, None)
            if below:
                pending.extend(_join(current, name) for name in below)
        parent, _, name = path.rpartition("/")
        siblings = self.children.get(parent)
        if siblings is not None:
            siblings.discard(name)

    def put(self, path: str, written: _Written) -> None:
        self.files[path] = written
        parent, _, name = path.rpartition("/")
        while True:
            siblings = self.children.setdefault(parent, set())
            if name in siblings:
                return
            siblings.add(name)
            if not parent:
                return
            parent, _, name = parent.rpartition("/")


def _write_merged_layer(image: Image, layers: list, keep: int, out: _HashingWriter) -> None:
    filesystem = _Filesystem()
    base_paths: set[str] = set()
    for index, layer in enumerate(layers):
        _apply(filesystem, layer, image.name, _BASE if index < keep else index)
        if index == keep - 1:
            base_paths = set(filesystem.files) | {path for path, names in filesystem.children.items() if names}
    chosen: dict[int, dict[int, str]] = {}  # layer -> member position -> path
    for path, written in filesystem.files.items():
        if written.layer != _BASE:
            chosen.setdefault(written.layer, {})[written.position] = path
    for index in sorted(chosen):
        positions = chosen[index]
        relinked = _relinks(filesystem, positions, index, image.name)
        layer = layers[index]
        with layer.open_uncompressed() as stream:
            reader = TarReader(stream, f"{image.name}: layer {layer.diff_id}")
            for position, member in enumerate(reader):
                links = relinked.get(position)
                if links:  # the file as it was when these links were made, under the first link's name
                    _write_member(out, member, links[0], reader.copy_data, as_file=True)
                    for other in links[1:]:
                        _write_member(out, member, other, None, link_to=links[0])
                path = positions.get(position)
                if path is not None and not filesystem.files[path].relinked:
                    _write_member(out, member, path, reader.copy_data)
    for path in sorted(base_paths):
        parent, _, name = path.rpartition("/")
        # a path whose parent is gone, or is now a file (which replaces the directory and what was in
        # it), needs no whiteout of its own
        if not filesystem.exists(path) and filesystem.is_directory(parent):
            whiteout = _join(parent, WHITEOUT_PREFIX + name).encode("utf-8", "surrogateescape")
            out.write(encode_header(whiteout, b"0", 0o644, 0, 0, 0, 0))
    out.write(bytes(2 * _BLOCK))


def _relinks(filesystem: _Filesystem, positions: dict[int, str], index: int, image_name: str) -> dict[int, list[str]]:
    """Hard links of layer ``index`` whose target a later layer rewrites or removes: in the layers
    the link keeps the file as it was (a rewrite makes a new file), so the merged layer holds
    that file under the link's name. Returns target member position -> link paths."""
    relinked: dict[int, list[str]] = {}
    for position, path in sorted(positions.items()):
        written = filesystem.files[path]
        if not written.hardlink_to:
            continue
        target = filesystem.files.get(written.hardlink_to)
        if target is not None and (target.layer, target.position) < (index, position):
            continue  # the target is final and written before the link: a plain hard link
        if written.source_position < 0:
            raise SquashError(f"cannot squash {image_name}: {path} is a hard link to {written.hardlink_to}, "
                              "which a later layer changes and an earlier one wrote")
        written.relinked = True
        relinked.setdefault(written.source_position, []).append(path)
    return relinked


def _apply(filesystem: _Filesystem, layer, image_name: str, index: int) -> None:
    """One layer's changes: opaque directories and whiteouts first (they hide lower layers only),
    then the paths it writes."""
    opaque: list[str] = []
    whiteouts: list[str] = []
    written: dict[str, _Written] = {}
    seen: dict[str, int] = {}  # path -> position of its latest member so far in this layer
    with layer.open_uncompressed() as stream:
        for position, member in enumerate(TarReader(stream, f"{image_name}: layer {layer.diff_id}")):
            path = clean_path(member.name).strip("/")
            if path in (".", "") or path == ".." or path.startswith("../"):
                continue
            directory, _, name = path.rpartition("/")
            if name.startswith(OPAQUE_PREFIX):
                opaque.append(directory)
            elif name.startswith(WHITEOUT_PREFIX):
                whiteouts.append(_join(directory, name[len(WHITEOUT_PREFIX):]))
            else:
                target = clean_path(member.linkname).strip("/") if member.type == b"1" else ""
                written[path] = _Written(index, position, member.type == b"5", target, seen.get(target, -1))
                seen[path] = position
    for directory in opaque:
        for name in list(filesystem.children.get(directory, ())):
            filesystem.delete(_join(directory, name))
    for path in whiteouts:
        filesystem.delete(path)
    for path, entry in written.items():
        if not entry.is_dir and filesystem.children.get(path):
            filesystem.delete(path)  # a file replacing a directory takes the directory's contents with it
        filesystem.put(path, entry)


def _write_member(out: _HashingWriter, member: TarMember, path: str,
                  copy_data: Callable[[Callable[[memoryview], object]], int] | None, *,
                  as_file: bool = False, link_to: str = "") -> None:
    """One member under ``path``: its data too when ``copy_data`` is given; ``as_file`` writes a
    regular file, ``link_to`` a hard link to that path, both with the member's metadata."""
    kind = b"0" if member.type == b"\0" or as_file else member.type
    linkname = member.linkname
    if link_to:
        kind, linkname = b"1", link_to
    elif kind == b"1":
        linkname = clean_path(member.linkname).strip("/")
    name = path + "/" if kind == b"5" else path
    size = member.size if kind in (b"0", b"7") else 0
    out.write(encode_header(name.encode("utf-8", "surrogateescape"), kind, member.mode, member.uid, member.gid,
                            size, member.mtime_ns // 1_000_000_000,
                            linkname=linkname.encode("utf-8", "surrogateescape"), xattrs=member.xattrs or None,
                            devmajor=member.devmajor, devminor=member.devminor))
    if size and copy_data is not None:
        copied = copy_data(out.write)
        if copied != size:
            raise SquashError(f"{path}: the layer gave {copied} bytes for a {size}-byte file")
        out.write(bytes(-size % _BLOCK))


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


class _HashingWriter:
    """Writes through to a file while hashing (the merged layer's diffID) and counting."""

    def __init__(self, out: BinaryIO):
        self._out = out
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.hasher.update(data)
        self._out.write(data)
        self.size += len(data)
        return len(data)
