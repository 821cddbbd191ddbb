"""A streaming tar reader for layer blobs.

Why not tarfile's stream mode (``r|``): it re-slices its whole read buffer on every read (slow
with a large buffer, many tiny reads with a small one), its header parser costs ~40 % of an
extraction of small files, it keeps every member in a list, and it stops silently at a corrupt
header after the first member. This reader parses ustar/GNU/PAX headers with one struct unpack,
hands out file data as zero-copy slices of 1 MiB reads, and is strict: a truncated or corrupt
archive is a LayerError, never a shorter layer. "Truncated" means cut inside a header or a
member's data; a stream that ends cleanly after a member, without the two zero blocks, is
complete (Go's archive/tar, hence docker and skopeo, read it so, and umoci writes such layers). The tests check it against tarfile and GNU tar.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from lamina.errors import LayerError

__all__ = ["TarMember", "TarReader"]

BLOCK = 512
_READ_SIZE = 1 << 20

# Entries that carry no data even when their size field says otherwise (as Go and tarfile read them).
_HEADER_ONLY = frozenset((b"1", b"2", b"3", b"4", b"5", b"6"))
_REGULAR = frozenset((b"0", b"\0", b"7"))
_KNOWN = _HEADER_ONLY | _REGULAR

#: Largest member size: what a tar's int64 can say (Go's limit). Python's ints have none, and a
#: "size=99999999999999999999" in a PAX header would otherwise end in an OverflowError from seek.
MAX_SIZE = (1 << 63) - 1
#: Longest member name or link target: Linux's PATH_MAX less its NUL. Nothing longer can be
#: extracted, and path checks walk every component, so a 16 MiB PAX path must be refused early.
MAX_PATH = 4095
#: uid/gid range: 32 bits, and (uid_t)-1 means "leave unchanged" to chown, so it is no owner.
_MAX_ID = 0xFFFFFFFE
#: Device numbers: Linux's major and minor are 32 bits each (makedev overflows beyond).
_MAX_DEVICE = 0xFFFFFFFF
#: Linux's limits for one xattr (XATTR_NAME_MAX, XATTR_SIZE_MAX): more can never be set.
_MAX_XATTR_NAME = 255
_MAX_XATTR_VALUE = 65536
#: Bounds on a GNU sparse map (fragments, and bytes of a version 1.0 map), so a hostile map
#: cannot make the reader hold an unbounded list.
_MAX_SPARSE_FRAGMENTS = 1 << 18
_MAX_SPARSE_MAP = 8 << 20
_ZEROS_PIECE = 1 << 20


@dataclass(slots=True)
class TarMember:
    """One archive member with its PAX and GNU extensions already merged in."""

    name: str
    type: bytes
    size: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)
    offset: int = 0
    #: a PAX GNU sparse member's ``GNU.sparse.*`` records (None for every other member)
    sparse_records: dict[str, bytes] | None = None

    @property
    def is_regular(self) -> bool:
        return self.type in _REGULAR


class TarReader:
    """Iterates the members of an uncompressed tar stream, in order, reading it exactly once.

    After each member is yielded its data may be consumed with ``copy_data`` (or left alone: it
    is skipped before the next header). When the end-of-archive block is reached the rest of the
    stream is drained, so a digest-verifying reader underneath sees all of its bytes.
    """

    def __init__(self, stream: BinaryIO, what: str = "layer tar"):
        self._stream = stream
        self.what = what
        try:  # a file on disk: skipped member data is seeked over instead of read
            self._seekable = bool(stream.seekable())
        except (AttributeError, ValueError, OSError):
            self._seekable = False
        self._chunk: bytes = b""
        self._pos = 0
        self._offset = 0  # archive offset of self._chunk[0]
        self._unread = 0  # data bytes of the current member not yet consumed
        self._padding = 0  # zero bytes after them, up to the next 512-byte block
        self._data_left = 0
        # a sparse member's (offset, length) fragments and size; its stored data is only these
        self._sparse: list[tuple[int, int]] | None = None
        self._sparse_size = 0

    def __iter__(self) -> Iterator[TarMember]:
        while True:
            self._skip_current()
            member = self._next_member()
            if member is None:
                self._drain()
                return
            yield member

    def copy_data_to_fd(self, fd: int) -> int:
        """Write the current member's data to the file descriptor ``fd``; returns the byte count.

        A sparse member's holes are seeked over, so the file is sparse again on disk (as Go's
        reader writes them for docker)."""
        if self._sparse is not None:
            return self._copy_sparse_to_fd(fd)
        total = 0
        while self._data_left:
            view = self._view(self._data_left)
            total += len(view)
            self._data_left -= len(view)
            self._unread -= len(view)
            while view:
                view = view[os.write(fd, view):]
        return total

    def copy_data(self, write: Callable[[memoryview], object]) -> int:
        """Pass the current member's data to ``write`` in large slices; returns the byte count.

        A sparse member's holes come as zeros, in slices of at most 1 MiB."""
        if self._sparse is not None:
            return self._copy_sparse(write, lambda count: _write_zeros(write, count))
        total = 0
        while self._data_left:
            view = self._view(self._data_left)
            write(view)
            total += len(view)
            self._data_left -= len(view)
            self._unread -= len(view)
        return total

    def _copy_sparse_to_fd(self, fd: int) -> int:
        def write(view: memoryview) -> None:
            while view:
                view = view[os.write(fd, view):]

        def hole(count: int) -> None:
            try:
                os.lseek(fd, count, os.SEEK_CUR)
            except OSError:  # a pipe: the zeros must be written
                _write_zeros(write, count)

        total = self._copy_sparse(write, hole)
        try:
            os.ftruncate(fd, os.lseek(fd, 0, os.SEEK_CUR))  # a hole at the end has no bytes to write
        except OSError:
            pass
        return total

    def _copy_sparse(self, write: Callable[[memoryview], object], hole: Callable[[int], object]) -> int:
        """The logical content of a sparse member: its fragments, with holes between them."""
        assert self._sparse is not None
        position = 0
        for offset, length in self._sparse:
            if offset > position:
                hole(offset - position)
            remaining = length
            while remaining:
                view = self._view(remaining)
                write(view)
                remaining -= len(view)
                self._unread -= len(view)
            position = offset + length
        if self._sparse_size > position:
            hole(self._sparse_size - position)
        self._sparse, self._data_left = None, 0
        return self._sparse_size

    # -- framing -----------------------------------------------------------------------------

    @property
    def position(self) -> int:
        return self._offset + self._pos

    def _fill(self) -> bool:
        """Replace the exhausted chunk with the next one from the stream; False at EOF."""
        self._offset += len(self._chunk)
        self._chunk = self._stream.read(_READ_SIZE)
        self._pos = 0
        return bool(self._chunk)

    def _view(self, wanted: int) -> memoryview:
        """Up to ``wanted`` bytes from the buffer without copying, refilling it when empty."""
        if self._pos >= len(self._chunk) and not self._fill():
            raise LayerError(f"{self.what} is truncated (unexpected end of data at byte {self.position})")
        end = min(len(self._chunk), self._pos + wanted)
        view = memoryview(self._chunk)[self._pos:end]
        self._pos = end
        return view

    def _take(self, count: int) -> bytes:
        """Exactly ``count`` bytes (headers, PAX data), or b'' at a clean end of stream."""
        end = self._pos + count
        if end <= len(self._chunk):
            data = self._chunk[self._pos:end]
            self._pos = end
            return data
        parts = [self._chunk[self._pos:]]
        have = len(parts[0])
        self._pos = len(self._chunk)
        while have < count:
            if not self._fill():
                if have == 0:
                    return b""
                raise LayerError(f"{self.what} is truncated (unexpected end of data at byte {self.position})")
            piece = self._chunk[: count - have]
            self._pos = len(piece)
            parts.append(piece)
            have += len(piece)
        return b"".join(parts)

    def _skip_current(self) -> None:
        in_buffer = len(self._chunk) - self._pos
        if self._seekable and self._unread > in_buffer:
            skip = self._unread - in_buffer
            # Seeking past a file's end succeeds, so the skip's last byte is read to prove the
            # member is whole: else a tar cut inside a skipped member (or its padding) would
            # look like one that simply ends after it.
            try:
                self._stream.seek(skip - 1, os.SEEK_CUR)
                whole = len(self._stream.read(1)) == 1
            except (OverflowError, ValueError, OSError):  # a size past any file's end
                whole = False
            if not whole:
                raise LayerError(
                    f"{self.what} is truncated (unexpected end of data at byte {self.position})") from None
            self._offset += len(self._chunk) + skip
            self._chunk, self._pos, self._unread, self._data_left = b"", 0, 0, 0
        while self._unread:
            self._unread -= len(self._view(self._unread))
        self._data_left = 0
        self._sparse = None
        self._skip_padding()

    def _skip_padding(self) -> None:
        """Pass the current member's padding; a stream may end inside it (umoci's layers end
        right after the last byte of data), which the next header read takes as a clean end,
        as Go's reader does. Data, by contrast, must be whole."""
        while self._padding:
            if self._pos >= len(self._chunk) and not self._fill():
                self._padding = 0
                return
            step = min(self._padding, len(self._chunk) - self._pos)
            self._pos += step
            self._padding -= step

    def _drain(self) -> None:
        self._pos = len(self._chunk)
        while self._fill():
            self._pos = len(self._chunk)

    # -- headers -----------------------------------------------------------------------------

    def _next_member(self) -> TarMember | None:
        """The next member's header (extensions merged), with its data ready to be read."""
        member = self._next_header()
        if member is not None and member.is_regular:
            self._data_left = self._unread = member.size  # stored bytes (a sparse member's fragments)
            self._padding = -member.size % BLOCK
            if member.sparse_records:
                self._start_sparse(member)
        return member

    def _start_sparse(self, member: TarMember) -> None:
        """Read a PAX GNU sparse member's map (versions 0.0, 0.1, 1.0, as Go's reader does)."""
        records = member.sparse_records or {}
        major, minor = records.get("GNU.sparse.major"), records.get("GNU.sparse.minor")
        if major == b"1" and minor == b"0":
            version_1 = True
        elif major == b"0" and minor in (b"0", b"1") or (major is None and minor is None
                                                        and records.get("GNU.sparse.map")):
            version_1 = False
        else:
            return  # not a sparse file Go knows: its data is taken as it is
        where = f"layer tar member {member.name!r}"
        try:
            if records.get("GNU.sparse.name"):
                member.name = _decode(records["GNU.sparse.name"])
            size = records.get("GNU.sparse.size") or records.get("GNU.sparse.realsize")
            if size is not None:
                member.size = _pax_int(size)
            fragments = self._sparse_map_1_0(where) if version_1 else _sparse_map_0_x(records)
        except ValueError:
            raise LayerError(f"{where}: malformed GNU sparse map") from None
        position = 0
        for offset, length in fragments:
            if offset < position or offset + length > member.size:
                raise LayerError(f"{where}: GNU sparse map has overlapping or out-of-range fragments")
            position = offset + length
        if sum(length for _, length in fragments) != self._unread or member.size > MAX_SIZE:
            raise LayerError(f"{where}: GNU sparse map does not match the member's data")
        self._sparse, self._sparse_size, self._data_left = fragments, member.size, member.size

    def _sparse_map_1_0(self, where: str) -> list[tuple[int, int]]:
        """Version 1.0 keeps the map in the data's first blocks: decimal numbers, one a line
        (the fragment count, then offset and length of each)."""
        text = b""
        while True:
            if self._unread < BLOCK or len(text) >= _MAX_SPARSE_MAP:
                raise ValueError("map")
            block = bytearray()
            while len(block) < BLOCK:
                piece = self._view(BLOCK - len(block))
                block += piece
                self._unread -= len(piece)
            text += bytes(block)
            lines = text.split(b"\n")
            count = _pax_int(lines[0]) if len(lines) > 1 else -1
            if count > _MAX_SPARSE_FRAGMENTS:
                raise ValueError("count")
            if count >= 0 and len(lines) > 2 * count + 1:
                numbers = [_pax_int(line) for line in lines[1:2 * count + 1]]
                return list(zip(numbers[0::2], numbers[1::2], strict=True))

    def _next_header(self) -> TarMember | None:
        pax: dict[str, bytes] = {}
        sparse_pairs: list[bytes] = []
        long_name: str | None = None
        long_link: str | None = None
        while True:
            offset = self.position
            block = self._take(BLOCK)
            if not block:
                # The stream ended at a header boundary (or inside a member's padding): a zero-byte
                # blob (an empty layer), or a tar without its end-of-archive blocks, as umoci writes
                # layers. Go's reader (so docker, containerd, skopeo) takes these as a clean end; a
                # cut inside a header or a member's data is still "truncated" (_take and _view).
                # (An extension header right before that end describes nothing: Go ignores it too.)
                return None
            if block.count(0) == BLOCK:
                self._check_end(offset)
                return None
            header = _parse_header(block, offset)
            kind = header.type
            if kind in (b"x", b"g", b"L", b"K"):
                data = self._take_extension(header.size, offset)
                if kind == b"x":
                    pax.update(_parse_pax(data, offset, sparse_pairs))
                elif kind == b"g":
                    # Checked, then ignored: Go hands a global header to its caller as a member
                    # of its own and docker's extractor skips it, so its records (git archive's
                    # comment, or a uid) change no member in docker; they must not here either.
                    _parse_pax(data, offset, [])
                elif kind == b"L":
                    long_name = _decode(data.split(b"\0", 1)[0])
                else:
                    long_link = _decode(data.split(b"\0", 1)[0])
                continue
            if kind not in _KNOWN:
                label = {b"S": "GNU sparse file", b"V": "volume label", b"M": "multi-volume continuation"}
                what = label.get(kind, f"entry type {kind!r}")
                raise LayerError(f"layer tar member {header.name!r}: {what} is not supported")
            if sparse_pairs:  # version 0.0 repeats its offset/numbytes records: Go joins them
                pax["GNU.sparse.map"] = b",".join(sparse_pairs)
            if pax or long_name is not None or long_link is not None:
                _merge_extensions(header, pax, long_name, long_link)
            if kind == b"\0":
                # Pre-POSIX archives mark directories with a trailing slash only.
                header.type = b"5" if header.name.endswith("/") else b"0"
            return header

    def _check_end(self, offset: int) -> None:
        """After a zero block the next must be zero too (or the stream end), as Go's reader demands.

        Why: a lone zero block followed by more members is how a hostile tar hides members from
        readers that stop there while others (``tar -i``, some scanners) go on reading them.
        """
        block = self._take(BLOCK)
        if block and block.count(0) != BLOCK:
            raise LayerError(f"{self.what} is corrupt: a member follows a lone zero block at byte {offset}")

    def _take_extension(self, size: int, offset: int) -> bytes:
        if size > 16 << 20:
            raise LayerError(f"{self.what} is corrupt: {size}-byte extended header at byte {offset}")
        data = self._take(size + (-size % BLOCK))
        if len(data) < size:
            raise LayerError(f"{self.what} is truncated (unexpected end of data at byte {self.position})")
        return data[:size]



# ustar layout: name 100, mode 8, uid 8, gid 8, size 12, mtime 12, checksum 8, typeflag 1,
# linkname 100, magic+version 8, uname 32, gname 32, devmajor 8, devminor 8, prefix 155, pad 12.
_TEXT = struct.Struct("100s48x8xc100s8s32x32x8x8x155s12x")
# The numeric fields alone, read from a copy of the header's bytes 100..345 (where they all are)
# with NULs turned into spaces so that int(field, 8) takes them as they are ("0000644\0",
# " 644 ", ...): one C call per field, and only a quarter of the block copied.
_NUMERIC = struct.Struct("8s8s8s12s12s8s1x100x8x32x32x8s8s")
_NUMERIC_START, _NUMERIC_END = 100, 345
_NUL_TO_SPACE = bytes.maketrans(b"\0", b" ")
_POSIX_MAGIC = b"ustar\x0000"
_CHECKSUM_SPACES = 8 * 0x20
_DEVICES = (b"3", b"4")


def _parse_header(block: bytes, offset: int) -> TarMember:
    """Decode one 512-byte ustar/GNU/v7 header (the values PAX and GNU records may override)."""
    name, kind, linkname, magic, prefix = _TEXT.unpack(block)
    numbers = _NUMERIC.unpack(block[_NUMERIC_START:_NUMERIC_END].translate(_NUL_TO_SPACE))
    try:
        try:
            mode, uid, gid = int(numbers[0], 8), int(numbers[1], 8), int(numbers[2], 8)
            size, mtime, checksum = int(numbers[3], 8), int(numbers[4], 8), int(numbers[5], 8)
        except ValueError:  # empty or base-256 fields
            mode, uid, gid, size, mtime, checksum = (_number(numbers[i], i, block) for i in range(6))
        if checksum != _byte_sum(block) - sum(block[148:156]) + _CHECKSUM_SPACES and checksum != _signed_checksum(block):
            raise ValueError("bad checksum")
        if size < 0:
            raise ValueError("negative size")
        if size > MAX_SIZE:
            raise ValueError("size too large")
        if not (0 <= uid <= _MAX_ID and 0 <= gid <= _MAX_ID):
            raise ValueError("uid or gid out of range")
        if block.find(b"_", 100, 156) >= 0 or block.find(b"_", 329, 345) >= 0:  # int() takes "1_0"; Go does not
            raise ValueError("'_' in a numeric field")
        devmajor = devminor = 0
        if kind in _DEVICES:
            devmajor, devminor = _number(numbers[6], 6, block), _number(numbers[7], 7, block)
            if not (0 <= devmajor <= _MAX_DEVICE and 0 <= devminor <= _MAX_DEVICE):
                raise ValueError("device number out of range")
    except ValueError as exc:
        raise LayerError(f"layer tar is corrupt: invalid header at byte {offset} ({exc})") from None
    raw_name = name.split(b"\0", 1)[0]
    if magic == _POSIX_MAGIC and prefix[0]:
        raw_name = prefix.split(b"\0", 1)[0] + b"/" + raw_name
    # positional (name, type, size, mode, uid, gid, mtime_ns, linkname, devmajor, devminor,
    # xattrs, offset): keyword arguments cost a fifth of this function, run once per member
    return TarMember(_decode(raw_name), kind, size, mode, uid, gid, mtime * 1_000_000_000,
                     _decode(linkname.split(b"\0", 1)[0]), devmajor, devminor, {}, offset)


# Where each of _NUMERIC's fields sits in the raw block, for the slow path.
_NUMERIC_SPANS = ((100, 108), (108, 116), (116, 124), (124, 136), (136, 148), (148, 156), (329, 337), (337, 345))


def _number(spaced: bytes, index: int, block: bytes) -> int:
    """A numeric header field: octal (the fast path), or GNU base-256 for large values."""
    try:
        return int(spaced, 8)
    except ValueError:
        pass
    start, end = _NUMERIC_SPANS[index]
    field = block[start:end]
    lead = field[0]
    if lead & 0x80:
        value = int.from_bytes(field[1:], "big")
        if lead == 0xFF:
            value -= 256 ** (len(field) - 1)
        return value
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _pax_int(value: bytes) -> int:
    """A PAX decimal: ASCII digits only (int() would also take " 1", "+1", "1_0" and "١")."""
    if not value.isdigit():
        raise ValueError(value)
    return int(value)


def _byte_sum(block: bytes) -> int:
    """``sum(block)`` for a 512-byte header, ~6x faster: a pull checks every header of a layer.

    Adler-32's low half is 1 + the byte sum modulo 65521, and 256 bytes sum to at most 65280,
    so for each half of the block it is the exact sum, computed in C.
    """
    return (zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:]) & 0xFFFF) - 2


def _signed_checksum(block: bytes) -> int:
    """Some old tars summed the header as signed chars."""
    signed = struct.unpack("148b8x356b", block)
    return sum(signed) + _CHECKSUM_SPACES


def _merge_extensions(
    member: TarMember, pax: dict[str, bytes], long_name: str | None, long_link: str | None
) -> None:
    """Apply GNU long names and PAX records to ``member``, refusing values no tar may carry.

    Refused (each a LayerError naming the member): NUL in a path, link target or record key
    (Go's reader refuses these too; ``a\0b`` would mean ``a`` to C code), a path longer than
    MAX_PATH, numbers that are not plain ASCII decimals or are out of range, and xattrs Linux
    could never set (empty or over-long names, values over 64 KiB).
    """
    if long_name is not None:
        member.name = long_name
    if long_link is not None:
        member.linkname = long_link
    for key, value in pax.items():
        if "\0" in key:
            raise LayerError(f"layer tar member {member.name!r}: NUL byte in PAX record name {key!r}")
        if key == "path":
            if b"\0" in value:
                raise LayerError(f"layer tar member {_decode(value)!r}: NUL byte in path")
            member.name = _decode(value)
        elif key == "linkpath":
            if b"\0" in value:
                raise LayerError(f"layer tar member {member.name!r}: NUL byte in link target {_decode(value)!r}")
            member.linkname = _decode(value)
        elif key in ("size", "uid", "gid", "mtime"):
            try:
                if key == "mtime":
                    member.mtime_ns = _parse_pax_time(value)
                elif key == "size":
                    member.size = _pax_int(value)
                    if member.size > MAX_SIZE:
                        raise ValueError(value)
                elif key == "uid":
                    member.uid = _pax_int(value)
                else:
                    member.gid = _pax_int(value)
            except ValueError:
                raise LayerError(f"layer tar member {member.name!r}: bad PAX {key} {value!r}") from None
        elif key.startswith("SCHILY.xattr."):
            name = key[len("SCHILY.xattr."):]
            if not name or len(name.encode("utf-8", "surrogateescape")) > _MAX_XATTR_NAME:
                raise LayerError(f"layer tar member {member.name!r}: invalid xattr name {name!r}")
            if len(value) > _MAX_XATTR_VALUE:
                raise LayerError(f"layer tar member {member.name!r}: xattr {name!r} is larger than 64 KiB")
            member.xattrs[name] = value
        elif key.startswith("GNU.sparse."):
            if member.sparse_records is None:
                member.sparse_records = {}
            member.sparse_records[key] = value  # read with the member's data (_start_sparse)
    if member.size < 0:
        raise LayerError(f"layer tar member {member.name!r}: negative size")
    if not (0 <= member.uid <= _MAX_ID and 0 <= member.gid <= _MAX_ID):
        raise LayerError(f"layer tar member {member.name!r}: uid or gid out of range")
    for label, path in (("path", member.name), ("link target", member.linkname)):
        if len(path) > MAX_PATH and len(path.encode("utf-8", "surrogateescape")) > MAX_PATH:
            raise LayerError(f"layer tar member {member.name[:100]!r}...: {label} longer than {MAX_PATH} bytes")


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _parse_pax(data: bytes, offset: int, sparse_pairs: list[bytes]) -> dict[str, bytes]:
    """PAX records (``"<len> <key>=<value>\\n"``); values stay bytes (xattrs are binary).

    GNU sparse 0.0's ``GNU.sparse.offset``/``numbytes`` records repeat, once per fragment: they
    go to ``sparse_pairs`` in order instead."""
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space]) if space > pos else 0
        except ValueError:
            length = 0
        end = pos + length
        if length <= 0 or end > len(data) or data[end - 1] != 0x0A:
            raise LayerError(f"layer tar is corrupt: malformed PAX header at byte {offset}")
        key, eq, value = data[space + 1:end - 1].partition(b"=")
        if not eq:
            raise LayerError(f"layer tar is corrupt: malformed PAX header at byte {offset}")
        if key in (b"GNU.sparse.offset", b"GNU.sparse.numbytes"):
            sparse_pairs.append(value)
            if len(sparse_pairs) > 2 * _MAX_SPARSE_FRAGMENTS:
                raise LayerError(f"layer tar is corrupt: too many GNU sparse fragments at byte {offset}")
        else:
            records[_decode(key)] = value
        pos = end
    return records


def _sparse_map_0_x(records: dict[str, bytes]) -> list[tuple[int, int]]:
    """Versions 0.0 and 0.1: ``GNU.sparse.map`` = "offset,length,..." and a fragment count."""
    count = _pax_int(records.get("GNU.sparse.numblocks", b""))
    text = records.get("GNU.sparse.map", b"")
    numbers = [_pax_int(n) for n in text.split(b",")] if text else []
    if count > _MAX_SPARSE_FRAGMENTS or len(numbers) != 2 * count:
        raise ValueError("map")
    return list(zip(numbers[0::2], numbers[1::2], strict=True))


def _write_zeros(write: Callable[[memoryview], object], count: int) -> None:
    """A sparse file's hole as zeros, in pieces of at most 1 MiB (memory stays flat)."""
    zeros = memoryview(bytes(min(count, _ZEROS_PIECE)))
    while count:
        piece = min(count, len(zeros))
        write(zeros[:piece])
        count -= piece


def _parse_pax_time(value: bytes) -> int:
    """A PAX time (``"1700000000.123456789"``, maybe negative) as integer nanoseconds."""
    text = value.decode("ascii")
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("+-").partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError(text)
    return sign * (int(whole) * 1_000_000_000 + int((frac + "000000000")[:9]))
