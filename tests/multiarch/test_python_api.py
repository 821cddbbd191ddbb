"""The Python API's manifest lists: Client.manifests, and a multi-platform Client.build."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Lamina


def test_client_manifests(lamina: Lamina, busybox_tar: Path, arm64_tar: Path, tmp_path: Path):
    import lamina as api

    lamina.out("import", "--platform", "linux/amd64", str(busybox_tar), "bb:amd64")
    lamina.out("import", "--platform", "linux/arm64", str(arm64_tar), "bb:arm64")
    with api.Client(root=lamina.root) as client:
        digest = client.manifests.create("py:list", ["bb:amd64", "bb:arm64"])
        local = client.manifests.local("py:list")
        assert local is not None and local[0] == digest
        index = client.manifests.index("py:list")
        assert [m.platform.architecture for m in index.manifests] == ["amd64", "arm64"]
        client.manifests.annotate("py:list", "bb:arm64", variant="v8")
        assert client.manifests.index("py:list").manifests[1].platform.variant == "v8"
        client.manifests.remove("py:list")
        assert client.manifests.local("py:list") is None
