"""Our tar reader sees the same members as tarfile in every format GNU tar and tarfile write."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from lamina.errors import LayerError
from lamina.layer.tarread import TarReader

from .helpers import MTIME, make_tar


def _ours(data: bytes) -> list[tuple]:
    reader = TarReader(io.BytesIO(data))
    result = []
    for member in reader:
        body = bytearray()
        reader.copy_data(body.extend)
        name = member.name.rstrip("/")
        kind = b"0" if member.type in (b"\0", b"7") else member.type
        result.append((name, kind, member.size if member.is_regular else 0, member.mode & 0o7777,
                       member.uid, member.gid, member.mtime_ns // 10**9, member.linkname, bytes(body)))
    return result


def _theirs(data: bytes) -> list[tuple]:
    archive = tarfile.open(fileobj=io.BytesIO(data))
    result = []
    for info in archive:
        body = archive.extractfile(info).read() if info.isreg() else b""
        kind = tarfile.REGTYPE if info.type in (tarfile.AREGTYPE, tarfile.CONTTYPE) else info.type
        result.append((info.name.rstrip("/"), kind, info.size if info.isreg() else 0, info.mode & 0o7777,
                       info.uid, info.gid, int(info.mtime), info.linkname, body))
    return result


@pytest.fixture(scope="module")
def sample_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    long_dir = root / ("d" * 120) / ("e" * 120)
    long_dir.mkdir(parents=True)
    (long_dir / ("f" * 110)).write_bytes(b"long\n" * 300)
    (root / "small").write_bytes(b"s")
    (root / "empty").write_bytes(b"")
    (root / "ü-name").write_bytes(b"u")
    os.symlink("l" * 130, root / "long-link")
    os.link(root / "small", root / "hard")
    for path in [root, *root.rglob("*")]:
        os.utime(path, (MTIME, MTIME), follow_symlinks=False)
    return root


@pytest.mark.parametrize("fmt", ["gnu", "oldgnu", "posix", "ustar", "v7"])
def test_reads_gnu_tar_formats_like_tarfile(sample_tree: Path, fmt: str):
    if fmt in ("ustar", "v7"):
        # These formats cannot hold the long names; archive only the short ones.
        names = ["small", "empty", "hard"]
    else:
        names = ["."]
    data = subprocess.run(
        ["tar", f"--format={fmt}", "-cf", "-", "-C", str(sample_tree), *names],
        check=True, capture_output=True,
    ).stdout
    assert _ours(data) == _theirs(data)


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_reads_tarfile_formats_like_tarfile(fmt: int):
    name = "x" * 99 if fmt == tarfile.USTAR_FORMAT else "y" * 300
    data = make_tar(("dir", "d"), ("file", f"d/{name}", b"abc" * 1000), ("symlink", "s", "d"), fmt=fmt)
    assert _ours(data) == _theirs(data)


def test_reads_large_ids_in_base_256_and_pax():
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
            info = tarfile.TarInfo("big-ids")
            info.uid, info.gid, info.mtime = 10**9, 2**31, 2**40
            archive.addfile(info, io.BytesIO(b""))
        (member,) = TarReader(io.BytesIO(buffer.getvalue()))
        assert (member.uid, member.gid, member.mtime_ns) == (10**9, 2**31, 2**40 * 10**9)


def test_reads_pax_mtime_with_nanoseconds():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("f")
        info.pax_headers = {"mtime": "1700000000.123456789"}
        archive.addfile(info, io.BytesIO(b""))
    (member,) = TarReader(io.BytesIO(buffer.getvalue()))
    assert member.mtime_ns == 1_700_000_000_123_456_789


def test_a_zero_byte_stream_is_an_empty_layer():
    assert list(TarReader(io.BytesIO(b""))) == []


def test_garbage_is_a_layer_error():
    with pytest.raises(LayerError, match="invalid header at byte 0"):
        list(TarReader(io.BytesIO(os.urandom(4096))))


def test_garbage_after_a_good_member_is_a_layer_error():
    good = make_tar(("file", "a", b"x"))[:1024]  # header + body, no end marker
    with pytest.raises(LayerError, match="invalid header at byte 1024"):
        list(TarReader(io.BytesIO(good + b"\x01" * 512)))


def test_a_tar_ending_after_a_member_without_end_blocks_is_complete():
    """umoci writes layers so; Go's archive/tar (docker, skopeo) reads them as complete."""
    data = make_tar(("file", "a", b"x"), ("file", "b", b"y" * 600))
    # a: header + 1 block, b: header + 2 blocks; umoci's even end right after b's last data byte
    for end in (512 + 512 + 512 + 1024, 512 + 512 + 512 + 600, 512 + 512 + 512 + 700):
        assert data[end:].count(0) == len(data) - end
        assert _ours(data[:end]) == _ours(data) == _theirs(data)


@pytest.mark.parametrize("cut", [512 + 512 + 100, 512 + 512 + 512 + 599], ids=["inside-a-header", "inside-data"])
@pytest.mark.parametrize("read_data", [True, False], ids=["data-read", "data-skipped"])
def test_a_tar_cut_inside_a_header_or_member_is_truncated(cut: int, read_data: bool):
    data = make_tar(("file", "a", b"x"), ("file", "b", b"y" * 600))
    with pytest.raises(LayerError, match="truncated"):
        reader = TarReader(io.BytesIO(data[:cut]))
        for _member in reader:
            if read_data:
                reader.copy_data(lambda view: None)


def test_truncated_data_is_a_layer_error():
    data = make_tar(("file", "a", b"x" * 5000))
    reader = TarReader(io.BytesIO(data[:3000]))
    with pytest.raises(LayerError, match="truncated"):
        for _ in reader:
            reader.copy_data(lambda view: None)


def test_the_stream_is_drained_after_the_end_marker():
    stream = io.BytesIO(make_tar(("file", "a", b"x")) + bytes(8192))
    list(TarReader(stream))
    assert stream.read() == b""


class Dribble(io.RawIOBase):
    """A stream that returns short reads of odd sizes, like a pipe or a decompressor."""

    def __init__(self, data: bytes, seed: int):
        self._data = memoryview(data)
        self._pos = 0
        self._sizes = [1, 7, 511, 513, 1000, 4096, 100_000]
        self._seed = seed

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self._seed = (self._seed * 1103515245 + 12345) % 2**31
        step = min(size if size >= 0 else len(self._data), self._sizes[self._seed % len(self._sizes)])
        chunk = bytes(self._data[self._pos:self._pos + step])
        self._pos += len(chunk)
        return chunk


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_short_unaligned_reads_give_the_same_members(sample_tree: Path, seed: int):
    data = subprocess.run(
        ["tar", "--format=posix", "-cf", "-", "-C", str(sample_tree), "."], check=True, capture_output=True
    ).stdout
    reader = TarReader(Dribble(data, seed))
    dribbled = []
    for member in reader:
        body = bytearray()
        reader.copy_data(body.extend)
        dribbled.append((member.name, member.type, member.size, bytes(body)))
    reader = TarReader(io.BytesIO(data))
    whole = []
    for member in reader:
        body = bytearray()
        reader.copy_data(body.extend)
        whole.append((member.name, member.type, member.size, bytes(body)))
    assert dribbled == whole and len(whole) > 5


@pytest.fixture(scope="module")
def sparse_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sparse")
    with open(root / "sparse", "wb") as sparse:  # holes at the start, in the middle and at the end
        sparse.seek(70_000)
        sparse.write(b"middle" * 1000)
        sparse.seek(900_000)
        sparse.write(b"late")
        sparse.truncate(1_500_000)
    (root / "after").write_bytes(b"after the sparse file")
    return root


@pytest.mark.parametrize("version", ["0.0", "0.1", "1.0"])
def test_reads_pax_gnu_sparse_files_whole_like_tarfile(sparse_tree: Path, version: str):
    data = subprocess.run(["tar", "--format=posix", "--sparse", f"--sparse-version={version}", "-cf", "-",
                           "-C", str(sparse_tree), "sparse", "after"], check=True, capture_output=True).stdout
    ours = _ours(data)
    assert [(m[0], m[2]) for m in ours] == [("sparse", 1_500_000), ("after", 21)]
    assert ours[0][-1] == (sparse_tree / "sparse").read_bytes()
    assert ours == _theirs(data)


def test_a_sparse_file_is_written_back_with_holes(sparse_tree: Path, tmp_path: Path):
    data = subprocess.run(["tar", "--format=posix", "--sparse", "-cf", "-", "-C", str(sparse_tree), "sparse"],
                          check=True, capture_output=True).stdout
    reader = TarReader(io.BytesIO(data))
    for member in reader:
        fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            assert reader.copy_data_to_fd(fd) == member.size == 1_500_000
        finally:
            os.close(fd)
    out = tmp_path / "out"
    assert out.read_bytes() == (sparse_tree / "sparse").read_bytes()
    assert out.stat().st_blocks * 512 < 200_000


def _pax_sparse_tar(records: dict[str, str], stored: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("f")
        info.size, info.pax_headers = len(stored), records
        archive.addfile(info, io.BytesIO(stored))
    return buffer.getvalue()


@pytest.mark.parametrize("records", [
    {"GNU.sparse.map": "0,4,2,4", "GNU.sparse.numblocks": "2", "GNU.sparse.size": "100"},  # overlap
    {"GNU.sparse.map": "98,8", "GNU.sparse.numblocks": "1", "GNU.sparse.size": "100"},  # past the end
    {"GNU.sparse.map": "0,3", "GNU.sparse.numblocks": "1", "GNU.sparse.size": "100"},  # data left over
    {"GNU.sparse.map": "0,8", "GNU.sparse.numblocks": "2", "GNU.sparse.size": "100"},  # wrong count
    {"GNU.sparse.map": "0,x", "GNU.sparse.numblocks": "1", "GNU.sparse.size": "100"},
], ids=["overlap", "past-the-end", "unreferenced-data", "count", "not-a-number"])
def test_a_bad_sparse_map_is_a_layer_error(records: dict[str, str]):
    with pytest.raises(LayerError, match="sparse map"):
        _ours(_pax_sparse_tar(records, b"12345678"))


def test_a_pax_global_header_changes_no_member_as_in_docker():
    """Go hands the global header over as a member of its own, which docker's extractor skips."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT,
                      pax_headers={"uid": "4242", "path": "elsewhere"}) as archive:
        info = tarfile.TarInfo("f")
        info.uid = 7
        archive.addfile(info, io.BytesIO(b""))
    (member,) = TarReader(io.BytesIO(buffer.getvalue()))
    assert (member.name, member.uid) == ("f", 7)
