"""Decompression of hostile streams: bounded memory, and one ArchiveError naming the stream."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tracemalloc
import zlib

import pytest
import zstandard

from lamina.errors import ArchiveError
from lamina.layer.compression import GzipReader, open_decompressed

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB that does not compress to nothing

COMPRESS = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": lambda data: zstandard.ZstdCompressor(write_checksum=True).compress(data),
}


def read_all(data: bytes, what: str = "evil.tar.x") -> bytes:
    reader, _ = open_decompressed(io.BytesIO(data), what=what)
    parts = []
    while chunk := reader.read(1 << 20):
        parts.append(chunk)
    return b"".join(parts)


@pytest.mark.parametrize("kind", COMPRESS)
def test_round_trip(kind: str):
    assert read_all(COMPRESS[kind](PAYLOAD)) == PAYLOAD


@pytest.mark.parametrize("kind", COMPRESS)
def test_a_corrupt_stream_is_an_archive_error_naming_it(kind: str):
    data = bytearray(COMPRESS[kind](PAYLOAD))
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0x55
    # was: LZMAError, ZstdError or a bare OSError("Invalid data stream") without the file name
    with pytest.raises(ArchiveError, match=r"^evil\.tar\.x: "):
        read_all(bytes(data))


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz"])
def test_a_truncated_stream_is_an_archive_error_naming_it(kind: str):
    data = COMPRESS[kind](PAYLOAD)
    # was: EOFError for bzip2 and xz, which click turns into "Aborted." (exit 130)
    with pytest.raises(ArchiveError, match=r"^evil\.tar\.x: .*truncated"):
        read_all(data[: len(data) // 2])


def test_trailing_garbage_after_gzip_is_an_archive_error():
    # was: IsalError from a new gzip member started on the garbage
    with pytest.raises(ArchiveError, match="trailing garbage"):
        read_all(gzip.compress(PAYLOAD) + b"GARBAGE" * 10)


def test_zero_padding_and_concatenated_gzip_members_are_fine():
    assert read_all(gzip.compress(PAYLOAD) + gzip.compress(b"tail") + bytes(3000)) == PAYLOAD + b"tail"


def test_a_gzip_bomb_is_inflated_in_bounded_pieces():
    """256 MiB of zeros (256 KiB compressed) must not be inflated into memory in one call."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    bomb = b"".join(packer.compress(zeros) for _ in range(256)) + packer.flush()
    reader = GzipReader(io.BytesIO(bomb))
    tracemalloc.start()
    try:
        total = 0
        while chunk := reader.read(1 << 20):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 256 << 20
    assert peak < 16 << 20, f"peak {peak >> 20} MiB"  # was: the whole 256 MiB at once
