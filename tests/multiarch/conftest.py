"""Fixtures for multi-platform images: qemu user emulation and an arm64 busybox root filesystem.

The arm64 (and arm/v7) rootfs is made from Debian's ``busybox-static`` package for arm64 (armhf) (``apt-get download
busybox-static:arm64`` after ``dpkg --add-architecture arm64``): a static aarch64 busybox, so an
arm64 image exists in seconds without downloading any image. It is kept per machine next to the
debootstrap'd bookworm rootfs (``$LAMINA_TEST_CACHE``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.registry.servers import RegistryServer

BINFMT = Path("/proc/sys/fs/binfmt_misc")


def _cache() -> Path:
    cache = Path(os.environ.get("LAMINA_TEST_CACHE", Path.home() / ".cache" / "lamina-tests"))
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def _qemu_handler(name: str) -> Path:
    """The kernel runs ELF files of another CPU through Debian's qemu-user-static (binfmt_misc, F flag).

    Registers the handler when the package is installed but its entry is not active (a fresh
    container has binfmt_misc unmounted): mount it and ``update-binfmts --enable``.
    """
    require_tool(f"{name}-static", "qemu-user-static")
    update = require_tool("update-binfmts", "binfmt-support")
    entry = BINFMT / name
    if not entry.exists():
        if not (BINFMT / "register").exists():
            subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], capture_output=True)
        subprocess.run([update, "--enable", name], capture_output=True)
    if not entry.exists():
        pytest.fail(f"binfmt_misc has no {name} handler: run 'update-binfmts --enable {name}' as root "
                    "(Debian's qemu-user-static + binfmt-support)")
    text = entry.read_text()
    flags = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("flags:")), "")
    assert "enabled" in text and "F" in flags, text  # F: the interpreter is opened now, usable inside any rootfs
    return entry


@pytest.fixture(scope="session")
def qemu_arm64() -> Path:
    return _qemu_handler("qemu-aarch64")


@pytest.fixture(scope="session")
def qemu_arm() -> Path:
    return _qemu_handler("qemu-arm")


def _foreign_busybox(debian_arch: str = "arm64") -> Path:
    """A static busybox from Debian's busybox-static:<arch> package, fetched once per machine."""
    cache = _cache()
    target = cache / f"busybox-{debian_arch}"
    with open(cache / f"busybox-{debian_arch}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            foreign = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True, text=True).stdout
            if debian_arch not in foreign.split():
                subprocess.run(["dpkg", "--add-architecture", debian_arch], check=True)
                subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-qq"], check=True,
                               capture_output=True, timeout=600)
            work = cache / f"busybox-{debian_arch}.work"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
            package = f"busybox-static:{debian_arch}"
            got = subprocess.run(["apt-get", "download", "-qq", package], cwd=work,
                                 capture_output=True, text=True, timeout=600)
            if got.returncode != 0:
                subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600)
                got = subprocess.run(["apt-get", "download", "-qq", package], cwd=work,
                                     capture_output=True, text=True, timeout=600)
            debs = list(work.glob(f"busybox-static_*_{debian_arch}.deb"))
            if not debs:
                pytest.fail(f"apt-get download {package} failed: {got.stderr.strip()}")
            subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(work / "x")], check=True)
            shutil.copy2(work / "x" / "bin" / "busybox", cache / f"busybox-{debian_arch}.tmp")
            os.replace(cache / f"busybox-{debian_arch}.tmp", target)
            shutil.rmtree(work, ignore_errors=True)
    return target


def _busybox_rootfs(root: Path, busybox: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "tmp").mkdir(mode=0o1777)
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in ("sh", "ls", "cat", "echo", "uname", "true", "wc", "sleep"):
        (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    return root


@pytest.fixture(scope="session")
def arm64_rootfs(tmp_path_factory) -> Path:
    """A minimal arm64 busybox root filesystem (same shape as the amd64 ``busybox_rootfs``)."""
    return _busybox_rootfs(tmp_path_factory.mktemp("rootfs-arm64") / "busybox", _foreign_busybox("arm64"))


@pytest.fixture(scope="session")
def armv7_tar(tmp_path_factory) -> Path:
    """A linux/arm/v7 busybox rootfs as a tar (Debian's busybox-static:armhf)."""
    root = _busybox_rootfs(tmp_path_factory.mktemp("rootfs-armhf") / "busybox", _foreign_busybox("armhf"))
    out = tmp_path_factory.mktemp("tars-armhf") / "busybox-armhf.tar"
    subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(out), "."], check=True)
    return out


@pytest.fixture(scope="session")
def arm64_tar(arm64_rootfs: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tars-arm64") / "busybox-arm64.tar"
    subprocess.run(["tar", "--numeric-owner", "-C", str(arm64_rootfs), "-cf", str(out), "."], check=True)
    return out


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> Iterator[RegistryServer]:
    if not Path("/usr/bin/docker-registry").exists():
        pytest.fail("docker-registry is not installed: run 'make test' as root (it installs Debian's docker-registry)")
    server = RegistryServer(tmp_path_factory.mktemp("multiarch-registry")).start()
    yield server
    server.stop()


def cached_debian_arm64_rootfs() -> Path:
    """A debian:bookworm minbase arm64 rootfs: ``debootstrap --arch=arm64 --foreign``, then its
    second stage run in a chroot under qemu (binfmt_misc). About four minutes on the 2-core test
    machine, so made once per machine and kept (``$LAMINA_TEST_CACHE``, as the amd64 one is)."""
    from tests.conftest import _apt_mirror

    cache = _cache()
    root = cache / "rootfs-bookworm-arm64"
    with open(cache / "rootfs-bookworm-arm64.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / ".complete").exists():
            debootstrap = require_tool("debootstrap", "debootstrap")
            shutil.rmtree(root, ignore_errors=True)
            mirror = _apt_mirror()
            first = subprocess.run([debootstrap, "--arch=arm64", "--foreign", "--variant=minbase", "bookworm",
                                    str(root), *([mirror] if mirror else [])], capture_output=True, timeout=1200)
            if first.returncode != 0:
                pytest.fail(f"debootstrap --arch=arm64 --foreign failed: {first.stderr.decode()[-2000:]}")
            second = subprocess.run(["chroot", str(root), "/debootstrap/debootstrap", "--second-stage"],
                                    capture_output=True, timeout=2400)
            if second.returncode != 0:
                pytest.fail(f"debootstrap --second-stage under qemu failed: {second.stdout.decode()[-2000:]}")
            (root / ".complete").touch()
    return root


@pytest.fixture(scope="session")
def debian_arm64_tar(qemu_arm64, tmp_path_factory) -> Path:
    root = cached_debian_arm64_rootfs()
    out = tmp_path_factory.mktemp("debian-arm64") / "bookworm-arm64.tar"
    subprocess.run(["tar", "--numeric-owner", "--exclude=./.complete", "-C", str(root), "-cf", str(out), "."],
                   check=True)
    return out
