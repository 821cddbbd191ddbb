"""save/load against the real peers: docker, skopeo, umoci."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile

import pytest

from tests.conftest import Lamina, read_json_member, require_tool

pytestmark = pytest.mark.slow


def test_lamina_save_loads_into_docker_and_runs(lamina: Lamina, imported_busybox, docker, tmp_path):
    lamina.run("tag", "busybox", "lamina-interop/bb:v1")
    archive = tmp_path / "out.tar"
    lamina.run("save", "-o", str(archive), "busybox", "lamina-interop/bb:v1")
    loaded = docker.out("load", "-i", str(archive))
    assert "Loaded image: lamina-interop/bb:v1" in loaded
    assert docker.out("image", "inspect", "-f", "{{.Id}}", "lamina-interop/bb:v1").strip() == imported_busybox
    output = docker.out("run", "--rm", "--network", "none", "lamina-interop/bb:v1", "sh", "-c", "echo hello from lamina")
    assert output == "hello from lamina\n"
    docker.run("rmi", "lamina-interop/bb:v1", check=False)


def test_save_writes_docker25_layout_with_zero_mtimes(lamina: Lamina, imported_busybox, tmp_path):
    """Specification, not compared: the private dockerd is 20.10, whose ``save`` writes the older
    layout. Sources: docs.docker.com/engine/release-notes/25.0/ ("docker save ... OCI compliant"),
    and moby's image/tarexport/save.go (v25+), which writes index.json with the annotations
    ``io.containerd.image.name`` (the full name) and ``org.opencontainers.image.ref.name`` (the tag)
    beside manifest.json and repositories, every entry with mtime 0. That docker loads it is checked
    by test_lamina_save_loads_into_docker_and_runs above."""
    archive = tmp_path / "out.tar"
    lamina.run("save", "-o", str(archive), "busybox")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert all(member.mtime == 0 for member in tar.getmembers())
    assert {"oci-layout", "index.json", "manifest.json", "repositories"} <= set(names)
    manifest = read_json_member(archive, "manifest.json")
    assert manifest[0]["Config"] == "blobs/sha256/" + imported_busybox[7:]
    assert manifest[0]["RepoTags"] == ["busybox:latest"]
    index = read_json_member(archive, "index.json")
    annotations = index["manifests"][0]["annotations"]
    assert annotations == {"io.containerd.image.name": "docker.io/library/busybox:latest",
                           "org.opencontainers.image.ref.name": "latest"}


def test_save_to_stdout_equals_save_to_file(lamina: Lamina, imported_busybox, tmp_path):
    archive = tmp_path / "out.tar"
    lamina.run("save", "-o", str(archive), "busybox")
    assert lamina.run("save", "busybox").stdout == archive.read_bytes()


def test_docker_save_loads_into_lamina_with_same_id_config_and_layers(lamina: Lamina, busybox_tar, docker, tmp_path):
    docker.run("import", "-c", 'CMD ["sh"]', "-c", "ENV FROM_DOCKER=1", str(busybox_tar), "docker-made/bb:1")
    docker_id = docker.out("image", "inspect", "-f", "{{.Id}}", "docker-made/bb:1").strip()
    archive = tmp_path / "docker.tar"
    docker.run("save", "-o", str(archive), "docker-made/bb:1")
    out = lamina.out("load", "-i", str(archive))
    assert out == "Loaded image: docker-made/bb:1\n"
    [mine] = json.loads(lamina.out("inspect", "docker-made/bb:1"))
    [theirs] = json.loads(docker.out("image", "inspect", "docker-made/bb:1"))
    assert mine["Id"] == theirs["Id"] == docker_id
    assert mine["RootFS"] == theirs["RootFS"]
    assert mine["Config"]["Env"] == theirs["Config"]["Env"] and mine["Config"]["Cmd"] == theirs["Config"]["Cmd"]
    assert mine["Size"] == theirs["Size"]  # the unpacked files, as docker counts them, not the tar
    assert lamina.out("images", "--format", "{{.Size}}", "docker-made/bb") == \
        docker.out("images", "--format", "{{.Size}}", "docker-made/bb")
    # and through stdin
    other = Lamina(tmp_path / "second")
    assert other.out("load", input=archive.read_bytes()) == "Loaded image: docker-made/bb:1\n"
    docker.run("rmi", "docker-made/bb:1")


def test_skopeo_reads_lamina_archives_both_ways(lamina: Lamina, imported_busybox, tmp_path):
    skopeo = require_tool("skopeo", "skopeo")
    archive = tmp_path / "out.tar"
    lamina.run("save", "-o", str(archive), "busybox")
    for transport in ("docker-archive", "oci-archive"):
        info = json.loads(subprocess.run([skopeo, "inspect", "--config", f"{transport}:{archive}"],
                                         capture_output=True, check=True).stdout)
        assert info["rootfs"]["diff_ids"] == json.loads(lamina.out("inspect", "busybox"))[0]["RootFS"]["Layers"]
    # skopeo writes an OCI archive (compressed layers) that lamina loads with the same image ID
    oci = tmp_path / "skopeo-oci.tar"
    subprocess.run([skopeo, "copy", "-q", f"docker-archive:{archive}", f"oci-archive:{oci}:latest"],
                   check=True, capture_output=True)
    other = Lamina(tmp_path / "second")
    out = other.out("load", "-i", str(oci))
    assert out.startswith("Loaded image ID: sha256:")  # skopeo's "latest" names no repository
    # skopeo converts the config to the OCI type (new bytes, new ID) but the layers are the same
    assert json.loads(other.out("inspect", out.split()[-1]))[0]["RootFS"] == \
        json.loads(lamina.out("inspect", imported_busybox))[0]["RootFS"]
    assert "clean" in other.out("fsck")
    # with a full name annotation, the tag comes along
    named = tmp_path / "named-oci.tar"
    subprocess.run([skopeo, "copy", "-q", f"docker-archive:{archive}",
                    f"oci-archive:{named}:docker.io/library/named:v2"], check=True, capture_output=True)
    assert other.out("load", "-i", str(named)) == "Loaded image: named:v2\n"


def test_umoci_unpacks_lamina_archive(lamina: Lamina, imported_busybox, tmp_path):
    umoci = require_tool("umoci", "umoci")
    archive = tmp_path / "out.tar"
    lamina.run("save", "-o", str(archive), "busybox")
    layout = tmp_path / "layout"
    layout.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(layout, filter="tar")
    # umoci resolves tags by org.opencontainers.image.ref.name
    bundle = tmp_path / "bundle"
    subprocess.run([umoci, "unpack", "--image", f"{layout}:latest", str(bundle)], check=True, capture_output=True)
    assert (bundle / "rootfs" / "bin" / "busybox").is_file()
    assert json.loads((bundle / "config.json").read_text())["process"]["args"] == ["sh"]


def test_load_accepts_compressed_archives(lamina: Lamina, imported_busybox, tmp_path):
    archive = tmp_path / "out.tar"
    lamina.run("save", "-o", str(archive), "busybox")
    for tool, suffix in (("gzip", "gz"), ("zstd", "zst")):
        packed = tmp_path / f"out.tar.{suffix}"
        with open(packed, "wb") as out:
            subprocess.run([tool, "-c", str(archive)], stdout=out, check=True)
        other = Lamina(tmp_path / f"store-{suffix}")
        assert other.out("load", "-i", str(packed)) == "Loaded image: busybox:latest\n"
        assert other.out("images", "-q", "--no-trunc").strip() == imported_busybox


def test_save_of_several_images_shares_layers(lamina: Lamina, busybox_tar, tmp_path):
    first = lamina.out("import", str(busybox_tar), "first:1", "-c", "ENV N=1").strip()
    second = lamina.out("import", str(busybox_tar), "second:1", "-c", "ENV N=2").strip()
    archive = tmp_path / "two.tar"
    lamina.run("save", "-o", str(archive), "first:1", "second:1")
    with tarfile.open(archive) as tar:
        big = [m for m in tar.getmembers() if m.size > 100_000]
    assert len(big) == 1  # the shared layer is written once
    other = Lamina(tmp_path / "second-store")
    out = other.out("load", "-i", str(archive))
    assert out == "Loaded image: first:1\nLoaded image: second:1\n"
    assert set(other.out("images", "-q", "--no-trunc").split()) == {first, second}


def test_load_replacing_a_tag_says_so(lamina: Lamina, busybox_tar, tmp_path):
    old = lamina.out("import", str(busybox_tar), "app:1", "-c", "ENV V=old").strip()
    source = Lamina(tmp_path / "source")
    source.out("import", str(busybox_tar), "app:1", "-c", "ENV V=new")
    archive = tmp_path / "new.tar"
    source.run("save", "-o", str(archive), "app:1")
    out = lamina.out("load", "-i", str(archive))
    assert f"The image app:1 already exists, renaming the old one with ID {old} to empty string" in out
    assert "<none>" in lamina.out("images")


def test_docker_load_of_multi_image_archive(lamina: Lamina, busybox_tar, docker, tmp_path):
    lamina.out("import", str(busybox_tar), "multi-a:1", "-c", 'CMD ["echo", "a"]')
    lamina.out("import", str(busybox_tar), "multi-b:1", "-c", 'CMD ["echo", "b"]')
    archive = tmp_path / "multi.tar"
    lamina.run("save", "-o", str(archive), "multi-a:1", "multi-b:1")
    out = docker.out("load", "-i", str(archive))
    assert "multi-a:1" in out and "multi-b:1" in out
    assert docker.out("run", "--rm", "--network", "none", "multi-b:1") == "b\n"
    docker.run("rmi", "multi-a:1", "multi-b:1")


def test_tools_present():
    assert shutil.which("skopeo") and shutil.which("umoci")
