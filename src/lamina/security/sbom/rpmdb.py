"""The rpm database in its three on-disk formats, read without rpm: header blobs out.

rpm keeps one header blob per installed package in ``Packages`` (Berkeley DB hash, RHEL ≤ 8),
``Packages.db`` (rpm's own "NDB", SUSE) or ``rpmdb.sqlite`` (RHEL 9, Fedora ≥ 33, Mariner).
Each reader here yields those blobs; ``parse_header`` turns one into the tags a package record
needs. Every offset is checked against the file, every chain is bounded: a corrupt database is a
RpmDBError naming the file, never a hang.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator
from typing import BinaryIO

from lamina.errors import LaminaError

__all__ = ["RpmDBError", "RpmHeader", "parse_header", "read_bdb", "read_ndb", "read_sqlite"]

#: rpm's own limits for one header (HEADER_TAGS_MAX, HEADER_DATA_MAX).
MAX_TAGS = 0xFFFF
MAX_DATA = 256 << 20

TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH = 1000, 1001, 1002, 1003
TAG_VENDOR, TAG_LICENSE, TAG_ARCH, TAG_SOURCERPM = 1011, 1014, 1022, 1044
TAG_MODULARITYLABEL = 5096
_WANTED = frozenset((TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_VENDOR, TAG_LICENSE, TAG_ARCH,
                     TAG_SOURCERPM, TAG_MODULARITYLABEL))
_INT32, _STRING, _I18NSTRING, _STRING_ARRAY = 4, 6, 9, 8


class RpmDBError(LaminaError):
    """An rpm database or one of its header blobs is corrupt."""


RpmHeader = dict[int, "str | int"]


def parse_header(blob: bytes, where: str) -> RpmHeader:
    """The tags of one header blob (``il``, ``dl``, index entries, data store) we need."""
    if len(blob) < 8:
        raise RpmDBError(f"{where}: header blob of {len(blob)} bytes")
    index_count, data_length = struct.unpack_from(">II", blob)
    data_start = 8 + 16 * index_count
    if index_count > MAX_TAGS or data_length > MAX_DATA or data_start + data_length > len(blob):
        raise RpmDBError(f"{where}: header blob with {index_count} tags and {data_length} data bytes "
                         f"does not fit its {len(blob)} bytes")
    data = memoryview(blob)[data_start:data_start + data_length]
    tags: RpmHeader = {}
    for tag, kind, offset, count in struct.iter_unpack(">iIiI", blob[8:data_start]):
        if tag not in _WANTED:
            continue
        if offset < 0 or offset >= data_length:
            raise RpmDBError(f"{where}: tag {tag} points outside the header data")
        if kind == _INT32 and count >= 1 and offset + 4 <= data_length:
            tags[tag] = struct.unpack_from(">I", data, offset)[0]
        elif kind in (_STRING, _I18NSTRING, _STRING_ARRAY):
            end = bytes(data[offset:offset + 65536]).find(b"\0")
            if end < 0:
                raise RpmDBError(f"{where}: tag {tag} is an unterminated string")
            tags[tag] = bytes(data[offset:offset + end]).decode("utf-8", "replace")
    return tags


def read_sqlite(path: str, where: str) -> Iterator[bytes]:
    """The blobs of ``rpmdb.sqlite`` (table ``Packages``), opened read-only and immutable."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise RpmDBError(f"{where}: not a readable sqlite database ({exc})") from None
    try:
        for (blob,) in connection.execute("SELECT blob FROM Packages"):
            if isinstance(blob, bytes):
                yield blob
    except sqlite3.Error as exc:
        raise RpmDBError(f"{where}: not a readable rpm sqlite database ({exc})") from None
    finally:
        connection.close()


# -- Berkeley DB hash ---------------------------------------------------------------------------

_HASH_MAGIC = 0x061561
_PAGE_SIZES = frozenset(1 << n for n in range(9, 17))
_HASH_PAGE_TYPES = (2, 13)  # unsorted (rpm < 4.6) and sorted hash pages
_OVERFLOW_PAGE, _METADATA_PAGE, _OFFPAGE_ITEM = 7, 8, 3
_PAGE_HEADER = 26


def read_bdb(handle: BinaryIO, file_size: int, where: str) -> Iterator[bytes]:
    """The values of a Berkeley DB hash file: each package blob sits in overflow pages."""
    head = handle.read(512)
    if len(head) < 96:
        raise RpmDBError(f"{where}: too short for a Berkeley DB file")
    order = "<"
    magic = struct.unpack_from("<I", head, 12)[0]
    if magic != _HASH_MAGIC:
        if struct.unpack_from(">I", head, 12)[0] != _HASH_MAGIC:
            raise RpmDBError(f"{where}: not a Berkeley DB hash file (magic {magic:#x})")
        order = ">"
    page_size, = struct.unpack_from(order + "I", head, 20)
    encryption, page_type = head[24], head[25]
    last_page, = struct.unpack_from(order + "I", head, 32)
    if page_size not in _PAGE_SIZES or encryption or page_type != _METADATA_PAGE:
        raise RpmDBError(f"{where}: unsupported Berkeley DB layout (page size {page_size}, type {page_type})")
    pages = file_size // page_size
    last_page = min(last_page, pages - 1)

    def page(number: int) -> bytes:
        if number > last_page:
            raise RpmDBError(f"{where}: page {number} is past the end of the file")
        handle.seek(number * page_size)
        data = handle.read(page_size)
        if len(data) != page_size:
            raise RpmDBError(f"{where}: page {number} is truncated")
        return data

    for number in range(last_page + 1):
        data = page(number)
        if data[25] not in _HASH_PAGE_TYPES:
            continue
        entries, = struct.unpack_from(order + "H", data, 20)
        if _PAGE_HEADER + 2 * entries > page_size:
            raise RpmDBError(f"{where}: page {number} claims {entries} entries")
        for item in range(1, entries, 2):  # (key, value) pairs: the values
            offset, = struct.unpack_from(order + "H", data, _PAGE_HEADER + 2 * item)
            if offset + 12 > page_size or data[offset] != _OFFPAGE_ITEM:
                continue
            first, length = struct.unpack_from(order + "II", data, offset + 4)
            yield _overflow_chain(page, first, length, page_size, order, where)


def _overflow_chain(page, first: int, length: int, page_size: int, order: str, where: str) -> bytes:
    if length > MAX_DATA:
        raise RpmDBError(f"{where}: a {length}-byte value")
    parts: list[bytes] = []
    have = 0
    seen: set[int] = set()
    number = first
    while number and have < length:
        if number in seen:
            raise RpmDBError(f"{where}: overflow pages form a loop at page {number}")
        seen.add(number)
        data = page(number)
        if data[25] != _OVERFLOW_PAGE:
            raise RpmDBError(f"{where}: page {number} should be an overflow page")
        following, = struct.unpack_from(order + "I", data, 16)
        used, = struct.unpack_from(order + "H", data, 22)
        chunk = data[_PAGE_HEADER:_PAGE_HEADER + used] if following == 0 else data[_PAGE_HEADER:]
        parts.append(chunk)
        have += len(chunk)
        number = following
    return b"".join(parts)[:length]


# -- NDB ----------------------------------------------------------------------------------------

_NDB_MAGIC = int.from_bytes(b"RpmP", "little")
_SLOT_MAGIC = int.from_bytes(b"Slot", "little")
_BLOB_MAGIC = int.from_bytes(b"BlbS", "little")
_SLOTS_PER_PAGE = 4096 // 16
_MAX_SLOT_PAGES = 2048


def read_ndb(handle: BinaryIO, file_size: int, where: str) -> Iterator[bytes]:
    """The blobs of rpm's ``Packages.db``: a slot table pointing at 16-byte-aligned blocks."""
    header = handle.read(32)
    if len(header) < 32:
        raise RpmDBError(f"{where}: too short for an rpm NDB file")
    magic, version, _generation, slot_pages = struct.unpack_from("<IIII", header)
    if magic != _NDB_MAGIC or version != 0 or not 0 < slot_pages <= _MAX_SLOT_PAGES:
        raise RpmDBError(f"{where}: not an rpm NDB file (or an unsupported version)")
    slot_count = slot_pages * _SLOTS_PER_PAGE - 2
    table = handle.read(slot_count * 16)
    if len(table) != slot_count * 16:
        raise RpmDBError(f"{where}: the slot table is truncated")
    for slot_magic, package_index, block_offset, _blocks in struct.iter_unpack("<IIII", table):
        if slot_magic != _SLOT_MAGIC:
            raise RpmDBError(f"{where}: bad slot magic {slot_magic:#x}")
        if package_index == 0:
            continue
        handle.seek(block_offset * 16)
        blob_header = handle.read(16)
        if len(blob_header) != 16:
            raise RpmDBError(f"{where}: package {package_index} points past the end of the file")
        blob_magic, blob_index, _checksum, blob_length = struct.unpack("<IIII", blob_header)
        if blob_magic != _BLOB_MAGIC or blob_index != package_index:
            raise RpmDBError(f"{where}: no blob for package {package_index} at block {block_offset}")
        if blob_length > min(MAX_DATA, file_size):
            raise RpmDBError(f"{where}: package {package_index} has a {blob_length}-byte blob")
        blob = handle.read(blob_length)
        if len(blob) != blob_length:
            raise RpmDBError(f"{where}: package {package_index}'s blob is truncated")
        yield blob
