"""push --compression gzip|zstd|estargz|none, --compression-level, --force-compression, and the pulls back.

Oracles: skopeo 1.9 reads each pushed image (``skopeo inspect --raw``, ``skopeo copy`` to an OCI
layout, recompressing zstd layers as gzip, as umoci 0.4.7 reads no zstd) and umoci unpacks the copy:
its file tree must be the image's. eStargz has no reader
here (no stargz-snapshotter, no podman), so its layout is checked against the spec
(containerd/stargz-snapshotter docs/estargz.md) from the blob's bytes: the 51-byte footer, the
TOC at the offset it names, the TOC digest annotation, a gzip member starting at each file's
payload, and each chunk's digest. The private dockerd (20.10) pulls the gzip and eStargz images
and refuses the zstd one (zstd layers need docker 23).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import zlib
from pathlib import Path

import pytest

from tests.conftest import Lamina, require_tool

pytestmark = pytest.mark.registry

LAYER_TYPES = {
    "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "estargz": "application/vnd.oci.image.layer.v1.tar+gzip",
    "none": "application/vnd.docker.image.rootfs.diff.tar",
}
TOC_ANNOTATION = "containerd.io/snapshot/stargz/toc.digest"


def _skopeo(*args: str) -> str:
    require_tool("skopeo", "skopeo")
    return subprocess.run(["skopeo", *args], check=True, capture_output=True, text=True).stdout


def _raw_manifest(ref: str) -> dict:
    return json.loads(_skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{ref}"))


def _blob(registry, repository: str, digest: str) -> bytes:
    import httpx

    response = httpx.get(f"{registry.url}/v2/{repository}/blobs/{digest}", follow_redirects=True)
    response.raise_for_status()
    return response.content


def _tree(root: Path) -> dict[str, str]:
    """path → what a file is: content digest, link target or 'dir'."""
    tree = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            tree[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            tree[rel] = "dir"
        else:
            tree[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return tree


@pytest.fixture(scope="module")
def source(busybox_tar: Path, anon_registry, tmp_path_factory) -> tuple[Lamina, str]:
    """A store with busybox (plus a file big enough for several eStargz chunks) built in."""
    store = Lamina(tmp_path_factory.mktemp("src") / "store")
    store.out("import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]')
    context = store.root.parent / "ctx"
    context.mkdir()
    (context / "big.bin").write_bytes(os.urandom(3 << 20) + bytes(7 << 20))  # 10 MiB: three 4 MiB chunks
    (context / "empty").write_bytes(b"")
    (context / "Dockerfile").write_text("FROM busybox:latest\nCOPY big.bin empty /data/\nRUN ln -s data/big.bin /big\n")
    store.out("build", "-q", "-t", "app:latest", str(context))
    return store, f"{anon_registry.host}/compress"


@pytest.mark.slow
@pytest.mark.parametrize("compression", ["gzip", "zstd", "estargz", "none"])
def test_skopeo_and_umoci_read_each_compression(source, compression: str, tmp_path: Path) -> None:
    store, base = source
    ref = f"{base}/{compression}:1"
    store.out("tag", "app:latest", ref)
    store.out("push", "--compression", compression, ref)
    manifest = _raw_manifest(ref)
    assert {layer["mediaType"] for layer in manifest["layers"]} == {LAYER_TYPES[compression]}
    if compression == "estargz":
        assert all(TOC_ANNOTATION in layer["annotations"] for layer in manifest["layers"])

    layout = tmp_path / "oci"
    # umoci 0.4.7 reads no zstd layers: skopeo recompresses them as gzip (so skopeo reads them) on the way
    decompress = ["--dest-compress", "--dest-compress-format", "gzip"] if compression == "zstd" else []
    _skopeo("copy", "--src-tls-verify=false", *decompress, f"docker://{ref}", f"oci:{layout}:img")
    require_tool("umoci", "umoci")
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{layout}:img", str(tmp_path / "bundle")],
                   check=True, capture_output=True)
    unpacked = _tree(tmp_path / "bundle" / "rootfs")
    expected_store = tmp_path / "expected"
    store.out("save", "-o", str(expected_store) + ".tar", "app:latest")
    _skopeo("copy", f"docker-archive:{expected_store}.tar", f"oci:{expected_store}:img")
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{expected_store}:img", str(tmp_path / "b2")],
                   check=True, capture_output=True)
    expected = _tree(tmp_path / "b2" / "rootfs")
    if compression == "estargz":  # the TOC and landmark are members of every eStargz layer
        for name in ("stargz.index.json", ".no.prefetch.landmark"):
            assert name in unpacked
            del unpacked[name]
    assert unpacked == expected


@pytest.mark.slow
def test_estargz_layout_follows_the_spec(source, anon_registry) -> None:
    store, base = source
    ref = f"{base}/layout:1"
    store.out("tag", "app:latest", ref)
    store.out("push", "--compression", "estargz", ref)
    manifest = _raw_manifest(ref)
    repository = "compress/layout"
    config = json.loads(_blob(anon_registry, repository, manifest["config"]["digest"]))
    chunked = False
    for descriptor, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True):
        blob = _blob(anon_registry, repository, descriptor["digest"])
        plain = gzip.decompress(blob)  # still one valid gzip stream (of many members)
        assert "sha256:" + hashlib.sha256(plain).hexdigest() == diff_id
        assert descriptor["annotations"]["io.containers.estargz.uncompressed-size"] == str(len(plain))

        toc_bytes, chunks = _check_estargz(blob, plain)
        assert "sha256:" + hashlib.sha256(toc_bytes).hexdigest() == descriptor["annotations"][TOC_ANNOTATION]
        chunked = chunked or chunks > 0
    assert chunked  # the 10 MiB file was cut into 4 MiB chunks

    again = f"{base}/layout:2"  # the same image pushed again: the very same bytes
    store.out("tag", "app:latest", again)
    store.out("push", "--compression", "estargz", again)
    assert _raw_manifest(again) == manifest


def _check_estargz(blob: bytes, plain: bytes) -> tuple[bytes, int]:
    """Check ``blob`` against the eStargz spec; returns the TOC's bytes and how many ``chunk`` entries it has."""
    footer = blob[-51:]
    assert footer[:4] == b"\x1f\x8b\x08\x04" and footer[10:12] == (26).to_bytes(2, "little")
    assert footer[12:16] == b"SG" + (22).to_bytes(2, "little") and footer[32:38] == b"STARGZ"
    assert gzip.decompress(footer) == b""
    toc_offset = int(footer[16:32], 16)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob[toc_offset:-51]))) as toc_tar:
        [member] = toc_tar.getmembers()
        assert member.name == "stargz.index.json"
        toc_bytes = toc_tar.extractfile(member).read()
    toc = json.loads(toc_bytes)
    assert toc["version"] == 1
    assert toc["entries"][0]["name"] == ".no.prefetch.landmark"
    with tarfile.open(fileobj=io.BytesIO(plain)) as archive:
        members = archive.getmembers()
        names = [m.name for m in members]
        contents = {m.name: archive.extractfile(m).read() for m in members if m.isreg()}
    assert names[0] == ".no.prefetch.landmark" and names[-1] == "stargz.index.json"
    assert contents[".no.prefetch.landmark"] == b"\x0f"
    entries = [e for e in toc["entries"] if e["type"] != "chunk"]
    assert [e["name"].rstrip("/") for e in entries] == names[:-1]
    for entry, member in zip(entries, members, strict=False):
        assert (entry["mode"], entry.get("uid", 0), entry.get("gid", 0)) == (member.mode, member.uid, member.gid)
        assert entry.get("linkName", "") == member.linkname
    chunks = 0
    for entry in toc["entries"]:
        if entry["type"] not in ("reg", "chunk") or "offset" not in entry:
            assert entry["type"] != "reg" or not contents[entry["name"]]  # only empty files have no offset
            continue
        name = entry["name"]
        start = entry.get("chunkOffset", 0)
        size = entry.get("chunkSize") or len(contents[name]) - start
        expected = contents[name][start:start + size]
        # a gzip member starts at the offset, and its first bytes are this chunk
        assert zlib.decompressobj(31).decompress(blob[entry["offset"]:], len(expected)) == expected, name
        assert entry["chunkDigest"] == "sha256:" + hashlib.sha256(expected).hexdigest()
        if entry["type"] == "reg":
            assert entry["digest"] == "sha256:" + hashlib.sha256(contents[name]).hexdigest()
        chunks += entry["type"] == "chunk"
    return toc_bytes, chunks


def test_estargz_of_unusual_members(tmp_path: Path) -> None:
    """PAX long names, xattrs, hard links, symlinks, fifos, empty and chunked files keep their headers."""
    from lamina.layer.estargz import write_estargz

    source = tmp_path / "layer.tar"
    with tarfile.open(source, "w", format=tarfile.PAX_FORMAT) as archive:
        def add(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **fields) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.size, info.mtime, info.mode = kind, len(data), 1234567890, fields.pop("mode", 0o644)
            for key, value in fields.items():
                setattr(info, key, value)
            archive.addfile(info, io.BytesIO(data) if data else None)
        add("dir/", tarfile.DIRTYPE, mode=0o755)
        add("dir/" + "long" * 40, data=b"long name\n", uid=1000, gid=1000)
        add("dir/xattr", data=b"x", pax_headers={"SCHILY.xattr.user.note": "hello"})
        add("dir/empty")
        add("dir/big", data=os.urandom(1 << 20) * 3 + b"tail")
        add("dir/hard", tarfile.LNKTYPE, linkname="dir/big")
        add("dir/sym", tarfile.SYMTYPE, linkname="big", mode=0o777)
        add("dir/fifo", tarfile.FIFOTYPE)
    out = io.BytesIO()
    result = write_estargz(source, out, chunk_size=1 << 20)
    blob = out.getvalue()
    plain = gzip.decompress(blob)
    assert result.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    toc_bytes, chunks = _check_estargz(blob, plain)
    assert result.toc_digest == "sha256:" + hashlib.sha256(toc_bytes).hexdigest()
    assert chunks == 3
    original = source.read_bytes()
    with tarfile.open(source) as archive:
        first = archive.getmembers()
    # the original members' bytes follow the landmark unchanged, up to the original end blocks
    landmark = 1024  # its header and its one-byte payload block
    assert plain[landmark:landmark + first[-1].offset_data] == original[:first[-1].offset_data]
    toc = json.loads(toc_bytes)
    xattr = next(e for e in toc["entries"] if e["name"] == "dir/xattr")
    assert xattr["xattrs"] == {"user.note": "aGVsbG8="}
    write_estargz(source, again := io.BytesIO(), chunk_size=1 << 20)
    assert again.getvalue() == blob  # the same bytes every time


@pytest.mark.slow
def test_pulls_of_zstd_and_estargz(source, tmp_path: Path) -> None:
    store, base = source
    image_id = store.out("images", "-q", "--no-trunc", "app:latest").strip()
    for compression in ("zstd", "estargz"):
        ref = f"{base}/pull-{compression}:1"
        store.out("tag", "app:latest", ref)
        store.out("push", "--compression", compression, ref)
        other = Lamina(tmp_path / compression / "store")
        other.out("pull", ref)
        pulled = other.out("images", "-q", "--no-trunc", ref).strip()
        config_digest = _raw_manifest(ref)["config"]["digest"]
        assert pulled == config_digest
        if compression == "zstd":
            assert pulled == image_id  # same layers, same config
        else:
            assert pulled != image_id  # eStargz diffIDs: its own config
        assert other.out("run", "--rm", ref, "cat", "/data/empty") == ""
        assert other.out("run", "--rm", ref, "sh", "-c", "wc -c < /big").strip() == str(10 << 20)


@pytest.mark.slow
def test_level_and_force(source, busybox_tar: Path, tmp_path: Path, anon_registry) -> None:
    store, base = source
    sizes = {}
    for level in ("1", "9"):
        ref = f"{base}/level{level}:1"
        store.out("tag", "app:latest", ref)
        store.out("push", "--compression", "gzip", "--compression-level", level, "--force-compression", ref)
        layers = _raw_manifest(ref)["layers"]
        sizes[level] = sum(layer["size"] for layer in layers)
        blob = _blob(anon_registry, f"compress/level{level}", layers[-1]["digest"])
        assert blob[3] == 0 and blob[4:8] == bytes(4)  # no name, mtime 0: the same bytes every time
    assert sizes["9"] < sizes["1"]

    # an image pulled as gzip: without --force-compression its layers stay gzip, with it they are zstd
    other = Lamina(tmp_path / "pulled" / "store")
    other.out("pull", f"{base}/level9:1")
    ref = f"{base}/forced:1"
    other.out("tag", f"{base}/level9:1", ref)
    other.out("push", "--compression", "zstd", ref)
    assert {layer["mediaType"].rpartition("+")[2] for layer in _raw_manifest(ref)["layers"]} == {"gzip"}
    other.out("push", "--compression", "zstd", "--force-compression", ref)
    assert {layer["mediaType"] for layer in _raw_manifest(ref)["layers"]} == {LAYER_TYPES["zstd"]}
    other.out("push", "--compression", "estargz", ref)  # from gzip-only layers, decompressed first
    assert {layer["mediaType"] for layer in _raw_manifest(ref)["layers"]} == {LAYER_TYPES["estargz"]}


def test_bad_levels_are_refused(lamina: Lamina, imported_busybox: str) -> None:
    stderr = lamina.fails("push", "--compression", "zstd", "--compression-level", "30", "127.0.0.1:1/x:1")
    assert "compression level 30 is out of range for zstd (1-22)" in stderr
    stderr = lamina.fails("push", "--compression", "none", "--compression-level", "3", "127.0.0.1:1/x:1")
    assert "does not apply to compression none" in stderr


@pytest.mark.slow
def test_docker_20_10_pulls_estargz_but_not_zstd(source, docker) -> None:
    store, base = source
    results = {}
    for compression in ("estargz", "zstd"):
        ref = f"{base}/docker-{compression}:1"
        store.out("tag", "app:latest", ref)
        store.out("push", "--compression", compression, ref)
        results[compression] = docker.run("pull", ref, check=False)
    assert results["estargz"].returncode == 0, results["estargz"].stderr
    # 20.10 takes the zstd media type and then reads the zstd bytes as a plain tar
    assert results["zstd"].returncode != 0
    assert b"failed to register layer" in results["zstd"].stderr, results["zstd"].stderr
    assert b"invalid tar header" in results["zstd"].stderr


@pytest.mark.slow
@pytest.mark.parametrize("compression", ["gzip", "zstd", "estargz"])
def test_save_with_compression(source, compression: str, tmp_path: Path) -> None:
    store, _ = source
    image_id = store.out("images", "-q", "--no-trunc", "app:latest").strip()
    archive = tmp_path / "saved.tar"
    store.out("save", "--compression", compression, "--force-compression", "-o", str(archive), "app:latest")
    extracted = tmp_path / "extracted"  # the archive is an OCI layout too: skopeo reads it as one
    extracted.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(extracted, filter="data")
    recompress = ["--dest-compress", "--dest-compress-format", "gzip"] if compression == "zstd" else []
    _skopeo("copy", *recompress, f"oci:{extracted}", f"oci:{tmp_path / 'copy'}:img")
    manifest = json.loads(_skopeo("inspect", "--raw", f"oci:{extracted}"))
    kinds = {layer["mediaType"].rpartition("+")[2] for layer in manifest["layers"]}
    assert kinds == {"gzip" if compression == "estargz" else compression}
    require_tool("umoci", "umoci")
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'copy'}:img", str(tmp_path / "bundle")],
                   check=True, capture_output=True)
    assert (tmp_path / "bundle" / "rootfs" / "data" / "big.bin").stat().st_size == 10 << 20
    other = Lamina(tmp_path / "loaded" / "store")
    other.out("load", "-i", str(archive))
    loaded = other.out("images", "-q", "--no-trunc", "app:latest").strip()
    assert (loaded == image_id) == (compression != "estargz")  # eStargz layers: their own diffIDs and config
    assert other.out("run", "--rm", "app:latest", "sh", "-c", "wc -c < /big").strip() == str(10 << 20)
