"""Fixtures for the runtime tests: a store holding a busybox image with a few users, and a way
to add hand-made layers to it. Real runc, real overlayfs: these tests need root."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from lamina.store.store import Store
from tests.conftest import require_tool

from .helpers import add_layer

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534::/:/bin/false\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
)
GROUP = "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\nstaff:x:50:alice,bob\naudio:x:29:alice\n"
APPLETS = ("sh", "ls", "cat", "echo", "env", "id", "pwd", "true", "false", "wc", "sleep", "hostname",
           "mkdir", "rm", "touch", "ln", "stat", "kill", "grep")


@pytest.fixture(scope="session", autouse=True)
def _needs_root_and_runc() -> None:
    if os.geteuid() != 0:
        pytest.fail("the runtime tests need root (overlayfs mounts, runc)")
    require_tool("runc", "runc")


@pytest.fixture(scope="session")
def base_tar(tmp_path_factory) -> bytes:
    """A busybox root filesystem as a layer tar, with users for USER tests."""
    busybox = require_tool("busybox", "busybox-static")
    root = tmp_path_factory.mktemp("rt-rootfs") / "root"
    for directory in ("bin", "etc", "tmp", "root", "home/alice", "data/keep"):
        (root / directory).mkdir(parents=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    (root / "data" / "gone").write_text("to be deleted\n")
    (root / "data" / "replaced").write_text("old\n")
    (root / "data" / "keep" / "old-child").write_text("hidden by an opaque dir\n")
    os.chown(root / "home" / "alice", 1000, 1000)
    out = subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", "-", "."], check=True,
                         capture_output=True).stdout
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("rt-store") / "store")
    yield store
    store.close()


@pytest.fixture(scope="module")
def base_layers(store: Store, base_tar: bytes) -> list[str]:
    return [add_layer(store, base_tar)]
