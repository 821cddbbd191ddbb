"""Layer tars as real producers write them (umoci: no end-of-archive blocks, not even padding
after the last member), through pull, load and import, each compared with docker's result for
the same input: the same image ID and the same files, or both refusing."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Docker, Lamina, require_tool
from tests.registry.servers import RegistryServer
from tests.store.loopback import loopback_registry_server

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.registry]

# What `export` adds to every container's tree (docker's and lamina's alike): not the image's.
_RUNTIME_ENTRIES = {".dockerenv", "dev", "proc", "sys", "etc/hostname", "etc/hosts", "etc/resolv.conf",
                    "etc/mtab", "etc"}


@pytest.fixture(scope="module")
def loopback_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from loopback_registry_server(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module")
def umoci_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OCI layout with two layers written by umoci: one by `insert`, one by `raw add-layer`
    from a tar that ends right after its last member (as umoci's own layers do)."""
    umoci = require_tool("umoci", "umoci")
    work = tmp_path_factory.mktemp("umoci")
    layout = work / "layout"
    subprocess.run([umoci, "init", "--layout", str(layout)], check=True)
    subprocess.run([umoci, "new", "--image", f"{layout}:v1"], check=True)
    source = work / "hello"
    source.write_text("hello from umoci insert\n")
    subprocess.run([umoci, "insert", "--image", f"{layout}:v1", str(source), "/etc/hello"], check=True)
    raw = work / "raw.tar"
    raw.write_bytes(_unterminated_tar({"opt/raw/data": b"raw layer " * 100, "opt/raw/odd": b"x" * 7}))
    subprocess.run([umoci, "raw", "add-layer", "--image", f"{layout}:v1", str(raw)], check=True)
    return layout


def _unterminated_tar(files: dict[str, bytes]) -> bytes:
    """A ustar archive cut right after its last member's data: no padding, no zero blocks."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 1_700_000_000
            archive.addfile(info, io.BytesIO(content))
            end = buffer.tell() - (-len(content) % 512)
    return buffer.getvalue()[:end]


def _umoci_layers(layout: Path) -> list[bytes]:
    """The uncompressed layer tars of the layout's one image."""
    import json

    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(_blob(layout, index["manifests"][0]["digest"]))
    return [gzip.decompress(_blob(layout, layer["digest"])) for layer in manifest["layers"]]


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def _tree(exported: bytes) -> dict[str, tuple]:
    """An exported container's files: name → (type, mode, content hash or link target)."""
    tree = {}
    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        for member in archive:
            name = member.name.removeprefix("./").rstrip("/")
            if not name or name in _RUNTIME_ENTRIES or name.split("/")[0] in ("dev", "proc", "sys"):
                continue
            body = archive.extractfile(member).read() if member.isfile() else member.linkname.encode()
            tree[name] = (member.type, member.mode & 0o7777, hashlib.sha256(body).hexdigest())
    return tree


def _lamina_tree(lamina: Lamina, image: str) -> dict[str, tuple]:
    container = lamina.out("create", image, "/none").strip().splitlines()[-1]
    try:
        return _tree(lamina.run("export", container).stdout)
    finally:
        lamina.run("rm", "-f", container, check=False)


def test_umoci_writes_layers_without_end_blocks(umoci_layout: Path):
    """The premise: what umoci writes really does end without the two zero blocks."""
    for layer in _umoci_layers(umoci_layout):
        assert not layer.endswith(b"\0" * 1024)


def test_pull_of_an_umoci_image_pushed_by_skopeo_matches_docker(
        umoci_layout: Path, loopback_registry, lamina: Lamina, docker: Docker):
    skopeo = require_tool("skopeo", "skopeo")
    ref = f"{loopback_registry.host}/producers/umoci:v1"
    subprocess.run([skopeo, "copy", "--dest-tls-verify=false", f"oci:{umoci_layout}:v1", f"docker://{ref}"],
                   check=True, capture_output=True)
    lamina.out("pull", ref)
    docker.run("pull", ref)
    try:
        assert lamina.out("inspect", "--format", "{{.Id}}", ref).strip() == \
            docker.out("inspect", "--format", "{{.Id}}", ref).strip()
        ours = _lamina_tree(lamina, ref)
        assert ours == _tree(docker.export_image(ref))
        assert "etc/hello" in ours and "opt/raw/odd" in ours
        assert "0 problems, clean" in lamina.out("fsck")
    finally:
        docker.run("rmi", "-f", ref, check=False)


def test_load_of_an_umoci_image_as_a_docker_archive_matches_docker(
        umoci_layout: Path, lamina: Lamina, docker: Docker, tmp_path: Path):
    skopeo = require_tool("skopeo", "skopeo")
    archive = tmp_path / "umoci.tar"
    subprocess.run([skopeo, "copy", f"oci:{umoci_layout}:v1", f"docker-archive:{archive}:producers/loaded:v1"],
                   check=True, capture_output=True)
    lamina.out("load", "-i", str(archive))
    docker.run("load", "-i", str(archive))
    try:
        image = "producers/loaded:v1"
        assert lamina.out("inspect", "--format", "{{.Id}}", image).strip() == \
            docker.out("inspect", "--format", "{{.Id}}", image).strip()
        assert _lamina_tree(lamina, image) == _tree(docker.export_image(image))
    finally:
        docker.run("rmi", "-f", "producers/loaded:v1", check=False)


def test_import_of_a_tar_without_end_blocks_matches_docker(
        umoci_layout: Path, lamina: Lamina, docker: Docker, tmp_path: Path):
    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(_umoci_layers(umoci_layout)[1])
    ours = lamina.out("import", str(rootfs), "producers/imported:v1").strip()
    theirs = docker.out("import", str(rootfs), "producers/imported:v1").strip()
    try:
        assert lamina.out("inspect", "--format", "{{json .RootFS.Layers}}", ours) == \
            docker.out("inspect", "--format", "{{json .RootFS.Layers}}", theirs)
        assert _lamina_tree(lamina, ours) == _tree(docker.export_image(theirs))
    finally:
        docker.run("rmi", "-f", "producers/imported:v1", check=False)


@pytest.mark.parametrize("cut", [1024 + 100, 1536 + 500], ids=["inside-a-header", "inside-data"])
def test_a_tar_cut_inside_a_member_is_refused_by_both(cut: int, lamina: Lamina, docker: Docker, tmp_path: Path):
    whole = _unterminated_tar({"a": b"a" * 100, "b": b"b" * 1000})
    rootfs = tmp_path / "cut.tar"
    rootfs.write_bytes(whole[:cut])
    assert "truncated" in lamina.fails("import", str(rootfs), "producers/cut:v1")
    assert docker.run("import", str(rootfs), "producers/cut:v1", check=False).returncode != 0
