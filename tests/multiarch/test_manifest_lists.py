"""Local manifest lists (lamina manifest create/add/annotate/inspect/push/rm) against a loopback
docker-registry, skopeo as the oracle for what the registry serves."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Lamina, require_tool


@pytest.fixture
def two_platforms(lamina: Lamina, busybox_tar: Path, arm64_tar: Path) -> tuple[str, str]:
    """An amd64 and an arm64 busybox image in one store; their image IDs."""
    amd = lamina.out("import", "--platform", "linux/amd64", str(busybox_tar), "bb:amd64").strip()
    arm = lamina.out("import", "--platform", "linux/arm64", str(arm64_tar), "bb:arm64").strip()
    return amd, arm


def _skopeo(*args: str) -> bytes:
    skopeo = require_tool("skopeo", "skopeo")
    return subprocess.run([skopeo, *args], check=True, capture_output=True, timeout=120).stdout


def test_create_inspect_annotate_rm(lamina: Lamina, two_platforms):
    assert "Created manifest list" in lamina.out("manifest", "create", "multi:v1", "bb:amd64", "bb:arm64")
    index = json.loads(lamina.out("manifest", "inspect", "multi:v1"))
    platforms = [(m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]]
    assert platforms == [("linux", "amd64"), ("linux", "arm64")]
    assert "refusing to amend" in lamina.fails("manifest", "create", "multi:v1", "bb:amd64")

    lamina.out("manifest", "annotate", "multi:v1", "bb:arm64", "--variant", "v8")
    index = json.loads(lamina.out("manifest", "inspect", "multi:v1"))
    assert [m["platform"].get("variant") for m in index["manifests"]] == [None, "v8"]

    lamina.out("manifest", "rm", "multi:v1")
    assert "No such manifest" in lamina.fails("manifest", "rm", "multi:v1")
    # the images in the list stay
    assert lamina.out("image", "inspect", "--format", "{{.Architecture}}", "bb:arm64").strip() == "arm64"


def test_add_to_a_list(lamina: Lamina, two_platforms):
    lamina.out("manifest", "create", "multi:v2", "bb:amd64")
    digest = lamina.out("manifest", "add", "multi:v2", "bb:arm64", "--annotation", "org.example=1").strip()
    index = json.loads(lamina.out("manifest", "inspect", "multi:v2"))
    assert len(index["manifests"]) == 2 and index["manifests"][1]["annotations"] == {"org.example": "1"}
    verbose = json.loads(lamina.out("manifest", "inspect", "-v", "multi:v2"))
    assert verbose["Descriptor"]["digest"] == digest


@pytest.mark.slow
def test_push_sends_list_and_children(lamina: Lamina, two_platforms, registry, tmp_path: Path, qemu_arm64):
    name = f"{registry.host}/multi/app:v1"
    lamina.out("manifest", "create", name, "bb:amd64", "bb:arm64")
    local = json.loads(lamina.out("manifest", "inspect", "-v", name))
    pushed = lamina.out("manifest", "push", name).strip()
    assert pushed == local["Descriptor"]["digest"]

    raw = _skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{name}")
    assert json.loads(raw) == local["Raw"]
    for child, arch in zip(local["Raw"]["manifests"], ("amd64", "arm64"), strict=True):
        config = json.loads(_skopeo("inspect", "--tls-verify=false", "--config",
                                    f"docker://{registry.host}/multi/app@{child['digest']}"))
        assert config["architecture"] == arch

    # another store pulls the arm64 image of the pushed list and runs it under qemu
    other = Lamina(tmp_path / "other")
    other.out("pull", "--platform", "linux/arm64", name)
    assert other.out("run", "--rm", "--platform", "linux/arm64", name, "uname", "-m").strip() == "aarch64"
    assert other.out("image", "inspect", "--format", "{{.Architecture}}", name).strip() == "arm64"


def test_run_platform_picks_the_lists_child(lamina: Lamina, two_platforms, qemu_arm64):
    """run --platform of a local list's name runs the list's image for that platform, no pull."""
    lamina.out("manifest", "create", "multi:run", "bb:amd64", "bb:arm64")
    args = ("run", "--rm", "--pull", "never", "--platform")
    assert lamina.out(*args, "linux/arm64", "multi:run", "uname", "-m").strip() == "aarch64"
    assert lamina.out(*args, "linux/amd64", "multi:run", "busybox", "uname", "-m").strip() == "x86_64"
    assert "does not match" in lamina.fails(*args, "linux/arm/v7", "multi:run", "true")
