"""Push options and whole-repository transfers, checked against a loopback distribution registry
with skopeo as the oracle for what reached it: ``push --compression zstd|none``, ``push
--all-tags``, ``pull --all-tags`` and ``copy --all`` of a multi-platform image."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from lamina.oci.models import encode
from lamina.registry.client import RegistryClient
from lamina.registry.config import RegistryConfig
from tests.conftest import Lamina, require_tool

pytestmark = pytest.mark.registry

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


def _skopeo(*args: str) -> bytes:
    skopeo = require_tool("skopeo", "skopeo")
    result = subprocess.run([skopeo, *args], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def _image_id(store: Lamina, ref: str) -> str:
    return store.out("inspect", "--format", "{{.Id}}", ref).strip()


@pytest.mark.parametrize(("compression", "media_type"), [("zstd", OCI_LAYER + "+zstd"), ("none", "uncompressed"),
                                                         ("gzip", None)])
def test_push_compression_reaches_the_registry_and_pulls_back_the_same(
        lamina: Lamina, busybox_tar, anon_registry, tmp_path: Path, compression, media_type):
    ref = f"{anon_registry.host}/compress/bb:{compression}-{os.urandom(3).hex()}"
    lamina.out("import", str(busybox_tar), ref, "-c", "ENV COMPRESSED=" + compression)
    original = _image_id(lamina, ref)
    lamina.out("push", "--compression", compression, ref)
    # skopeo's view: the manifest's layer media types, and each layer blob as skopeo decompresses it
    manifest = json.loads(_skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{ref}"))
    types = [layer["mediaType"] for layer in manifest["layers"]]
    if media_type is None:  # the default: gzip, in whichever manifest format the image has
        assert all(kind.endswith(("gzip", "tar.gzip")) for kind in types), types
    elif media_type == "uncompressed":  # the manifest format's own type for a plain tar
        docker_v2 = manifest.get("mediaType") == "application/vnd.docker.distribution.manifest.v2+json"
        assert types == [DOCKER_LAYER if docker_v2 else OCI_LAYER], (manifest.get("mediaType"), types)
    else:
        assert types == [media_type]
    copied = tmp_path / "skopeo-dir"
    _skopeo("copy", "--src-tls-verify=false", "--dest-decompress", f"docker://{ref}", f"dir:{copied}")
    config = json.loads(lamina.out("image", "inspect", "--format", "{{json .RootFS}}", ref))
    blobs = {hashlib.sha256(path.read_bytes()).hexdigest() for path in copied.iterdir() if len(path.name) == 64}
    assert {diff_id.removeprefix("sha256:") for diff_id in config["Layers"]} <= blobs
    # and lamina pulls it back to the very image it pushed
    fresh = Lamina(tmp_path / "fresh")
    fresh.out("pull", ref)
    assert _image_id(fresh, ref) == original
    assert fresh.out("run", "--rm", "--network", "none", ref, "sh", "-c", "echo $COMPRESSED") == compression + "\n"
    assert "0 problems, clean" in fresh.out("fsck")


def test_push_and_pull_all_tags(lamina: Lamina, busybox_tar, anon_registry, tmp_path: Path):
    repository = f"{anon_registry.host}/alltags/{os.urandom(3).hex()}"
    ids = {}
    for tag in ("one", "two", "three"):
        lamina.out("import", str(busybox_tar), f"{repository}:{tag}", "-c", f"ENV TAG={tag}")
        ids[tag] = _image_id(lamina, f"{repository}:{tag}")
    assert len(set(ids.values())) == 3
    lamina.out("tag", f"{repository}:one", "unrelated/name:one")  # another repository's tag is not pushed
    lamina.out("push", "--all-tags", repository)
    listed = json.loads(_skopeo("list-tags", "--tls-verify=false", f"docker://{repository}"))
    assert sorted(listed["Tags"]) == ["one", "three", "two"]
    for tag in ids:  # what reached the registry is the image lamina has (config digest = image ID)
        config = json.loads(_skopeo("inspect", "--tls-verify=false", "--config", f"docker://{repository}:{tag}"))
        assert config["config"]["Env"][-1] == f"TAG={tag}"
    fresh = Lamina(tmp_path / "fresh")
    fresh.out("pull", "--all-tags", repository)
    assert {tag: _image_id(fresh, f"{repository}:{tag}") for tag in ids} == ids
    listed_here = fresh.out("images", "--format", "{{.Tag}}", repository).split()
    assert sorted(listed_here) == ["one", "three", "two"]
    assert "0 problems, clean" in fresh.out("fsck")


def test_pull_all_tags_refuses_a_tag(lamina: Lamina, anon_registry):
    stderr = lamina.fails("pull", "--all-tags", f"{anon_registry.host}/alltags/x:one")
    assert stderr.count("lamina: error: ") == 1


def test_copy_all_copies_every_platform(lamina: Lamina, busybox_tar, anon_registry, tmp_path: Path):
    suffix = os.urandom(3).hex()
    source_repo, target_repo = f"multi/src{suffix}", f"multi/dst{suffix}"
    for arch in ("amd64", "s390x"):
        ref = f"{anon_registry.host}/{source_repo}:{arch}"
        lamina.out("import", str(busybox_tar), ref, "-c", f"ENV ARCH={arch}")
        lamina.out("push", ref)
    with RegistryClient(anon_registry.host, config=RegistryConfig()) as client:
        children = {arch: client.get_manifest(source_repo, arch) for arch in ("amd64", "s390x")}
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [{"mediaType": child.media_type, "digest": child.digest, "size": len(child.data),
                                "platform": {"os": "linux", "architecture": arch}}
                               for arch, child in children.items()]}
        client.put_manifest(source_repo, "multi", encode(index), index["mediaType"])
    source, target = f"{anon_registry.host}/{source_repo}:multi", f"{anon_registry.host}/{target_repo}:multi"
    lamina.out("copy", "--all", source, target)
    raw = _skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{target}")
    assert raw == encode(index)  # the index byte for byte, so its digest is kept
    for arch, child in children.items():  # and every platform's manifest and blobs
        assert _skopeo("inspect", "--tls-verify=false", "--raw",
                       f"docker://{anon_registry.host}/{target_repo}@{child.digest}") == child.data
        config = json.loads(_skopeo("inspect", "--tls-verify=false", "--config", "--override-arch", arch,
                                    f"docker://{target}"))
        assert f"ARCH={arch}" in config["config"]["Env"]
    # without --all only this machine's platform is copied: the foreign manifest is not there
    single = f"{anon_registry.host}/{target_repo}-single:multi"
    lamina.out("copy", source, single)
    foreign = subprocess.run([require_tool("skopeo", "skopeo"), "inspect", "--tls-verify=false", "--raw",
                              f"docker://{anon_registry.host}/{target_repo}-single@{children['s390x'].digest}"],
                             capture_output=True)
    assert foreign.returncode != 0
