"""``client.images`` and ``Image`` against a real store, with the CLI and skopeo as oracles."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

import lamina
from tests.client.conftest import inspect
from tests.conftest import Lamina, require_tool


def test_image_attrs_are_the_inspect_document(client: lamina.Client, cli: Lamina):
    image = client.images.get("busybox")
    assert image.attrs == inspect(cli, "image", "busybox:latest")
    assert image.id == cli.out("images", "-q", "--no-trunc", "busybox").strip()
    assert image.short_id == cli.out("images", "-q", "busybox").strip()
    assert image.tags == ["busybox:latest"]


def test_get_accepts_name_id_and_id_prefix(client: lamina.Client):
    image = client.images.get("busybox:latest")
    assert client.images.get(image.id) == image
    assert client.images.get(image.short_id) == image
    with pytest.raises(lamina.ImageNotFoundError):
        client.images.get("no-such-image")


def test_import_image_with_changes_sets_config(client: lamina.Client, busybox_tar: Path, cli: Lamina):
    image = client.images.import_image(busybox_tar, "labelled:1", changes=["LABEL tier=base", "ENV A=1"])
    assert image.labels == {"tier": "base"}
    assert "A=1" in image.attrs["Config"]["Env"]
    assert cli.out("inspect", "--format", "{{.Config.Labels.tier}}", "labelled:1").strip() == "base"


def test_list_gives_one_image_per_image_in_cli_order(client: lamina.Client, busybox_tar: Path, cli: Lamina):
    client.images.get("busybox").tag("busybox", "second")
    client.images.import_image(busybox_tar, "other:1", changes=["LABEL x=y"])
    listed = client.images.list()
    cli_ids = list(dict.fromkeys(cli.out("images", "-q", "--no-trunc").split()))
    assert [image.id for image in listed] == cli_ids
    assert sorted(client.images.get("busybox").tags) == ["busybox:latest", "busybox:second"]
    assert [image.id for image in client.images.list("other")] == [client.images.get("other:1").id]
    assert [image.id for image in client.images.list(filters=["label=x=y"])] == [client.images.get("other:1").id]


def test_tag_returns_the_reloaded_image(client: lamina.Client, cli: Lamina):
    image = client.images.get("busybox").tag("example.com/team/box:v1")
    assert "example.com/team/box:v1" in image.tags
    assert "example.com/team/box" in cli.out("images", "--format", "{{.Repository}}:{{.Tag}}")


def test_reload_sees_changes_made_elsewhere(client: lamina.Client, cli: Lamina):
    image = client.images.get("busybox")
    cli.run("tag", "busybox", "renamed:1")
    assert "renamed:1" not in image.tags
    image.reload()
    assert "renamed:1" in image.tags


def test_history_matches_the_cli(client: lamina.Client, cli: Lamina):
    history = client.images.get("busybox").history()
    created_by = cli.out("history", "--no-trunc", "--format", "{{.CreatedBy}}", "busybox").splitlines()
    assert [entry.created_by for entry in history] == created_by
    sizes = cli.out("history", "--format", "{{.Size}}", "-H=false", "busybox").split()
    assert [str(entry.size) for entry in history] == sizes


def test_save_is_an_archive_skopeo_reads(client: lamina.Client, tmp_path: Path):
    skopeo = require_tool("skopeo", "skopeo")
    image = client.images.get("busybox")
    archive = tmp_path / "busybox.tar"
    image.save(archive)
    config = json.loads(subprocess.run([skopeo, "inspect", "--config", f"docker-archive:{archive}"],
                                       capture_output=True, check=True).stdout)
    assert config["rootfs"]["diff_ids"] == image.attrs["RootFS"]["Layers"]
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == ["busybox:latest"]


def test_save_to_a_stream_and_load_into_another_store(client: lamina.Client, tmp_path: Path):
    with open(tmp_path / "out.tar", "wb") as stream:
        client.images.get("busybox").save(stream)
    with lamina.Client(root=tmp_path / "other") as other:
        loaded = other.images.load(tmp_path / "out.tar")
        assert [image.id for image in loaded] == [client.images.get("busybox").id]
        assert loaded[0].tags == ["busybox:latest"]


def test_remove_untags_and_deletes(client: lamina.Client, cli: Lamina):
    image = client.images.get("busybox")
    report = image.remove()
    assert image.id in report.deleted
    assert cli.out("images", "-q") == ""
    with pytest.raises(lamina.ImageNotFoundError):
        client.images.get(image.id)


def test_collection_remove_reports_errors_as_exceptions(client: lamina.Client):
    with pytest.raises(lamina.ImageNotFoundError):
        client.images.remove("no-such-image")


def test_prune_removes_dangling_images(client: lamina.Client, busybox_tar: Path, cli: Lamina):
    dangling = client.images.import_image(busybox_tar, changes=["LABEL dangling=1"])
    report = client.images.prune()
    assert dangling.id in report.deleted
    assert cli.out("images", "-q", "--no-trunc").split() == [client.images.get("busybox").id]


def test_build_returns_the_built_image(client: lamina.Client, tmp_path: Path, cli: Lamina):
    context = tmp_path / "context"
    context.mkdir()
    (context / "hello.txt").write_text("hello\n")
    (context / "Dockerfile").write_text("FROM busybox\nCOPY hello.txt /hello.txt\nLABEL built=yes\n")
    events = []
    image = client.images.build(context, tags=["built:1"], progress=events.append)
    assert image.tags == ["built:1"]
    assert image.labels == {"built": "yes"}
    assert image.attrs == inspect(cli, "image", "built:1")
    assert any(isinstance(event, lamina.Built) for event in events)


def test_push_then_pull_through_a_registry(client: lamina.Client, registry, tmp_path: Path):
    skopeo = require_tool("skopeo", "skopeo")
    name = f"{registry.host}/client/busybox:1"
    client.images.get("busybox").tag(name)
    pushed = client.images.push(name)
    raw = subprocess.run([skopeo, "inspect", "--tls-verify=false", "--raw", f"docker://{name}"],
                         capture_output=True, check=True).stdout
    import hashlib

    assert pushed[0].digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    with lamina.Client(root=tmp_path / "puller") as puller:
        image = puller.images.pull(f"{registry.host}/client/busybox", "1")
        assert image.id == client.images.get("busybox").id
        assert image.tags == [name]


def test_sbom_is_the_clis(client: lamina.Client, cli: Lamina):
    sbom = json.loads(client.images.get("busybox").sbom(format="json"))
    assert sbom == json.loads(cli.out("sbom", "--format", "json", "busybox:latest"))


def test_scan_is_the_clis(client: lamina.Client, cli: Lamina):
    report = client.images.get("busybox").scan(scanners="secret")
    from lamina.security.scan import render

    ours = json.loads(render(report, "json"))
    theirs = json.loads(cli.out("scan", "--scanners", "secret", "--format", "json", "busybox:latest"))
    ours.pop("CreatedAt", None)
    theirs.pop("CreatedAt", None)
    assert ours == theirs
