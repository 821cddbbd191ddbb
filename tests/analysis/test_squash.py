"""``lamina image squash`` against docker's classic ``build --squash`` (dockerd --experimental).

The same Dockerfile is built by both on the same busybox base; lamina's build is squashed onto
that base and loaded into the same dockerd, so both squashed images are seen through docker's
own ``create`` + ``export`` and ``history``: the file trees (names, types, modes, owners, sizes,
contents, link targets), the layer count and the history must agree.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.docker]

DOCKERFILE = """\
FROM busybox:latest
RUN busybox dd if=/dev/zero of=/big bs=1024 count=512 && busybox mkdir -p /app/sub && echo x > /app/sub/x
RUN busybox rm /big && busybox rm /etc/group
COPY conf /etc/app.conf
RUN busybox chmod 600 /etc/app.conf && busybox ln /etc/app.conf /etc/app.link
RUN busybox rm -rf /app && busybox mkdir -p /app && echo n > /app/n && busybox ln -s /app/n /app/s
ENV MODE=squashed
"""


def _tree(export: bytes) -> dict[str, tuple]:
    """Every path of an exported filesystem with what a squash must keep (not times)."""
    tree = {}
    with tarfile.open(fileobj=io.BytesIO(export)) as archive:
        for member in archive:
            digest = hashlib.sha256(archive.extractfile(member).read()).hexdigest() if member.isreg() else ""
            kind = "file" if member.islnk() else member.type.decode()  # which name is the link is chance
            if member.islnk():
                digest = "hardlink"
            tree[member.name.rstrip("/")] = (kind, member.mode, member.uid, member.gid, digest,
                                             member.linkname if member.issym() else "")
    return tree


def _history(docker, image: str) -> list[tuple[str, str, str]]:
    rows = docker.out("history", "--no-trunc", "--format", "{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}", image)
    # the COPY source hash is the builder's business (it differs between the builders), not squash's
    return [tuple(re.sub(r"file:[0-9a-f]{64}", "file:<hash>", line).split("\t")) for line in rows.splitlines()]


def test_squash_onto_base_equals_docker_build_squash(experimental_docker, lamina, busybox_tar: Path,
                                                     tmp_path: Path) -> None:
    docker = experimental_docker
    docker.run("import", "-c", 'CMD ["sh"]', str(busybox_tar), "busybox:latest")
    lamina.out("import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]')
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "conf").write_text("setting=1\n")
    docker.run("build", "--squash", "-t", "theirs:sq", str(context))

    lamina.out("build", "-q", "-t", "ours:built", str(context))
    new_id = lamina.out("image", "squash", "--from", "busybox:latest", "-t", "ours:sq", "ours:built").strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", new_id)
    archive = tmp_path / "ours.tar"
    lamina.out("save", "-o", str(archive), "ours:sq")
    docker.run("load", "-i", str(archive))

    assert _tree(docker.export_image("ours:sq")) == _tree(docker.export_image("theirs:sq"))
    layers = {name: json.loads(docker.out("image", "inspect", "--format", "{{json .RootFS.Layers}}", name))
              for name in ("ours:sq", "theirs:sq", "busybox:latest")}
    assert len(layers["ours:sq"]) == len(layers["theirs:sq"]) == len(layers["busybox:latest"]) + 1
    assert layers["ours:sq"][0] == layers["theirs:sq"][0] == layers["busybox:latest"][0]
    ours, theirs = _history(docker, "ours:sq"), _history(docker, "theirs:sq")
    assert [row[:2] for row in ours[1:]] == [row[:2] for row in theirs[1:]]  # steps, all 0B now
    base_id = docker.out("image", "inspect", "--format", "{{.Id}}", "busybox:latest").strip()
    assert re.fullmatch(rf"merge sha256:[0-9a-f]{{64}} to {base_id}", theirs[0][2])
    ours_base = lamina.out("inspect", "--format", "{{.Id}}", "busybox:latest").strip()
    ours_built = lamina.out("inspect", "--format", "{{.Id}}", "ours:built").strip()
    assert ours[0][2] == f"merge {ours_built} to {ours_base}"


def test_squash_all_leaves_one_layer_and_nothing_deleted(lamina, imported_busybox, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "conf").write_text("setting=1\n")
    lamina.out("build", "-q", "-t", "ours:built", str(context))
    lamina.out("image", "squash", "-t", "ours:flat", "ours:built")
    difference = json.loads(lamina.out("image", "diff", "--format", "json", "ours:built", "ours:flat"))
    assert difference["files"] == {"added": [], "removed": [], "changed": []}
    archive = tmp_path / "flat.tar"
    lamina.out("save", "-o", str(archive), "ours:flat")
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        assert len(manifest[0]["Layers"]) == 1
        with tarfile.open(fileobj=outer.extractfile(manifest[0]["Layers"][0])) as layer:
            names = layer.getnames()
    assert not any("/.wh." in name or name.startswith(".wh.") for name in names)
    assert "big" not in names and "app/sub/x" not in names and "etc/group" not in names
    layers = json.loads(lamina.out("image", "inspect", "--format", "{{json .RootFS.Layers}}", "ours:flat"))
    assert len(layers) == 1


def test_squash_of_tricky_layers_unpacks_like_the_original(lamina, tmp_path: Path) -> None:
    """Whiteouts of directories, opaque directories, a directory replaced by a file, a file
    deleted and made again, hard links: umoci unpacks the squashed image (base kept, and all in
    one) into the same tree as the original."""
    from tests.analysis.archives import entry, write_docker_archive
    from tests.analysis.test_image_diff import _unpacked

    directory, link = b"5", b"1"
    layers = [
        [entry("etc", kind=directory), entry("etc/a", b"a"), entry("var", kind=directory),
         entry("var/lib", kind=directory), entry("var/lib/x", b"x" * 100), entry("var/log", kind=directory),
         entry("var/log/old", b"o"), entry("srv", kind=directory), entry("srv/thing", kind=directory),
         entry("srv/thing/inside", b"i")],
        [entry("var", kind=directory), entry("var/lib", kind=directory), entry("var/lib/.wh..wh..opq"),
         entry("var/lib/y", b"y"), entry("srv", kind=directory), entry("srv/.wh.thing"),
         entry("tmpfile", b"t" * 50), entry("etc", kind=directory), entry("etc/.wh.a")],
        [entry(".wh.tmpfile"), entry("srv", kind=directory), entry("srv/thing", b"now a file"),
         entry("etc", kind=directory), entry("etc/a", b"again", mode=0o600),
         entry("opt", kind=directory), entry("opt/data", b"d" * 300), entry("opt/data-link", kind=link, linkname="opt/data")],
        [entry("var", kind=directory), entry(".wh.var"), entry("opt", kind=directory),
         entry("opt/data", b"D" * 300)],
    ]
    archive = write_docker_archive(tmp_path / "tricky.tar", layers,
                                   ["ADD base /", "RUN a", "RUN b", "RUN c"], tag="tricky:latest")
    lamina.out("load", "-i", str(archive))
    base = write_docker_archive(tmp_path / "base.tar", layers[:1], ["ADD base /"], tag="tricky:base")
    lamina.out("load", "-i", str(base))
    lamina.out("image", "squash", "--from", "tricky:base", "-t", "tricky:sq", "tricky:latest")
    lamina.out("image", "squash", "-t", "tricky:flat", "tricky:latest")
    expected = _unpacked(archive, tmp_path / "orig", "orig")
    for name in ("sq", "flat"):
        saved = tmp_path / f"{name}.tar"
        lamina.out("save", "-o", str(saved), f"tricky:{name}")
        assert _unpacked(saved, tmp_path / name, name) == expected, name
    assert "var/lib/y" not in expected and expected["srv/thing"][0] == "file" and "tmpfile" not in expected
    assert expected["opt/data-link"][5] != expected["opt/data"][5]  # the link kept the old file


def test_build_squash_equals_docker_build_squash(experimental_docker, lamina, busybox_tar: Path,
                                                 tmp_path: Path) -> None:
    """``lamina build --squash`` gives what ``docker build --squash`` gives: same files, one layer on
    the base, the steps kept as empty history entries and docker's merge entry naming the base."""
    docker = experimental_docker
    docker.run("import", "-c", 'CMD ["sh"]', str(busybox_tar), "busybox:latest")
    lamina.out("import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]')
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "conf").write_text("setting=1\n")
    docker.run("build", "--squash", "-t", "theirs:bsq", str(context))
    output = lamina.out("build", "--squash", "-t", "ours:bsq", str(context))
    ours_id = lamina.out("inspect", "--format", "{{.Id}}", "ours:bsq").strip()
    assert f"Successfully built {ours_id[7:19]}" in output  # the squashed image is the one built and tagged
    archive = tmp_path / "ours.tar"
    lamina.out("save", "-o", str(archive), "ours:bsq")
    docker.run("load", "-i", str(archive))
    assert _tree(docker.export_image("ours:bsq")) == _tree(docker.export_image("theirs:bsq"))
    base_layers = json.loads(docker.out("image", "inspect", "--format", "{{json .RootFS.Layers}}", "busybox:latest"))
    for name in ("ours:bsq", "theirs:bsq"):
        layers = json.loads(docker.out("image", "inspect", "--format", "{{json .RootFS.Layers}}", name))
        assert len(layers) == len(base_layers) + 1 and layers[0] == base_layers[0]
    ours, theirs = _history(docker, "ours:bsq"), _history(docker, "theirs:bsq")
    assert [row[:2] for row in ours[1:]] == [row[:2] for row in theirs[1:]]
    ours_base = lamina.out("inspect", "--format", "{{.Id}}", "busybox:latest").strip()
    assert re.fullmatch(rf"merge sha256:[0-9a-f]{{64}} to {ours_base}", ours[0][2])
