"""``client.volumes``, ``client.registry`` and ``client.system`` against a real store, with the
CLI, skopeo and a loopback registry as oracles."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import lamina
from tests.conftest import Lamina, require_tool


def test_volume_create_get_list_remove(client: lamina.Client, cli: Lamina):
    volume = client.volumes.create("data", labels={"keep": "yes"})
    assert volume.name == volume.id == "data"
    assert volume.attrs == json.loads(cli.out("volume", "inspect", "data"))[0]
    assert client.volumes.get("data") == volume
    anonymous = client.volumes.create()
    assert sorted(v.name for v in client.volumes.list()) == sorted(cli.out("volume", "ls", "-q").split())
    assert anonymous.name in cli.out("volume", "ls", "-q").split()
    volume.remove()
    assert "data" not in cli.out("volume", "ls", "-q").split()
    with pytest.raises(lamina.LaminaError, match="data"):
        client.volumes.get("data")


def test_volume_prune_keeps_created_volumes_unless_all(client: lamina.Client, cli: Lamina):
    named = client.volumes.create("named")
    unnamed = client.volumes.create()  # a random name, still made by `volume create`: not anonymous
    assert client.volumes.prune() == ([], 0)
    assert sorted(cli.out("volume", "ls", "-q").split()) == sorted([named.name, unnamed.name])
    removed, _freed = client.volumes.prune(all=True)
    assert sorted(removed) == sorted([named.name, unnamed.name])
    assert cli.out("volume", "ls", "-q") == ""


def test_registry_copy_and_manifest(client: lamina.Client, registry, tmp_path: Path):
    skopeo = require_tool("skopeo", "skopeo")
    destination = f"{registry.host}/client/copied:1"
    digest = client.registry.copy("store:busybox:latest", destination)
    raw = subprocess.run([skopeo, "inspect", "--tls-verify=false", "--raw", f"docker://{destination}"],
                         capture_output=True, check=True).stdout
    manifest = client.registry.manifest(destination)
    assert manifest.digest == digest
    assert manifest.data == raw
    client.registry.copy(destination, f"oci:{tmp_path / 'layout'}")
    inspected = json.loads(subprocess.run([skopeo, "inspect", "--config", f"oci:{tmp_path / 'layout'}"],
                                          capture_output=True, check=True).stdout)
    assert inspected["rootfs"]["diff_ids"] == client.images.get("busybox").attrs["RootFS"]["Layers"]


def test_registry_search_reads_the_catalog(client: lamina.Client, registry):
    client.registry.copy("store:busybox:latest", f"{registry.host}/findme/box:1")
    results = client.registry.search("findme", registry=registry.host)
    assert f"{registry.host}/findme/box" in [result.name for result in results]


def test_system_df_info_version_are_the_clis(client: lamina.Client, cli: Lamina):
    usage = client.system.df()
    assert [image.id for image in usage.images] == [client.images.get("busybox").id]
    df_rows = cli.out("system", "df", "--format", "{{.Type}} {{.TotalCount}}").splitlines()
    assert df_rows[0] == f"Images {len(client.images.list())}"
    info = client.system.info()
    assert info["Images"] == int(cli.out("info", "--format", "{{.Images}}"))
    assert info["Containers"] == 0
    assert client.system.version() == json.loads(cli.out("version", "--format", "{{json .}}"))


def test_system_fsck_finds_a_damaged_blob(client: lamina.Client, cli: Lamina):
    assert client.system.fsck().problems == []
    layer = client.images.get("busybox").attrs["RootFS"]["Layers"][0]
    blobs = sorted((cli.root / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    biggest = blobs[-1]
    biggest.chmod(0o644)
    with open(biggest, "r+b") as blob:
        blob.seek(100)
        blob.write(b"\0damaged\0")
    report = client.system.fsck()
    assert [p.subject for p in report.problems if p.kind == "corrupt-blob"] == [f"sha256:{biggest.name}"]
    assert layer  # the busybox layer is the only big blob
    assert cli.run("fsck", check=False).returncode != 0


def test_system_prune_removes_dangling_images(client: lamina.Client, busybox_tar: Path, cli: Lamina):
    dangling = client.images.import_image(busybox_tar, changes=["LABEL d=1"])
    result = client.system.prune()
    assert dangling.id in result["images"].deleted
    assert cli.out("images", "-q", "--no-trunc").split() == [client.images.get("busybox").id]
