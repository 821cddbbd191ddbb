"""Hostile tar headers: every one is a LayerError naming the problem, never another exception.

The headers are built by hand (tarfile refuses to write most of them), and the streams are
real files where it matters: the reader seeks over member data in files, and a size no file
can have used to end in OverflowError/ValueError from ``seek``.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from lamina.errors import LayerError
from lamina.layer.tarread import TarReader

END = bytes(1024)
MAX_PATH = 4095  # PATH_MAX less its NUL


def header(name: bytes = b"f", size: int = 0, kind: bytes = b"0", *, size_field: bytes | None = None,
           uid_field: bytes | None = None, mode_field: bytes = b"0000644\0", link: bytes = b"",
           dev_fields: tuple[bytes, bytes] | None = None) -> bytes:
    """One raw ustar header block with a correct checksum, any field overridable."""
    block = bytearray(512)
    block[0:len(name)] = name
    block[100:108] = mode_field
    block[108:116] = uid_field if uid_field is not None else b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = size_field if size_field is not None else b"%011o\0" % size
    block[136:148] = b"14441041400\0"
    block[156:157] = kind
    block[157:157 + len(link)] = link
    block[257:265] = b"ustar\x0000"
    if dev_fields is not None:
        block[329:337], block[337:345] = dev_fields
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % 512)


def pax(records: dict[bytes, bytes], kind: bytes = b"x") -> bytes:
    body = b""
    for key, value in records.items():
        record = b" " + key + b"=" + value + b"\n"
        length = len(record) + 1
        while len(str(length)) + len(record) != length:
            length += 1
        body += str(length).encode() + record
    return header(b"PaxHeaders/f", len(body), kind) + pad(body)


def read_all(data: bytes, tmp_path: Path | None = None) -> list:
    if tmp_path is None:
        stream = io.BytesIO(data)
        return [(member.name, member.size) for member in TarReader(stream)]
    path = tmp_path / "layer.tar"
    path.write_bytes(data)
    with open(path, "rb") as stream:  # seekable: skipped data is seeked over
        return [(member.name, member.size) for member in TarReader(stream)]


@pytest.mark.parametrize("data", [
    pax({b"size": b"99999999999999999999"}) + header(b"a") + END,
    header(b"a", size_field=b"\x80" + bytes(3) + b"\x7f" + b"\xff" * 7) + END,
], ids=["pax-size", "base-256-size"])
def test_a_size_past_any_file_end_is_a_layer_error(data: bytes, tmp_path: Path):
    with pytest.raises(LayerError):
        read_all(data, tmp_path)
    with pytest.raises(LayerError):
        read_all(data)


@pytest.mark.parametrize("value", [b"1_0", b" 1", b"+1", b"-5", "١".encode()])
def test_pax_numbers_must_be_plain_ascii_decimals(value: bytes):
    # int() takes all of these; Go's tar (docker) refuses them, so a reader differential hides data.
    with pytest.raises(LayerError, match="bad PAX size"):
        read_all(pax({b"size": value}) + header(b"a") + bytes(512) + END)


def test_underscore_in_an_octal_field_is_corrupt():
    with pytest.raises(LayerError, match="corrupt"):
        read_all(header(b"a", size_field=b"0000000_001\0") + pad(b"x") + END)


@pytest.mark.parametrize("key", [b"path", b"linkpath"])
def test_nul_in_a_pax_path_is_refused_by_the_reader(key: bytes):
    with pytest.raises(LayerError, match="NUL"):
        read_all(pax({key: b"etc/passwd\0.txt"}) + header(b"a", kind=b"2" if key == b"linkpath" else b"0") + END)


def test_a_member_after_a_lone_zero_block_is_corrupt():
    data = header(b"a", 1) + pad(b"x") + bytes(512) + header(b"hidden", 1) + pad(b"y") + END
    with pytest.raises(LayerError, match="lone zero block"):
        read_all(data)


def test_one_zero_block_at_the_end_is_still_accepted():
    assert read_all(header(b"a", 1) + pad(b"x") + bytes(512)) == [("a", 1)]


@pytest.mark.parametrize("data", [
    pax({b"uid": b"99999999999999999999"}) + header(b"a") + END,
    pax({b"gid": b"4294967295"}) + header(b"a") + END,
    header(b"a", uid_field=b"\xff" * 8) + END,
], ids=["pax-huge", "pax-minus-one", "base-256-negative"])
def test_owner_ids_out_of_range_are_refused(data: bytes):
    with pytest.raises(LayerError, match="uid or gid"):
        read_all(data)


def test_device_numbers_out_of_range_are_refused():
    data = header(b"dev", kind=b"3", dev_fields=(b"\x80" + b"\xff" * 7, b"0000000\0")) + END
    with pytest.raises(LayerError, match="device number"):
        read_all(data)


def test_paths_longer_than_path_max_are_refused_early():
    name = b"a/" * (MAX_PATH // 2) + b"xy"
    with pytest.raises(LayerError, match="longer than"):
        read_all(pax({b"path": name}) + header(b"a") + END)
    assert read_all(pax({b"path": b"a/" * 2000}) + header(b"a", kind=b"5") + END) == [("a/" * 2000, 0)]


@pytest.mark.parametrize(("records", "expect"), [
    ({b"SCHILY.xattr.": b"v"}, "invalid xattr name"),
    ({b"SCHILY.xattr.user." + b"n" * 300: b"v"}, "invalid xattr name"),
    ({b"SCHILY.xattr.user.big": b"v" * 70000}, "larger than 64 KiB"),
])
def test_xattrs_linux_could_never_set_are_refused(records: dict, expect: str):
    with pytest.raises(LayerError, match=expect):
        read_all(pax(records) + header(b"a") + END)
