"""import, images, tag, rmi, inspect, history, prune, fsck through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import Lamina, store_listing


def test_import_makes_a_one_layer_image_with_changes(lamina: Lamina, busybox_tar, busybox_rootfs):
    image_id = lamina.out("import", str(busybox_tar), "bb:1", "-c", 'CMD ["sh"]', "-c", "ENV A=b",
                          "-c", "EXPOSE 80", "-c", "WORKDIR /srv", "-m", "hello").strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    [document] = json.loads(lamina.out("inspect", "bb:1"))
    assert document["Id"] == image_id
    assert document["RepoTags"] == ["bb:1"]
    assert document["Config"]["Cmd"] == ["sh"]
    assert document["Config"]["Env"] == ["A=b"]
    assert document["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert document["Config"]["WorkingDir"] == "/srv"
    assert document["Comment"] == "hello"
    assert len(document["RootFS"]["Layers"]) == 1
    from lamina.runtime.volumestore import directory_size

    assert document["Size"] == directory_size(busybox_rootfs)  # the files, as docker counts them


def test_import_reads_every_compression(lamina: Lamina, busybox_tar, tmp_path):
    ids = set()
    for tool, suffix in (("gzip", "gz"), ("bzip2", "bz2"), ("xz", "xz"), ("zstd", "zst")):
        packed = tmp_path / f"rootfs.tar.{suffix}"
        with open(packed, "wb") as out:
            subprocess.run([tool, "-c", str(busybox_tar)], stdout=out, check=True)
        ids.add(json.loads(lamina.out("inspect", lamina.out("import", str(packed)).strip()))[0]["RootFS"]["Layers"][0])
    assert len(ids) == 1  # same diffID whatever the compression


def test_import_from_stdin(lamina: Lamina, busybox_tar):
    image_id = lamina.out("import", "-", "fromstdin", input=busybox_tar.read_bytes()).strip()
    assert lamina.out("images", "-q", "--no-trunc", "fromstdin").strip() == image_id


def test_images_lists_one_row_per_tag_and_hides_nothing_else(lamina: Lamina, imported_busybox):
    lamina.run("tag", "busybox", "localhost:5000/tools/bb:v1")
    lines = lamina.out("images").splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    repos = sorted(line.split()[0] for line in lines[1:])
    assert repos == ["busybox", "localhost:5000/tools/bb"]
    assert lamina.out("images", "-q").split() == [imported_busybox[7:19]] * 2
    assert lamina.out("images", "busybox").count("\n") == 2
    assert lamina.out("images", "--format", "{{.Repository}}:{{.Tag}}", "localhost:5000/tools/bb:v1").strip() == \
        "localhost:5000/tools/bb:v1"
    row = json.loads(lamina.out("images", "--format", "json", "busybox"))
    assert row["ID"] == imported_busybox[7:19] and row["Tag"] == "latest" and row["Size"].endswith("MB")
    table = lamina.out("images", "--format", "table {{.Repository}}\t{{.ID}}").splitlines()
    assert table[0].split() == ["REPOSITORY", "IMAGE", "ID"]


def test_images_filters(lamina: Lamina, busybox_tar):
    old = lamina.out("import", str(busybox_tar), "old:1", "-c", "LABEL team=a").strip()
    new = lamina.out("import", str(busybox_tar), "new:1", "-c", "LABEL team=b").strip()
    lamina.out("import", str(busybox_tar))  # dangling
    assert lamina.out("images", "-q", "--no-trunc", "--filter", "label=team=a").split() == [old]
    assert set(lamina.out("images", "-q", "--no-trunc", "--filter", "label=team").split()) == {old, new}
    assert len(lamina.out("images", "-q", "--filter", "dangling=true").split()) == 1
    assert lamina.out("images", "-q", "--no-trunc", "--filter", "reference=new*").split() == [new]
    assert lamina.out("images", "-q", "--no-trunc", "--filter", "since=old:1", "--filter", "dangling=false").split() == [new]
    assert old in lamina.out("images", "-q", "--no-trunc", "--filter", "before=new:1").split()
    lamina.fails("images", "--filter", "color=red")


def test_rmi_untags_before_it_deletes(lamina: Lamina, imported_busybox):
    lamina.run("tag", "busybox", "other:1")
    out = lamina.out("rmi", "other:1")
    assert out == "Untagged: other:1\n"
    out = lamina.out("rmi", "busybox")
    assert out.startswith("Untagged: busybox:latest\nDeleted: " + imported_busybox)
    assert lamina.out("images", "-q") == ""
    assert not list((lamina.root / "blobs" / "sha256").iterdir())


def test_rmi_by_id_refuses_when_several_repositories_name_it(lamina: Lamina, imported_busybox):
    lamina.run("tag", "busybox", "another/repo:1")
    stderr = lamina.fails("rmi", imported_busybox[7:19])
    assert "image is referenced in multiple repositories" in stderr
    out = lamina.out("rmi", "-f", imported_busybox[7:19])
    assert "Untagged: another/repo:1" in out and "Untagged: busybox:latest" in out and "Deleted:" in out


def test_rmi_keeps_layers_shared_with_another_image(lamina: Lamina, busybox_tar):
    lamina.out("import", str(busybox_tar), "one:1", "-c", "ENV X=1")
    lamina.out("import", str(busybox_tar), "two:1", "-c", "ENV X=2")
    lamina.out("rmi", "one:1")
    assert "Loaded" not in lamina.out("history", "two:1")
    assert "clean" in lamina.out("fsck")


def test_rmi_unknown_image_fails_and_keeps_going(lamina: Lamina, imported_busybox):
    before = store_listing(lamina.root)
    stderr = lamina.fails("rmi", "nosuch:1")
    assert "No such image: nosuch:1" in stderr
    assert store_listing(lamina.root) == before


def test_history_lists_entries_newest_first(lamina: Lamina, imported_busybox):
    lines = lamina.out("history", "busybox").splitlines()
    assert lines[0].split()[:2] == ["IMAGE", "CREATED"]
    assert lines[1].startswith(imported_busybox[7:19])
    assert "Imported from" in lines[1]
    assert lamina.out("history", "-q", "--no-trunc", "busybox").strip() == imported_busybox
    raw = lamina.out("history", "-H=false", "--format", "{{.Size}}", "busybox").strip()
    assert raw.isdigit()


def test_inspect_format_and_unknown_image(lamina: Lamina, imported_busybox):
    assert lamina.out("inspect", "-f", "{{.Id}} {{.Os}} {{json .Config.Cmd}}", "busybox").strip() == \
        f"{imported_busybox} linux [\"sh\"]"
    stderr = lamina.fails("inspect", "missing")
    assert stderr == "lamina: error: No such object: missing\n"  # neither a container nor an image
    stderr = lamina.fails("image", "inspect", "missing")
    assert "No such image: missing" in stderr


def test_image_prune_removes_dangling_images_and_reports_space(lamina: Lamina, busybox_tar):
    dangling = lamina.out("import", str(busybox_tar), "-c", "ENV D=1").strip()
    lamina.out("import", str(busybox_tar), "kept:1")
    out = lamina.out("image", "prune", "-f")
    assert f"deleted: {dangling}" in out and "Total reclaimed space:" in out
    assert lamina.out("images", "-q", "--no-trunc").split() != [] and dangling not in lamina.out("images", "-q", "--no-trunc")
    out = lamina.out("image", "prune", "-af")
    assert "untagged: kept:1" in out
    assert lamina.out("images", "-q") == ""


def test_prune_filters_by_label(lamina: Lamina, busybox_tar):
    keep = lamina.out("import", str(busybox_tar), "-c", "LABEL keep=yes").strip()
    drop = lamina.out("import", str(busybox_tar), "-c", "LABEL keep=no").strip()
    out = lamina.out("image", "prune", "-f", "--filter", "label=keep=no")
    assert drop in out and keep not in out
    assert lamina.out("images", "-q", "--no-trunc").split() == [keep]
    lamina.out("image", "prune", "-f", "--filter", "until=1h")  # both newer than 1 h: nothing goes
    assert lamina.out("images", "-q", "--no-trunc").split() == [keep]


def test_fsck_finds_and_repairs_a_corrupt_blob(lamina: Lamina, imported_busybox):
    assert "0 problems, clean" in lamina.out("fsck")
    layer = json.loads(lamina.out("inspect", "busybox"))[0]["RootFS"]["Layers"][0]
    blob = lamina.root / "blobs" / "sha256" / layer.split(":")[1]
    blob.write_bytes(b"garbage")
    result = lamina.run("fsck", check=False)
    assert result.returncode == 1 and b"corrupt-blob" in result.stdout
    assert "repaired" in lamina.out("fsck", "--repair")
    assert "0 problems, clean" in lamina.out("fsck")
    assert lamina.out("images", "-q") == ""


def test_python_api_does_what_the_cli_does(tmp_path, busybox_tar):
    import lamina

    with lamina.Client(root=tmp_path / "store") as client:
        image_id = client.import_image(str(busybox_tar), "api:1", changes=['CMD ["sh"]'])
        client.tag("api:1", "api:2")
        rows = client.images()
        assert {(r.repository, r.tag) for r in rows} == {("api", "1"), ("api", "2")}
        assert client.inspect_image("api:2")["Id"] == image_id
        with open(tmp_path / "out.tar", "wb") as out:
            client.save(["api:1"], out)
    with lamina.Client(root=tmp_path / "other") as other:
        [loaded] = other.load(str(tmp_path / "out.tar"))
        assert loaded.image_id == image_id and loaded.tags == ["api:1"]


def test_help_and_images_start_fast(lamina: Lamina):
    """Heavy modules stay out of the CLI's start-up path (checked by import list, not time)."""
    code = ("import sys; sys.argv=['lamina','images']; from lamina.cli.main import main\n"
            "try:\n main()\nexcept SystemExit: pass\n"
            "heavy=[m for m in ('rich','httpx','zstandard','isal','tarfile') if m in sys.modules]\n"
            "print('HEAVY:' + ','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, env=lamina.env(), check=True)
    assert result.stdout.decode().splitlines()[-1] == "HEAVY:"


def test_import_from_an_http_url(lamina: Lamina, busybox_tar):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(busybox_tar.parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{busybox_tar.name}"
        image_id = lamina.out("import", url, "fromurl:1").strip()
        [document] = json.loads(lamina.out("inspect", "fromurl:1"))
        assert document["Id"] == image_id
        assert json.loads((lamina.root / "blobs" / "sha256" / image_id[7:]).read_text())["history"][0]["comment"] \
            == f"Imported from {url}"
        assert "HTTP 404" in lamina.fails("import", url + ".missing")
    finally:
        server.shutdown()


def test_system_df_counts_images_and_reclaimable_space(lamina: Lamina, busybox_tar):
    lamina.out("import", str(busybox_tar), "kept:1")
    lamina.out("import", str(busybox_tar), "-c", "ENV DANGLING=1")
    lines = lamina.out("system", "df").splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    images = lines[1].split()
    assert images[:3] == ["Images", "2", "0"]


def test_history_of_a_local_build_names_each_step_image(lamina: Lamina, imported_busybox, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nENV A=1\nLABEL b=2\n")
    final = lamina.out("build", "-q", "-t", "hist:1", str(context)).strip()
    ids = lamina.out("history", "-q", "--no-trunc", "hist:1").split()
    assert ids[0] == final
    assert ids[-1] == imported_busybox  # the imported base is a local image too
    assert "<missing>" not in ids and len(set(ids)) == 3
