"""docker as the oracle: the manifest list `docker manifest create/annotate` makes of the same
two images once they are in a registry. (docker 28's `import --platform` on its classic image
store records this machine's architecture whatever is asked, so it is no oracle for import.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Lamina


@pytest.mark.slow
def test_manifest_create_and_annotate_as_docker(lamina: Lamina, docker, registry, busybox_tar: Path,
                                                arm64_tar: Path):
    repo = f"{registry.host}/oracle/bb"
    lamina.out("import", "--platform", "linux/amd64", str(busybox_tar), f"{repo}:amd64")
    lamina.out("import", "--platform", "linux/arm64", str(arm64_tar), f"{repo}:arm64")
    for tag in ("amd64", "arm64"):  # docker's manifest create reads the images from the registry
        lamina.out("push", f"{repo}:{tag}")
    docker.run("manifest", "create", "--insecure", f"{repo}:list", f"{repo}:amd64", f"{repo}:arm64")
    lamina.out("manifest", "create", f"{repo}:list", f"{repo}:amd64", f"{repo}:arm64")

    def entries(document: dict) -> list[dict]:
        return [{k: m.get(k) for k in ("mediaType", "digest", "size", "platform")} for m in document["manifests"]]

    theirs = json.loads(docker.out("manifest", "inspect", "--insecure", f"{repo}:list"))
    ours = json.loads(lamina.out("manifest", "inspect", f"{repo}:list"))
    assert ours["mediaType"] == theirs["mediaType"]
    assert entries(ours) == entries(theirs)

    docker.run("manifest", "annotate", f"{repo}:list", f"{repo}:arm64", "--variant", "v8")
    lamina.out("manifest", "annotate", f"{repo}:list", f"{repo}:arm64", "--variant", "v8")
    theirs = json.loads(docker.out("manifest", "inspect", "--insecure", f"{repo}:list"))
    ours = json.loads(lamina.out("manifest", "inspect", f"{repo}:list"))
    assert entries(ours) == entries(theirs)
