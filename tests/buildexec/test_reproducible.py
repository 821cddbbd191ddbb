"""Reproducible builds: SOURCE_DATE_EPOCH fixes every timestamp a build writes.

The oracle is lamina itself run twice, the way a reproducible build is checked elsewhere: two
empty stores (the same base image loaded into each from one archive, as a registry pull would
give it), the context written afresh for each build (new file mtimes), a different TZ, umask
and wall clock for each. BuildKit's documented behaviour is the reference for what changes:
config ``created`` and this build's history entries become the epoch, the base image's entries
stay, and every mtime in the layers the build writes is clamped (``rewrite-timestamp``). Both
images are then pushed to a real registry and their manifest digests compared via skopeo.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests.conftest import Lamina, require_tool
from tests.registry.servers import RegistryServer

EPOCH = 1700000000
EPOCH_TEXT = "2023-11-14T22:13:20Z"

DOCKERFILE = """\
FROM busybox:latest
COPY app/ /app/
ADD data.txt /data/
RUN mkdir -p /out && echo built > /out/file && cp /app/a.txt /out/ && touch /app/a.txt
WORKDIR /srv/app
RUN touch /out/file
COPY --chmod=755 run.sh /usr/local/bin/
ENV MODE=release
"""


def _context(directory: Path) -> Path:
    """The same files every time, written now (their mtimes are the wall clock's)."""
    directory.mkdir(parents=True)
    (directory / "Dockerfile").write_text(DOCKERFILE)
    (directory / "app" / "lib").mkdir(parents=True)
    (directory / "app" / "a.txt").write_text("alpha\n")
    (directory / "app" / "lib" / "b.txt").write_text("beta\n")
    (directory / "data.txt").write_text("data\n")
    (directory / "run.sh").write_text("#!/bin/sh\necho hi\n")
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the modes are content: fixed, whatever the umask
    return directory


@pytest.fixture(scope="module")
def base_archive(busybox_tar: Path, tmp_path_factory) -> Path:
    """busybox as a saved image: loading it gives every store the same base image ID."""
    store = Lamina(tmp_path_factory.mktemp("base") / "store")
    store.out("import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]')
    archive = store.root.parent / "busybox.tar"
    store.out("save", "-o", str(archive), "busybox:latest")
    return archive


def _store(tmp_path: Path, name: str, base_archive: Path, **environ: str) -> Lamina:
    store = Lamina(tmp_path / name / "store", environ)
    store.out("load", "-i", str(base_archive))
    return store


def _build(store: Lamina, context: Path, *args: str, umask: int = 0o022) -> str:
    old = os.umask(umask)
    try:
        return store.out("build", "-q", *args, str(context)).strip()
    finally:
        os.umask(old)


def _inspect(store: Lamina, image: str) -> dict:
    return json.loads(store.out("image", "inspect", image))[0]


def _layer_mtimes(store: Lamina, image: str, tmp_path: Path) -> dict[str, dict[str, int]]:
    """Every member's mtime, per layer file of ``lamina save``."""
    archive = tmp_path / "saved.tar"
    store.out("save", "-o", str(archive), image)
    result: dict[str, dict[str, int]] = {}
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        for layer in manifest["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(layer)) as inner:
                result[layer] = {member.name: int(member.mtime) for member in inner}
    return result


@pytest.mark.slow
@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_two_builds_in_two_stores_agree(tmp_path: Path, base_archive: Path, builder: str) -> None:
    require_tool("skopeo", "skopeo")
    first = _store(tmp_path, "one", base_archive, TZ="UTC")
    second = _store(tmp_path, "two", base_archive, TZ="Pacific/Kiritimati")
    image_one = _build(first, _context(tmp_path / "ctx1"), "--builder", builder,
                       "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}", "-t", "app:one")
    time.sleep(2.1)  # another wall-clock second for every timestamp a build might take from it
    image_two = _build(second, _context(tmp_path / "ctx2"), "--builder", builder,
                       "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}", "-t", "app:two", umask=0o077)
    assert image_one == image_two
    one, two = _inspect(first, "app:one"), _inspect(second, "app:two")
    assert one["RootFS"]["Layers"] == two["RootFS"]["Layers"]
    assert one["Created"] == EPOCH_TEXT

    base = _inspect(first, "busybox:latest")
    document = _config_document(first, image_one)
    base_document = _config_document(first, base["Id"])
    base_entries = len(base_document["history"])
    assert document["history"][:base_entries] == base_document["history"]  # the base keeps its times
    assert {entry["created"] for entry in document["history"][base_entries:]} == {EPOCH_TEXT}

    base_layers = len(base["RootFS"]["Layers"])
    mtimes = _layer_mtimes(first, "app:one", tmp_path)
    built = list(mtimes.values())[base_layers:]
    assert built and all(members for members in built)
    assert max(max(members.values()) for members in built) <= EPOCH  # every member written was clamped

    registry = RegistryServer(tmp_path / "registry").start()
    try:
        digests = []
        for store, tag in ((first, "app:one"), (second, "app:two")):
            ref = f"{registry.host}/repro/{tag.replace(':', '-')}:latest"
            store.out("tag", tag, ref)
            store.out("push", ref)
            out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"],
                                 check=True, capture_output=True, text=True).stdout
            digests.append(json.loads(out)["Digest"])
        assert digests[0] == digests[1]
    finally:
        registry.stop()


def _config_document(store: Lamina, image_id: str) -> dict:
    from lamina.api import Client

    with Client(root=store.root) as client:
        return json.loads(client.store.config_bytes(image_id))


@pytest.mark.slow
def test_environment_variable_is_the_build_arg(tmp_path: Path, base_archive: Path) -> None:
    store = _store(tmp_path, "one", base_archive)
    by_arg = _build(store, _context(tmp_path / "ctx1"), "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}")
    env_store = _store(tmp_path, "two", base_archive, SOURCE_DATE_EPOCH=str(EPOCH))
    by_env = _build(env_store, _context(tmp_path / "ctx2"))
    assert by_env == by_arg
    plain = _build(store, _context(tmp_path / "ctx3"))  # no epoch: the cache of the epoch build is not used
    assert plain != by_arg
    assert _inspect(store, plain)["Created"] != EPOCH_TEXT


@pytest.mark.slow
def test_reproducible_check(tmp_path: Path, base_archive: Path) -> None:
    store = _store(tmp_path, "one", base_archive)
    context = _context(tmp_path / "ctx")
    stderr = store.fails("build", "-q", "--reproducible-check", str(context))
    assert "not reproducible: " in stderr
    assert "(set SOURCE_DATE_EPOCH)" in stderr  # the first difference is a time

    result = store.run("build", "-q", "--reproducible-check", "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}",
                       str(context))
    assert "reproducible: a second build without cache gave the same image" in result.stderr.decode()


def test_bad_epoch_is_refused(tmp_path: Path, lamina: Lamina, imported_busybox: str) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox:latest\nENV A=1\n")
    stderr = lamina.fails("build", "--build-arg", "SOURCE_DATE_EPOCH=yesterday", str(context))
    assert "invalid SOURCE_DATE_EPOCH 'yesterday'" in stderr
