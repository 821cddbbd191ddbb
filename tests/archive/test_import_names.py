"""`import` writes no absolute or `..` member names into the layer it makes; docker is the oracle
for the files such a tar stands for (it keeps the names in its layer and cleans them when it
extracts, so the trees must agree while the layers differ)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from lamina.errors import LayerError
from lamina.layer.membernames import clean_member_name
from tests.archive.test_producer_tars import _lamina_tree, _tree
from tests.conftest import Docker, Lamina

_FILES = {"/abs-file": b"absolute\n", "/etc/conf": b"conf\n", "rel/../dotted": b"dotted\n", "./plain": b"plain\n"}


def _rootfs_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in ("/etc/", "rel/"):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            archive.addfile(info)
        for name, content in _FILES.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 1_700_000_000
            archive.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo("/etc/hardlink")
        link.type, link.linkname, link.mtime = tarfile.LNKTYPE, "/etc/conf", 1_700_000_000
        archive.addfile(link)
        symlink = tarfile.TarInfo("/etc/symlink")  # a symlink's target is data: kept as written
        symlink.type, symlink.linkname, symlink.mtime = tarfile.SYMTYPE, "/etc/conf", 1_700_000_000
        archive.addfile(symlink)
    return buffer.getvalue()


def _saved_layer_names(lamina: Lamina, image: str, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """Member names (and link targets) of the one layer of ``image`` as ``save`` writes it."""
    archive = tmp_path / "saved.tar"
    lamina.run("save", "-o", str(archive), image)
    with tarfile.open(archive) as outer:
        layers = [m for m in outer.getmembers() if m.isfile() and m.size > 1024 and m.name.startswith("blobs/")]
        for candidate in layers:
            data = outer.extractfile(candidate).read()
            try:
                with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                    members = layer.getmembers()
            except tarfile.TarError:
                continue
            if any("abs-file" in m.name for m in members):
                return [m.name for m in members], {m.name: m.linkname for m in members if m.linkname}
    raise AssertionError("no layer with the imported files in the saved archive")


@pytest.mark.slow
@pytest.mark.docker
def test_import_writes_relative_names_and_the_same_files_as_docker(lamina: Lamina, docker: Docker, tmp_path: Path):
    rootfs = tmp_path / "absolute.tar"
    rootfs.write_bytes(_rootfs_tar())
    ours = lamina.out("import", str(rootfs), "names/abs:v1").strip()
    names, links = _saved_layer_names(lamina, "names/abs:v1", tmp_path)
    assert not [n for n in names if n.startswith("/") or ".." in n.split("/")], names
    assert {"abs-file", "etc/conf", "dotted", "./plain", "etc/hardlink"} <= set(names)
    assert links == {"etc/hardlink": "etc/conf", "etc/symlink": "/etc/conf"}

    theirs = docker.out("import", str(rootfs), "names/abs:v1").strip()
    try:
        saved = docker.run("save", "names/abs:v1").stdout
        with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
            layer_name = next(n for n in outer.getnames() if n.endswith("layer.tar"))
            with tarfile.open(fileobj=outer.extractfile(layer_name)) as layer:
                assert "/abs-file" in layer.getnames()  # docker keeps the absolute name (the difference)
        assert _lamina_tree(lamina, ours) == _tree(docker.export_image(theirs))
    finally:
        docker.run("rmi", "-f", "names/abs:v1", check=False)
    assert "0 problems, clean" in lamina.out("fsck")


def test_a_clean_tar_is_kept_byte_for_byte(lamina: Lamina, tmp_path: Path):
    rootfs = tmp_path / "clean.tar"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("./etc/conf")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"conf\n"))
    rootfs.write_bytes(buffer.getvalue())
    import hashlib

    image = lamina.out("import", str(rootfs)).strip()
    diff_ids = lamina.out("inspect", "--format", "{{json .RootFS.Layers}}", image)
    assert hashlib.sha256(buffer.getvalue()).hexdigest() in diff_ids


def test_only_the_original_blob_or_the_clean_one_is_kept(lamina: Lamina, tmp_path: Path):
    rootfs = tmp_path / "absolute.tar"
    rootfs.write_bytes(_rootfs_tar())
    lamina.out("import", str(rootfs))
    blobs = list((lamina.root / "blobs" / "sha256").iterdir())
    assert len(blobs) == 2  # the clean layer and the config, not the input as it came
    assert "0 problems, clean" in lamina.out("fsck")


@pytest.mark.parametrize(("name", "clean"), [
    ("/abs", "abs"), ("//etc/x", "etc/x"), ("/", "./"), ("/dir/", "dir/"), ("a/../b", "b"),
    ("./etc", "./etc"), ("etc/x", "etc/x"), ("a/..b", "a/..b"),
])
def test_clean_member_name(name: str, clean: str):
    assert clean_member_name(name, "x.tar") == clean


@pytest.mark.parametrize("name", ["../x", "/../x", "a/../../x"])
def test_a_name_that_climbs_out_is_refused(name: str, lamina: Lamina, tmp_path: Path):
    with pytest.raises(LayerError, match="escapes the layer root"):
        clean_member_name(name, "x.tar")
    info = tarfile.TarInfo(name)
    info.size = 1
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(info, io.BytesIO(b"x"))
    rootfs = tmp_path / "climb.tar"
    rootfs.write_bytes(buffer.getvalue())
    assert "escapes the layer root" in lamina.fails("import", str(rootfs))
