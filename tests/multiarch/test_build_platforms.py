"""build --platform a,b: one build per platform, BuildKit's platform args, FROM resolved per
platform (a local manifest list's children), FROM --platform=$BUILDPLATFORM run natively, RUN of
arm64 through qemu; the tag names a manifest list that push sends whole."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Lamina, require_tool

DOCKERFILE = """\
FROM --platform=$BUILDPLATFORM base AS tool
ARG TARGETARCH
RUN busybox uname -m > /built-on && echo "$TARGETARCH" > /for
FROM base
ARG TARGETPLATFORM
ARG BUILDPLATFORM
COPY --from=tool /built-on /for /
RUN echo "$(busybox uname -m) $TARGETPLATFORM $BUILDPLATFORM" > /arch
"""


@pytest.fixture
def multi_base(lamina: Lamina, busybox_tar: Path, arm64_tar: Path, qemu_arm64) -> str:
    lamina.out("import", "--platform", "linux/amd64", str(busybox_tar), "bb:amd64")
    lamina.out("import", "--platform", "linux/arm64", str(arm64_tar), "bb:arm64")
    lamina.out("manifest", "create", "base", "bb:amd64", "bb:arm64")
    return "base"


def _context(tmp_path: Path) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    return context


def test_build_two_platforms(lamina: Lamina, multi_base: str, tmp_path: Path):
    lamina.out("build", "--platform", "linux/amd64,linux/arm64", "-t", "app:multi", str(_context(tmp_path)))
    index = json.loads(lamina.out("manifest", "inspect", "app:multi"))
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    seen = {}
    for platform in ("linux/amd64", "linux/arm64"):
        seen[platform] = lamina.out("run", "--rm", "--pull", "never", "--platform", platform, "app:multi",
                                    "cat", "/arch", "/built-on", "/for").split("\n")[:3]
    # RUN in the target stage ran on the target's CPU (qemu for arm64); the $BUILDPLATFORM stage natively
    assert seen["linux/amd64"] == ["x86_64 linux/amd64 linux/amd64", "x86_64", "amd64"]
    assert seen["linux/arm64"] == ["aarch64 linux/arm64 linux/amd64", "x86_64", "arm64"]
    # each child image's config states its platform
    for child, arch in zip(index["manifests"], ("amd64", "arm64"), strict=True):
        assert child["platform"]["os"] == "linux" and child["platform"]["architecture"] == arch


def test_bad_platform_list_is_refused(lamina: Lamina, tmp_path: Path):
    error = lamina.fails("build", "--platform", "linux/amd64,linux//v7", "-t", "app:bad", str(_context(tmp_path)))
    assert "linux//v7" in error


@pytest.mark.slow
def test_push_built_list_whole(lamina: Lamina, multi_base: str, tmp_path: Path, registry):
    name = f"{registry.host}/multi/built:v1"
    lamina.out("build", "--platform", "linux/arm64,linux/amd64", "-t", name, str(_context(tmp_path)))
    local = json.loads(lamina.out("manifest", "inspect", "-v", name))
    lamina.out("push", name)
    skopeo = require_tool("skopeo", "skopeo")
    raw = subprocess.run([skopeo, "inspect", "--tls-verify=false", "--raw", f"docker://{name}"],
                         check=True, capture_output=True, timeout=120).stdout
    assert json.loads(raw) == local["Raw"]
    config = json.loads(subprocess.run([skopeo, "inspect", "--tls-verify=false", "--override-arch", "arm64",
                                        "--config", f"docker://{name}"],
                                       check=True, capture_output=True, timeout=120).stdout)
    assert config["architecture"] == "arm64"
    assert any("linux/arm64" in (h.get("created_by") or "") for h in config["history"])  # the RUN's build arg


@pytest.mark.slow
def test_build_three_platforms_with_arm_v7(lamina: Lamina, multi_base: str, armv7_tar: Path, qemu_arm,
                                           tmp_path: Path):
    """linux/arm/v7 too: its variant travels from the image config to the list, and RUN under qemu-arm."""
    lamina.out("import", "--platform", "linux/arm/v7", str(armv7_tar), "bb:armv7")
    assert lamina.out("image", "inspect", "--format", "{{.Variant}}", "bb:armv7").strip() == "v7"
    lamina.out("manifest", "add", "base", "bb:armv7")
    lamina.out("build", "--platform", "linux/amd64,linux/arm64,linux/arm/v7", "-t", "app:three",
               str(_context(tmp_path)))
    index = json.loads(lamina.out("manifest", "inspect", "app:three"))
    assert [(m["platform"]["architecture"], m["platform"].get("variant")) for m in index["manifests"]] == \
        [("amd64", None), ("arm64", None), ("arm", "v7")]
    out = lamina.out("run", "--rm", "--pull", "never", "--platform", "linux/arm/v7", "app:three",
                     "cat", "/arch", "/for").split("\n")[:2]
    assert out == ["armv7l linux/arm/v7 linux/amd64", "arm"]


def test_prune_keeps_the_lists_images(lamina: Lamina, multi_base: str, tmp_path: Path):
    """A built list's foreign images carry no tag; they are named by digest, so prune keeps them."""
    lamina.out("build", "--platform", "linux/amd64,linux/arm64", "-t", "app:kept", str(_context(tmp_path)))
    lamina.out("image", "prune", "-f")
    assert lamina.out("run", "--rm", "--pull", "never", "--platform", "linux/arm64", "app:kept",
                      "cat", "/for").strip() == "arm64"
    digests = lamina.out("images", "--digests", "--format", "{{.Repository}} {{.Digest}}")
    index = json.loads(lamina.out("manifest", "inspect", "app:kept"))
    for child in index["manifests"]:
        assert f"app {child['digest']}" in digests
