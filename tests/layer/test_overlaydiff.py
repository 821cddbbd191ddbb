"""write_overlay_diff on real overlayfs mounts (and one real runc container)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.errors import LayerError
from lamina.layer.apply import apply_layer, list_layer
from lamina.layer.overlaydiff import write_overlay_diff
from lamina.layer.tarwrite import write_dir_tar

from .helpers import MTIME, make_tar, tree_state

# The suite runs as root (make test); a machine where overlayfs or runc does not work fails here
# loudly instead of silently skipping what the overlay snapshotter depends on.


class Overlay:
    def __init__(self, base: Path):
        self.lower = base / "lower"
        self.upper = base / "upper"
        self.work = base / "work"
        self.merged = base / "merged"
        for path in (self.lower, self.upper, self.work, self.merged):
            path.mkdir()
        self.mounted = False

    def mount(self) -> None:
        options = f"lowerdir={self.lower},upperdir={self.upper},workdir={self.work}"
        result = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", options, str(self.merged)], capture_output=True, text=True
        )
        if result.returncode != 0:
            pytest.fail(f"overlayfs mount failed here (needs root and overlayfs): {result.stderr.strip()}")
        self.mounted = True

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.merged)], check=True)
            self.mounted = False

    def diff(self, **options) -> bytes:
        out = io.BytesIO()
        write_overlay_diff(self.upper, out, lowers=[self.lower], **options)
        return out.getvalue()


@pytest.fixture
def overlay(tmp_path: Path) -> Iterator[Overlay]:
    mount = Overlay(tmp_path)
    try:
        yield mount
    finally:
        mount.unmount()


def members(layer: bytes) -> list[tuple[str, str]]:
    return [(entry.path, entry.kind) for entry in list_layer(io.BytesIO(layer))]


def test_applying_the_diff_to_the_lower_gives_the_merged_tree(overlay: Overlay, tmp_path: Path):
    lower = overlay.lower
    for name in ("del-dir/sub", "replace-dir/old-sub", "keep-dir", "sub/deep"):
        (lower / name).mkdir(parents=True)
    for name in ("keep.txt", "delete-me.txt", "modify.txt", "del-dir/sub/f", "replace-dir/old",
                 "replace-dir/old-sub/f", "sub/deep/file", "keep-dir/k"):
        (lower / name).write_text(f"lower {name}\n")
    overlay.mount()
    merged = overlay.merged
    os.remove(merged / "delete-me.txt")
    shutil.rmtree(merged / "del-dir")
    shutil.rmtree(merged / "replace-dir")
    (merged / "replace-dir").mkdir()  # deleted, then recreated: overlayfs makes it opaque
    (merged / "replace-dir/new").write_text("new\n")
    (merged / "modify.txt").write_text("changed\n")
    (merged / "sub/deep/added").write_text("added\n")
    os.chmod(merged / "keep-dir", 0o700)
    os.setxattr(merged / "sub/deep/added", "user.note", b"kept")
    os.link(merged / "sub/deep/added", merged / "added-link")
    expected = tree_state(merged)
    overlay.unmount()

    layer = overlay.diff()
    listed = members(layer)
    assert ("delete-me.txt", "whiteout") in listed
    assert ("del-dir", "whiteout") in listed
    assert ("replace-dir", "opaque") in listed
    assert not any(path.startswith("keep-dir/") for path, _ in listed)
    assert b"trusted.overlay" not in layer

    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    base_layer = io.BytesIO()
    write_dir_tar(lower, base_layer)
    base_layer.seek(0)
    apply_layer(base_layer, rebuilt)
    apply_layer(io.BytesIO(layer), rebuilt)
    assert tree_state(rebuilt) == expected


def test_diff_is_deterministic(overlay: Overlay):
    (overlay.lower / "a").write_text("a")
    overlay.mount()
    (overlay.merged / "b").write_text("b")
    os.remove(overlay.merged / "a")
    overlay.unmount()
    assert overlay.diff() == overlay.diff()


def _create_runtime_mountpoints(root: Path) -> None:
    for name in ("proc", "sys", "dev/pts", "dev/shm", "etc"):
        (root / name).mkdir(parents=True, exist_ok=True)
    for name in ("etc/resolv.conf", "etc/hosts", "etc/hostname", ".dockerenv", "dev/null"):
        (root / name).touch()


def test_runtime_mountpoints_new_to_the_image_are_dropped(overlay: Overlay):
    (overlay.lower / "bin").mkdir()
    overlay.mount()
    _create_runtime_mountpoints(overlay.merged)
    (overlay.merged / "hello").write_text("hi\n")
    overlay.unmount()
    assert members(overlay.diff()) == [("hello", "file")]


def test_runtime_mountpoints_are_kept_when_asked(overlay: Overlay):
    overlay.mount()
    _create_runtime_mountpoints(overlay.merged)
    overlay.unmount()
    paths = [path for path, _ in members(overlay.diff(skip_mountpoints=False))]
    assert {"proc", "sys", "dev", "etc/resolv.conf", ".dockerenv"} <= set(paths)


def test_etc_copied_up_only_for_mountpoints_is_dropped(overlay: Overlay):
    (overlay.lower / "etc").mkdir()
    (overlay.lower / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.utime(overlay.lower / "etc", (MTIME, MTIME))
    overlay.mount()
    (overlay.merged / "etc/resolv.conf").touch()
    overlay.unmount()
    assert (overlay.upper / "etc/resolv.conf").exists()  # overlayfs did copy etc up
    assert members(overlay.diff()) == []


def test_mountpoint_files_with_content_are_the_steps_work(overlay: Overlay):
    overlay.mount()
    (overlay.merged / "etc").mkdir()
    (overlay.merged / "etc/hosts").write_text("127.0.0.1 build\n")
    (overlay.merged / "etc/hostname").touch()
    overlay.unmount()
    assert members(overlay.diff()) == [("etc", "dir"), ("etc/hosts", "file")]


def test_emptied_mountpoint_file_that_the_image_had_is_kept(overlay: Overlay):
    (overlay.lower / "etc").mkdir()
    (overlay.lower / "etc/hosts").write_text("127.0.0.1 localhost\n")
    overlay.mount()
    (overlay.merged / "etc/hosts").write_text("")
    overlay.unmount()
    assert members(overlay.diff()) == [("etc", "dir"), ("etc/hosts", "file")]


def test_mountpoint_hidden_by_an_upper_lower_whiteout_counts_as_new(tmp_path: Path):
    # Two lowers: the top one deleted /proc (a whiteout), so runc's /proc is new again.
    top, bottom, upper = tmp_path / "top", tmp_path / "bottom", tmp_path / "upper"
    for path in (top, bottom / "proc", upper / "proc"):
        path.mkdir(parents=True)
    os.mknod(top / "proc", 0o20000, 0)
    out = io.BytesIO()
    write_overlay_diff(upper, out, lowers=[top, bottom])
    assert members(out.getvalue()) == []
    out = io.BytesIO()
    write_overlay_diff(upper, out, lowers=[bottom])
    assert members(out.getvalue()) == [("proc", "dir")]


def test_redirect_dirs_are_refused(tmp_path: Path):
    upper = tmp_path / "upper"
    (upper / "moved").mkdir(parents=True)
    os.setxattr(upper / "moved", "trusted.overlay.redirect", b"/original")
    with pytest.raises(LayerError, match="redirect_dir"):
        write_overlay_diff(upper, io.BytesIO())


def test_runc_mountpoints_do_not_leak_into_the_diff(overlay: Overlay, tmp_path: Path):
    from tests.conftest import require_tool

    require_tool("runc", "runc")
    require_tool("busybox", "busybox-static")
    rootfs = overlay.lower
    (rootfs / "bin").mkdir()
    shutil.copy2("/usr/bin/busybox", rootfs / "bin/busybox")
    for applet in ("sh", "rm", "echo"):
        os.symlink("busybox", rootfs / "bin" / applet)
    overlay.mount()
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["root"] = {"path": str(overlay.merged), "readonly": False}
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/sh", "-c", "echo hi > /hello && rm /bin/rm"]
    config["mounts"].append(
        {"destination": "/etc/resolv.conf", "type": "bind", "source": str(resolv), "options": ["rbind", "ro"]}
    )
    (bundle / "config.json").write_text(json.dumps(config))
    container = f"lamina-test-{uuid.uuid4().hex[:12]}"
    result = subprocess.run(
        ["runc", "--root", str(tmp_path / "runc-state"), "run", "--bundle", str(bundle), container],
        capture_output=True, text=True, timeout=60,
    )
    if result.returncode != 0:
        pytest.fail(f"runc cannot run containers here: {result.stderr.strip()[-300:]}")
    overlay.unmount()
    assert (overlay.upper / "proc").is_dir() and (overlay.upper / "etc/resolv.conf").exists()
    assert members(overlay.diff()) == [("bin", "dir"), ("bin/rm", "whiteout"), ("hello", "file")]


def test_applying_onto_a_mounted_overlay_records_overlay_whiteouts(overlay: Overlay, tmp_path: Path):
    """The snapshotter's path: apply a layer on the merged view, then the upper dir is that layer."""
    lower = overlay.lower
    (lower / "keep").mkdir()
    (lower / "keep/old").write_text("old")
    (lower / "gone").write_text("gone")
    (lower / "opaque/sub").mkdir(parents=True)
    (lower / "opaque/sub/old").write_text("old")
    os.symlink("keep", lower / "alias")  # a parent symlink from a lower layer must be followed
    overlay.mount()
    layer = io.BytesIO()
    layer.write(make_tar(
        ("file", ".wh.gone"), ("dir", "opaque"), ("file", "opaque/new", b"new"),
        ("file", "opaque/.wh..wh..opq"), ("file", "alias/through-link", b"t"), ("hardlink", "keep/link", "keep/old"),
    ))
    layer.seek(0)
    apply_layer(layer, overlay.merged)
    expected = tree_state(overlay.merged)
    overlay.unmount()
    assert os.stat(overlay.upper / "gone").st_rdev == 0  # an overlay whiteout, made by overlayfs
    assert (overlay.upper / "keep/through-link").read_text() == "t"

    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    base_layer = io.BytesIO()
    write_dir_tar(lower, base_layer)
    base_layer.seek(0)
    apply_layer(base_layer, rebuilt)
    apply_layer(io.BytesIO(overlay.diff()), rebuilt)
    assert tree_state(rebuilt) == expected
