"""eStargz: a gzip layer that can also be read file by file (stargz-snapshotter's lazy pulling).

The format (containerd/stargz-snapshotter, docs/estargz.md) is a gzip blob made of many gzip
members: a new member starts at the payload of every non-empty regular file (and at each
``chunk_size`` inside a large one), at the TOC's tar header and at the footer. The tar inside
is a valid layer: a ``.no.prefetch.landmark`` file first (one byte, 0x0f), then the original
layer's members with their header bytes unchanged, then ``stargz.index.json`` (the TOC: every
entry and chunk with its offset in the blob and digests) and the end-of-archive blocks. The
footer is a 51-byte empty gzip member whose Extra field holds the TOC's offset.

Because the landmark and the TOC are members of the tar, an eStargz layer has its own diffID;
the image config that points at it lists that one. Every gzip member is written with isal (or
zlib) and a fixed header, so the same layer always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from lamina.errors import LayerError
from lamina.layer.compression import gzip_compressor
from lamina.layer.tarwrite import encode_header

__all__ = ["CHUNK_SIZE", "TOC_DIGEST_ANNOTATION", "UNCOMPRESSED_SIZE_ANNOTATION", "EstargzLayer",
           "footer", "write_estargz"]

CHUNK_SIZE = 4 << 20  # stargz-snapshotter's default chunk size
TOC_NAME = "stargz.index.json"
NO_PREFETCH_LANDMARK = ".no.prefetch.landmark"
LANDMARK_CONTENTS = b"\x0f"
TOC_DIGEST_ANNOTATION = "containerd.io/snapshot/stargz/toc.digest"
UNCOMPRESSED_SIZE_ANNOTATION = "io.containers.estargz.uncompressed-size"
FOOTER_SIZE = 51
BLOCK = 512
_TYPES = {tarfile.DIRTYPE: "dir", tarfile.REGTYPE: "reg", tarfile.AREGTYPE: "reg", tarfile.SYMTYPE: "symlink",
          tarfile.LNKTYPE: "hardlink", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo",
          tarfile.CONTTYPE: "reg"}


@dataclass(slots=True)
class EstargzLayer:
    """What the manifest and config need: the tar's digest and size, and the TOC's digest."""

    diff_id: str
    uncompressed_size: int
    toc_digest: str


def footer(toc_offset: int) -> bytes:
    """The 51-byte footer: an empty gzip member whose Extra subfield 'SG' says where the TOC is."""
    payload = b"%016xSTARGZ" % toc_offset
    extra = b"SG" + len(payload).to_bytes(2, "little") + payload
    header = b"\x1f\x8b\x08\x04" + bytes(4) + b"\x00\xff" + len(extra).to_bytes(2, "little") + extra
    stored_empty_block = b"\x01\x00\x00\xff\xff"
    return header + stored_empty_block + bytes(8)  # CRC32 and size of nothing: zero


class _Members:
    """Concatenated gzip members written to ``out``; tracks compressed offsets and the tar's digest."""

    def __init__(self, out: BinaryIO, level: int):
        self.out = out
        self.level = level
        self.offset = 0  # compressed bytes written so far
        self.diff = hashlib.sha256()
        self.size = 0  # uncompressed bytes
        self._compressor = None

    def start(self) -> int:
        """End the current member; the next bytes open a new one. Returns where it starts."""
        if self._compressor is not None:
            self._emit(self._compressor.flush())
            self._compressor = None
        return self.offset

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.diff.update(data)
        self.size += len(data)
        if self._compressor is None:
            self._compressor = gzip_compressor(self.level)
        self._emit(self._compressor.compress(data))

    def raw(self, data: bytes) -> None:
        self._emit(data)

    def _emit(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.offset += len(data)


def write_estargz(plain: str | os.PathLike[str], out: BinaryIO, *, level: int = 6,
                  chunk_size: int = CHUNK_SIZE) -> EstargzLayer:
    """Write the plain layer tar at ``plain`` (a file: its members are read by offset) as eStargz."""
    members = _Members(out, level)
    entries: list[dict] = []
    _add_file(members, entries, NO_PREFETCH_LANDMARK.encode(), LANDMARK_CONTENTS, chunk_size)
    fd = os.open(plain, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with tarfile.open(plain, "r:", format=tarfile.PAX_FORMAT) as archive:
            for member in archive:
                if member.name in (TOC_NAME, NO_PREFETCH_LANDMARK):
                    continue  # an eStargz layer made eStargz again: its TOC and landmark are remade
                _copy_member(members, entries, fd, member, chunk_size)
    except tarfile.TarError as exc:
        raise LayerError(f"{plain}: not a layer tar: {exc}") from None
    finally:
        os.close(fd)
    toc = json.dumps({"version": 1, "entries": entries}, separators=(",", ":")).encode()
    toc_offset = members.start()
    members.write(encode_header(TOC_NAME.encode(), b"0", 0o644, 0, 0, len(toc), 0))
    members.write(toc + bytes(-len(toc) % BLOCK) + bytes(2 * BLOCK))
    members.start()
    members.raw(footer(toc_offset))
    return EstargzLayer("sha256:" + members.diff.hexdigest(), members.size,
                        "sha256:" + hashlib.sha256(toc).hexdigest())


def _add_file(members: _Members, entries: list[dict], name: bytes, data: bytes, chunk_size: int) -> None:
    """A regular file lamina adds itself (the landmark), with a fresh ustar header."""
    members.write(encode_header(name, b"0", 0o644, 0, 0, len(data), 0))
    entry = {"name": name.decode(), "type": "reg", "size": len(data), "modtime": _time(0), "mode": 0o644}
    _payload(members, entries, entry, lambda start, length: data[start:start + length], len(data), chunk_size)


def _copy_member(members: _Members, entries: list[dict], fd: int, member: tarfile.TarInfo, chunk_size: int) -> None:
    kind = _TYPES.get(member.type)
    if kind is None:
        raise LayerError(f"layer member {member.name}: tar type {member.type!r} has no eStargz entry")
    members.write(os.pread(fd, member.offset_data - member.offset, member.offset))
    entry: dict = {"name": member.name + ("/" if kind == "dir" else ""), "type": kind}
    if kind == "reg" and member.size:
        entry["size"] = member.size
    entry["modtime"] = _time(int(member.mtime))
    if member.linkname:
        entry["linkName"] = member.linkname
    entry["mode"] = member.mode
    if member.uid:
        entry["uid"] = member.uid
    if member.gid:
        entry["gid"] = member.gid
    if member.uname:
        entry["userName"] = member.uname
    if member.gname:
        entry["groupName"] = member.gname
    if kind in ("char", "block"):
        entry["devMajor"], entry["devMinor"] = member.devmajor, member.devminor
    xattrs = {key[len("SCHILY.xattr."):]: value for key, value in member.pax_headers.items()
              if key.startswith("SCHILY.xattr.")}
    if xattrs:
        import base64

        entry["xattrs"] = {key: base64.b64encode(value.encode("utf-8", "surrogateescape")).decode()
                           for key, value in sorted(xattrs.items())}
    if kind != "reg" or not member.size:
        entries.append(entry)  # a payload here (rare: a hard link with data) is copied as it is
        members.write(_pread_all(fd, member.size + (-member.size % BLOCK), member.offset_data))
        return
    base = member.offset_data
    _payload(members, entries, entry, lambda start, length: _pread_all(fd, length, base + start), member.size,
             chunk_size)


def _payload(members: _Members, entries: list[dict], entry: dict, read, size: int, chunk_size: int) -> None:
    """A regular file's bytes: a new gzip member per chunk, a TOC entry per chunk, then the padding."""
    whole = hashlib.sha256()
    first = entry
    for start in range(0, size, chunk_size):
        length = min(chunk_size, size - start)
        data = read(start, length)
        if len(data) != length:
            raise LayerError(f"layer member {entry['name']}: truncated")
        offset = members.start()
        members.write(data)
        whole.update(data)
        chunk_digest = "sha256:" + hashlib.sha256(data).hexdigest()
        last = start + length >= size
        if start == 0:
            first["offset"] = offset
            entries.append(first)
            current = first
        else:
            current = {"name": entry["name"], "type": "chunk", "offset": offset, "chunkOffset": start}
            entries.append(current)
        if not last:
            current["chunkSize"] = length
        current["chunkDigest"] = chunk_digest
    first["digest"] = "sha256:" + whole.hexdigest()
    members.write(bytes(-size % BLOCK))


def _pread_all(fd: int, length: int, offset: int) -> bytes:
    parts = []
    while length:
        data = os.pread(fd, length, offset)
        if not data:
            break
        parts.append(data)
        length -= len(data)
        offset += len(data)
    return b"".join(parts)


def _time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
