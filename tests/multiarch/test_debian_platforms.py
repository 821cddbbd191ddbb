"""A real distribution on two architectures: debian:bookworm made by debootstrap for amd64 and
(``--arch=arm64 --foreign`` + its second stage under qemu) for arm64, never downloaded as an
image; one list of both, one build for both platforms, dpkg inside each says which it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Lamina

DOCKERFILE = """\
FROM debian:bookworm
ARG TARGETARCH
RUN echo "$(dpkg --print-architecture) $(uname -m) $TARGETARCH" > /arch
"""


@pytest.mark.slow
def test_debian_two_architectures(lamina: Lamina, debian_rootfs_tar: Path, debian_arm64_tar: Path,
                                  tmp_path: Path):
    lamina.out("import", "--platform", "linux/amd64", str(debian_rootfs_tar), "debian:bookworm-amd64")
    lamina.out("import", "--platform", "linux/arm64", str(debian_arm64_tar), "debian:bookworm-arm64")
    lamina.out("manifest", "create", "debian:bookworm", "debian:bookworm-amd64", "debian:bookworm-arm64")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    lamina.out("build", "--platform", "linux/arm64,linux/amd64", "-t", "deb-app:1", str(context))
    index = json.loads(lamina.out("manifest", "inspect", "deb-app:1"))
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["arm64", "amd64"]
    run = ("run", "--rm", "--pull", "never", "--platform")
    assert lamina.out(*run, "linux/arm64", "deb-app:1", "cat", "/arch").strip() == "arm64 aarch64 arm64"
    assert lamina.out(*run, "linux/amd64", "deb-app:1", "cat", "/arch").strip() == "amd64 x86_64 amd64"
