"""The flat verbs of the old ``Client`` (``inspect_image``, ``list_containers``, ``volumes()`` …)
still work, and give what the collections give: one test per family."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import lamina
from tests.conftest import Lamina


def test_image_family(client: lamina.Client, cli: Lamina, busybox_tar):
    image = client.images.get("busybox")
    rows = client.images()
    assert [(r.repository, r.tag, r.id) for r in rows] == [("busybox", "latest", image.id)]
    assert cli.out("images", "--format", "{{.Repository}}:{{.Tag}}").split() == ["busybox:latest"]
    assert client.inspect_image("busybox") == image.attrs
    assert client.history("busybox") == image.history()
    assert client.tag("busybox", "again:1") == image.id
    assert "again:1" in client.images.get("again:1").tags
    image_id = client.import_image(str(busybox_tar), "flat:1")
    assert client.images.get("flat:1").id == image_id
    archive = io.BytesIO()
    client.save(["flat:1"], archive)
    archive.seek(0)
    with lamina.Client(root=cli.root.parent / "other") as other:
        assert [entry.image_id for entry in other.load(archive)] == [image_id]
    [report] = client.remove_images(["again:1"])
    assert report.untagged == ["again:1"]
    assert client.prune_images().deleted == []


def test_container_family(ctr_client: lamina.Client, cli: Lamina):
    container_id = ctr_client.create_container("busybox", lamina.RunOptions(command=["sleep", "30"]))
    assert ctr_client.containers.get(container_id).status == "created"
    ctr_client.start_container(container_id)
    assert [c.id for c in ctr_client.list_containers()] == [container_id]
    assert ctr_client.inspect_container(container_id) == ctr_client.containers.get(container_id).attrs
    ctr_client.stop_container(container_id, timeout=5, signal="KILL")
    assert ctr_client.wait_container(container_id) == 137
    assert cli.out("inspect", "--format", "{{.State.ExitCode}}", container_id).strip() == "137"
    assert ctr_client.remove_container(container_id) == container_id
    assert ctr_client.list_containers(all=True) == []


def test_volume_family(client: lamina.Client, cli: Lamina):
    assert client.create_volume("flat") == "flat"
    assert [v.name for v in client.volumes()] == ["flat"]
    assert isinstance(client.volumes()[0], lamina.VolumeRecord)
    assert client.inspect_volume("flat") == client.volumes.get("flat").attrs
    client.remove_volume("flat")
    assert cli.out("volume", "ls", "-q") == ""
    assert client.prune_volumes() == ([], 0)


def test_registry_family(client: lamina.Client, registry):
    name = f"{registry.host}/flat/box:1"
    digest = client.copy("store:busybox:latest", name)
    assert client.manifest_inspect(name) == client.registry.manifest(name)
    assert client.manifest_inspect(name).digest == digest
    assert [r.name for r in client.search("flat", registry=registry.host)] == \
        [r.name for r in client.registry.search("flat", registry=registry.host)]


def test_system_family(client: lamina.Client):
    assert client.version() == client.system.version()
    assert client.info()["Images"] == client.system.info()["Images"] == 1
    assert [i.id for i in client.system_df().images] == [i.id for i in client.system.df().images]
    assert client.fsck().problems == client.system.fsck().problems == []
    assert client.prune_system()["space_reclaimed"] == 0


def test_old_import_paths_give_the_same_types():
    import lamina.api

    assert lamina.api.Client is lamina.Client is lamina.client.Client
    assert lamina.api.ImageSummary is lamina.ImageSummary


def test_every_public_name_resolves():
    for name in lamina.__all__:
        assert getattr(lamina, name) is not None, name
    for name in ("Client", "Image", "Container", "Volume", "ImageCollection", "ContainerCollection",
                 "VolumeCollection", "RegistryCollection", "SystemCollection", "ContainerError", "Attach"):
        assert name in lamina.__all__
        assert isinstance(getattr(lamina, name), type)


def test_import_lamina_loads_no_client_module():
    code = "import sys, lamina; print(sorted(m for m in sys.modules if m.startswith('lamina.client')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}).stdout
    assert out.strip() == "[]"
