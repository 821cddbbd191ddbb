"""Shared fixtures: a busybox rootfs, the lamina CLI against a private store, a private dockerd.

Real tools, no mocks: the peers come from Debian's packages (installed by `make test`). A peer
that is missing is a failure with the install hint, never a silent skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_configure(config) -> None:
    """Remove what earlier runs left in pytest's temp root that pytest cannot: a tree deeper
    than Python's recursion limit (a test of deep contexts, killed before its own clean-up)
    makes pytest's shutil.rmtree of old temp dirs crash the whole session at its end."""
    import getpass

    from lamina.layer.treeremoval import remove_tree

    root = Path(tempfile.gettempdir()) / f"pytest-of-{getpass.getuser()}"
    for leftover in root.glob("garbage-*") if root.is_dir() else ():
        try:
            remove_tree(leftover)
        except OSError:
            pass  # another worker got there first


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if not path:
        pytest.fail(f"{name} is not installed: run 'make test' as root (it installs Debian's {package})")
    return path


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> Path:
    """A minimal busybox-static root filesystem (bin/busybox + applet links + /etc/passwd)."""
    busybox = require_tool("busybox", "busybox-static")
    root = tmp_path_factory.mktemp("rootfs") / "busybox"
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "tmp").mkdir(mode=0o1777)
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in ("sh", "ls", "cat", "echo", "env", "id", "pwd", "true", "false", "wc", "sleep"):
        (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    return root


@pytest.fixture(scope="session")
def busybox_tar(busybox_rootfs: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tars") / "busybox.tar"
    subprocess.run(["tar", "--numeric-owner", "-C", str(busybox_rootfs), "-cf", str(out), "."], check=True)
    return out


def cached_debian_rootfs() -> Path:
    """A debian:bookworm minbase root filesystem made once per machine by debootstrap and kept.

    Kept under ``$LAMINA_TEST_CACHE`` (default ``~/.cache/lamina-tests``) so that later runs, and
    both xdist workers, share one: the first caller builds it under an exclusive flock, the
    others wait for it. The mirror is the machine's own apt source (plain HTTP works here).
    """
    import fcntl

    cache = Path(os.environ.get("LAMINA_TEST_CACHE", Path.home() / ".cache" / "lamina-tests"))
    cache.mkdir(parents=True, exist_ok=True)
    root = cache / "rootfs-bookworm"
    with open(cache / "rootfs-bookworm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / ".complete").exists():
            debootstrap = require_tool("debootstrap", "debootstrap")
            shutil.rmtree(root, ignore_errors=True)
            mirror = _apt_mirror()
            result = subprocess.run([debootstrap, "--variant=minbase", "bookworm", str(root), *([mirror] if mirror else [])],
                                    capture_output=True, timeout=1200)
            if result.returncode != 0:
                pytest.fail("debootstrap of bookworm failed: " + result.stdout.decode()[-1500:] + result.stderr.decode()[-1500:])
            (root / ".complete").write_text("")
    return root


def _apt_mirror() -> str | None:
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split(":", 1)[1].strip().split()[0]
    return None


@pytest.fixture(scope="session")
def debian_rootfs_tar(tmp_path_factory) -> Path:
    """The cached bookworm rootfs as a tar (without debootstrap's marker), for ``lamina import``."""
    root = cached_debian_rootfs()
    out = tmp_path_factory.mktemp("debian") / "bookworm.tar"
    subprocess.run(["tar", "--numeric-owner", "--exclude=./.complete", "-C", str(root), "-cf", str(out), "."], check=True)
    return out


class Lamina:
    """Runs the real CLI (``python -m lamina``) against one store root."""

    def __init__(self, root: Path, environ: dict[str, str] | None = None):
        self.root = root
        self.environ = dict(environ or {})  # e.g. DOCKER_BUILDKIT: which builder a comparison is with

    def env(self) -> dict[str, str]:
        return {**os.environ, "LAMINA_ROOT": str(self.root), **self.environ}

    def run(self, *args: str, input: bytes | None = None, check: bool = True, stdout=subprocess.PIPE,
            timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "lamina", *args], input=input, stdout=stdout,
                                stderr=subprocess.PIPE, env=self.env(), timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"lamina {' '.join(args)} failed ({result.returncode}): {result.stderr.decode()}")
        return result

    def out(self, *args: str, **kwargs) -> str:
        return self.run(*args, **kwargs).stdout.decode()

    def fails(self, *args: str, input: bytes | None = None) -> str:
        """Run a command that must fail with one ``lamina: error:`` line and no traceback."""
        result = self.run(*args, input=input, check=False)
        stderr = result.stderr.decode()
        assert result.returncode != 0, f"lamina {' '.join(args)} should have failed"
        assert "Traceback" not in stderr, stderr
        lines = [line for line in stderr.splitlines() if line.strip()]
        lines = [line for line in lines if not line.startswith("lamina: warning: ")]  # e.g. unverified TLS
        assert lines and lines[0].startswith("lamina: error: "), stderr
        return stderr


@pytest.fixture
def lamina(tmp_path: Path) -> Lamina:
    return Lamina(tmp_path / "store")


@pytest.fixture
def imported_busybox(lamina: Lamina, busybox_tar: Path) -> str:
    return lamina.out("import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]').strip()


def store_listing(root: Path) -> dict:
    """Everything observable in a store: blob files with hashes and every metadata row."""
    listing: dict = {"files": {}, "tables": {}}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_file() and relative.startswith("blobs/"):
            listing["files"][relative] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif relative.startswith("ingest/") and path.is_file():
            listing["files"][relative] = "temp"
    db = root / "metadata.db"
    if db.exists():
        connection = sqlite3.connect(db)
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            rows = connection.execute(f"SELECT * FROM {table}").fetchall()
            listing["tables"][table] = sorted(map(repr, rows))
        connection.close()
    return listing


class Docker:
    """A private dockerd on its own socket and data root (``--iptables=false --bridge=none``)."""

    def __init__(self, base: Path):
        self.base = base
        self.socket = base / "d.sock"
        self.client = shutil.which("docker", path="/usr/bin") or require_tool("docker", "docker.io")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        dockerd = require_tool("dockerd", "docker.io")
        log = open(self.base / "dockerd.log", "wb")
        self.process = subprocess.Popen(
            [dockerd, "--host", f"unix://{self.socket}", "--data-root", str(self.base / "data"),
             "--exec-root", str(self.base / "exec"), "--pidfile", str(self.base / "docker.pid"),
             "--iptables=false", "--ip-masq=false", "--bridge=none", "--storage-driver=overlay2"],
            stdout=log, stderr=log,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.run("info", check=False).returncode == 0:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError("dockerd did not start: " + (self.base / "dockerd.log").read_text()[-2000:])

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        subprocess.run(["umount", "-R", str(self.base / "data")], capture_output=True)

    # dockerd 20.10 here now and then starts a container or a build step on a rootfs it cannot
    # see (also with nothing of lamina running); these are its messages for it. Commands that
    # create containers are retried on them, so the oracle's flakes do not fail our tests.
    FLAKES = (b"Error after fallback to chroot", b"stat /bin/sh: no such file or directory",
              b"OCI runtime create failed")
    RETRIED = frozenset({"build", "run", "create", "commit"})

    def run(self, *args: str, input: bytes | None = None, check: bool = True,
            timeout: float = 300) -> subprocess.CompletedProcess:
        for _attempt in range(3):
            result = subprocess.run([self.client, "-H", f"unix://{self.socket}", *args], input=input,
                                    capture_output=True, timeout=timeout,
                                    env={**os.environ, "DOCKER_BUILDKIT": "0", "DOCKER_CONFIG": str(self.base / "cfg")})
            flaky = result.returncode != 0 and any(sign in result.stderr for sign in self.FLAKES)
            if not (flaky and args and args[0] in self.RETRIED):
                break
            time.sleep(1)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.decode()}")
        return result

    def out(self, *args: str, **kwargs) -> str:
        return self.run(*args, **kwargs).stdout.decode()

    def export_image(self, image: str) -> bytes:
        """The file tree of ``image`` as docker shows it (``create`` + ``export``), as a tar.

        The same dockerd flake as above sometimes gives a container an empty rootfs; an export
        with no file in it is taken again with a new container (up to three times)."""
        import io

        data = b""
        for _attempt in range(3):
            container = self.out("create", "--network", "none", image, "/none").strip().splitlines()[-1]
            try:
                data = self.run("export", container).stdout
            finally:
                self.run("rm", "-f", container, check=False)
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                if any(member.isfile() for member in archive):
                    break
            time.sleep(1)
        return data


@pytest.fixture(scope="session")
def docker() -> Docker:
    if os.geteuid() != 0:
        pytest.fail("the docker interop tests need root (dockerd on a private socket)")
    base = Path(tempfile.mkdtemp(prefix="ld-", dir="/tmp"))
    daemon = Docker(base)
    daemon.start()
    yield daemon
    daemon.stop()
    shutil.rmtree(base, ignore_errors=True)


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """Build a tar in memory from (TarInfo, content) pairs (for hostile-archive tests)."""
    import io

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, content in members:
            if content is not None:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
            else:
                archive.addfile(info)
    return buffer.getvalue()


def read_json_member(archive: Path, name: str):
    with tarfile.open(archive) as tar:
        return json.load(tar.extractfile(name))
