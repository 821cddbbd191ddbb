"""The copying snapshotter (RUN where overlayfs cannot be mounted) against the overlay one: the
same RUN gives byte-for-byte the same layer, a build gives the same image, the automatic fallback
says so on stderr, and a killed step leaves nothing behind. Real runc, real overlayfs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from lamina.api import Client
from lamina.registry.config import RegistryConfig
from lamina.runtime import copyroot, mounts
from lamina.runtime.spec import ProcessSpec
from lamina.runtime.step import cleanup_stale, commit_step, run_in_snapshot, runc_for
from lamina.store.store import Store
from lamina.sysinfo import host_info
from tests.buildexec.conftest import write
from tests.conftest import Lamina
from tests.runtime.helpers import add_layer, make_tar

T = "@1000000000"  # every RUN below stamps what it touched, so both runs give the same mtimes

DATA = [("data", "dir", None), ("data/file", "file", "one\n"), ("data/other", "file", "two\n"),
        ("data/dir", "dir", None), ("data/dir/a", "file", "a\n"), ("data/dir/sub", "dir", None),
        ("data/dir/sub/b", "file", "b\n")]

CASES = {
    "create": f"echo new > /data/new && mkdir -p /data/n1/n2 && echo x > /data/n1/n2/x && "
              f"ln -s file /data/link && touch -h -d {T} /data/new /data/n1 /data/n1/n2 /data/n1/n2/x /data/link /data",
    "modify": f"echo more >> /data/file && touch -d {T} /data/file",
    "chmod": "chmod 600 /data/dir/sub/b",
    "delete-file": f"rm /data/file && touch -d {T} /data",
    "delete-dir": f"rm -rf /data/dir && touch -d {T} /data",
    "dir-to-file": f"rm -rf /data/dir && echo f > /data/dir && touch -d {T} /data/dir /data",
    "file-to-dir": f"rm /data/file && mkdir /data/file && touch -d {T} /data/file /data",
    "remake-dir": f"rm -rf /data/dir && mkdir /data/dir && echo c > /data/dir/c && "
                  f"touch -d {T} /data/dir/c /data/dir /data",
    "empty-a-dir": f"rm /data/dir/a && rm -r /data/dir/sub && touch -d {T} /data/dir",
    "nothing": "true",
    # Deeper than Python's recursion limit: the walks must not recurse.
    "deep": f"mkdir -p /data/$(printf 'd/%.0s' $(seq 1200)) && find /data/d -exec touch -d {T} {{}} + && "
            f"touch -d {T} /data",
}


@pytest.fixture(scope="module")
def layers(client: Client) -> list[str]:
    image = client.store.resolve("busybox:latest")
    return [*client.store.image_diff_ids(image), add_layer(client.store, make_tar(DATA))]


def _step(store: Store, layers: list[str], script: str, snapshotter: str,
          monkeypatch: pytest.MonkeyPatch) -> tuple[str | None, list[str]]:
    monkeypatch.setenv(copyroot.SNAPSHOTTER_ENV, snapshotter)
    result = run_in_snapshot(store, layers, ProcessSpec(args=["/bin/sh", "-c", script]), network="none")
    with result:
        assert result.exit_code == 0
        assert (result.copy is not None) == (snapshotter == "copy")
        layer = commit_step(store, result)
    if layer is None:
        return None, []
    with store.content.open(layer.blob_digest) as blob, tarfile.open(fileobj=blob) as archive:
        return layer.diff_id, archive.getnames()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_run_gives_the_same_layer_with_either_snapshotter(client: Client, layers: list[str], case: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    overlay = _step(client.store, layers, CASES[case], "overlay", monkeypatch)
    copied = _step(client.store, layers, CASES[case], "copy", monkeypatch)
    assert copied == overlay
    names = overlay[1]
    expected = {
        "create": ["data", "data/link", "data/n1", "data/n1/n2", "data/n1/n2/x", "data/new"],
        "modify": ["data", "data/file"],
        "chmod": ["data", "data/dir", "data/dir/sub", "data/dir/sub/b"],
        "delete-file": ["data", "data/.wh.file"],
        "delete-dir": ["data", "data/.wh.dir"],
        "dir-to-file": ["data", "data/dir"],
        "file-to-dir": ["data", "data/file", "data/file/.wh..wh..opq"],
        "remake-dir": ["data", "data/dir", "data/dir/.wh..wh..opq", "data/dir/c"],
        "empty-a-dir": ["data", "data/dir", "data/dir/.wh.a", "data/dir/.wh.sub"],
        "nothing": [],
        "deep": ["data", *("data/" + "/".join(["d"] * depth) for depth in range(1, 1201))],
    }[case]
    assert names == expected  # tar order: parents first, then names bytewise


DOCKERFILE = (
    "FROM busybox\n"
    f"RUN mkdir -p /app/lib && echo one > /app/lib/one && echo keep > /app/keep && touch -d {T} /app /app/lib "
    "/app/lib/one /app/keep\n"
    "COPY hello.txt /app/hello.txt\n"
    f"RUN rm -rf /app/lib && mkdir /app/lib && echo two > /app/lib/two && chmod 700 /app/keep && "
    f"touch -d {T} /app /app/lib /app/lib/two\n"
    f"RUN rm /app/keep && touch -d {T} /app\n"
    "RUN true\n"
    f"RUN --mount=type=cache,target=/var/cache/x echo hi > /var/cache/x/f && echo y > /y && touch -d {T} /y\n"
    'CMD ["sh", "-c", "ls -lnR /app; cat /app/lib/* /app/hello.txt"]\n'
)


def _build(client: Client, context: Path, snapshotter: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(copyroot.SNAPSHOTTER_ENV, snapshotter)
    (context / "Dockerfile").write_text(DOCKERFILE)
    return client.build(str(context), tags=(f"bx/copy-{snapshotter}",), no_cache=True).image_id


def test_a_build_gives_the_same_image_with_either_snapshotter(client: Client, ctx: Path, lamina,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    write(ctx, {"hello.txt": "hello\n"})
    images = {name: _build(client, ctx, name, monkeypatch) for name in ("overlay", "copy")}
    store = client.store
    diff_ids = {name: store.image_diff_ids(image) for name, image in images.items()}
    assert diff_ids["copy"] == diff_ids["overlay"]
    # RUN true: no layer; the cache mount's mount point is in neither.
    assert len(diff_ids["copy"]) == len(store.image_diff_ids(store.resolve("busybox:latest"))) + 5

    def config(image: str) -> dict:
        document = json.loads(store.config_bytes(image))
        document.pop("created")
        for entry in document["history"]:
            entry.pop("created", None)
        for key in ("config", "container_config"):  # the parent image's ID has its created time in it
            document.get(key, {}).pop("Image", None)
        return document

    assert config(images["copy"]) == config(images["overlay"])
    # The images run alike (``lamina run`` on a store of their own, loaded from a save).
    outputs = []
    for image in images.values():
        saved = subprocess.run([sys.executable, "-m", "lamina", "save", image], capture_output=True, check=True,
                               env={**os.environ, "LAMINA_ROOT": str(store.root)}).stdout
        lamina.run("load", input=saved)
        outputs.append(lamina.out("run", "--rm", "--network", "none", image))
    assert outputs[0] == outputs[1]
    assert "two\nhello\n" in outputs[0] and "keep" not in outputs[0]
    with store.content.open(store.layer_for(diff_ids["copy"][-1]).blob_digest) as blob, \
            tarfile.open(fileobj=blob) as archive:
        assert archive.getnames() == ["y"]


@pytest.fixture
def store_on_overlayfs(tmp_path: Path) -> Path:
    """A store root on an overlay mount: overlayfs takes no upper dir there (the docker-in-docker case)."""
    dirs = {name: tmp_path / "ovl" / name for name in ("lower", "upper", "work", "merged")}
    for path in dirs.values():
        path.mkdir(parents=True)
    options = f"lowerdir={dirs['lower']},upperdir={dirs['upper']},workdir={dirs['work']}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(dirs["merged"])], check=True)
    yield dirs["merged"] / "store"
    for point in mounts.mounts_under(dirs["merged"]):
        mounts.unmount(Path(point))


def test_a_store_on_overlayfs_falls_back_to_copying_and_says_so(client: Client, ctx: Path, busybox_tar: Path,
                                                                store_on_overlayfs: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(copyroot.SNAPSHOTTER_ENV, raising=False)
    lamina = Lamina(store_on_overlayfs)
    lamina.run("import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]')
    write(ctx, {"hello.txt": "hello\n", "Dockerfile": DOCKERFILE})
    built = lamina.run("build", "-q", "-t", "app", str(ctx))
    lines = built.stderr.decode().splitlines()
    assert len([line for line in lines if "copying snapshotter" in line]) == 1, lines
    assert "lamina: overlay mounts do not work on this store (mount on overlay: " in lines[0]
    assert lamina.out("info", "-f", "{{.Driver}}").strip() == "copy"
    assert not (store_on_overlayfs / "snapshots").exists()  # nothing unpacked in overlay form
    # The same layers as the overlay snapshotter makes for the same Dockerfile and context.
    overlay_image = _build(client, ctx, "overlay", monkeypatch)
    layers = json.loads(lamina.out("inspect", "-f", "{{json .RootFS.Layers}}", "app"))
    assert layers == list(client.store.image_diff_ids(overlay_image))

    # In-process: probed once per store; ``lamina info`` (announce=False) stays quiet.
    monkeypatch.delenv(copyroot.SNAPSHOTTER_ENV, raising=False)
    monkeypatch.setattr(copyroot, "_probed", {})
    monkeypatch.setattr(copyroot, "_announced", set())
    chosen = copyroot.snapshotter_for(store_on_overlayfs, announce=False)
    assert chosen.name == "copy" and chosen.reason.startswith("mount on overlay: ")
    assert capsys.readouterr().err == ""
    assert copyroot.snapshotter_for(store_on_overlayfs) == chosen
    assert copyroot.snapshotter_for(store_on_overlayfs) == chosen
    assert capsys.readouterr().err.count("copying snapshotter") == 1
    store = Store(store_on_overlayfs)
    try:
        info = host_info(store, [], RegistryConfig.load())
    finally:
        store.close()
    assert ["Snapshotter", f"copy ({chosen.reason})"] in info["DriverStatus"]
    assert os.listdir(store_on_overlayfs / "runtime" / "ephemeral") == []  # probes leave nothing


def test_an_unknown_snapshotter_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(copyroot.SNAPSHOTTER_ENV, "vfs")
    with pytest.raises(Exception, match="LAMINA_SNAPSHOTTER='vfs': the snapshotter must be overlay or copy"):
        copyroot.snapshotter_for(tmp_path)


STEP_SCRIPT = """
import sys
from lamina.runtime.spec import ProcessSpec
from lamina.runtime.step import run_in_snapshot
from lamina.store.store import Store
run_in_snapshot(Store(sys.argv[1]), sys.argv[2:], ProcessSpec(args=["/bin/sleep", "60"]))
"""


def test_a_killed_copy_step_is_cleaned_up(client: Client, layers: list[str]) -> None:
    root = Path(client.store.root)
    process = subprocess.Popen([sys.executable, "-c", STEP_SCRIPT, str(root), *layers],
                               env={**os.environ, copyroot.SNAPSHOTTER_ENV: "copy"})
    runc = runc_for(root)
    ephemeral = root / "runtime" / "ephemeral"
    try:
        deadline = time.monotonic() + 30
        while not any(c.get("status") == "running" for c in runc.list()):
            assert process.poll() is None and time.monotonic() < deadline, "the step never ran"
            time.sleep(0.05)
        assert [p for p in os.listdir(ephemeral) if not p.startswith(".")]
    finally:
        process.kill()
        process.wait(20)
    assert cleanup_stale(root) == 1
    assert os.listdir(ephemeral) == [] and runc.list() == []
