"""`kill -9` of load, pull, push, import or build at a random moment leaves a store that `fsck`
finds nothing wrong with, and the same command run again succeeds.

Each command is timed, then killed at MOMENTS delays drawn (seeded; the seed is printed,
LAMINA_KILL_SEED repeats a run) between Python's start-up and that time; a run that ends before
its kill does not count, and moves later kills earlier. What a killed command committed before its
metadata transaction is unreferenced content: `fsck` reports it as reclaimable and exits 0.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Lamina
from tests.registry.servers import RegistryServer
from tests.store.loopback import loopback_registry_server

pytestmark = [pytest.mark.slow, pytest.mark.registry]

MOMENTS = 20
SEED = int(os.environ.get("LAMINA_KILL_SEED", str(time.time_ns() % 1_000_000)))


@pytest.fixture(scope="module")
def loopback_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from loopback_registry_server(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Path:
    """busybox plus 6 MB that does not compress: the commands spend a while writing blobs."""
    import tarfile

    path = tmp_path_factory.mktemp("rootfs") / "rootfs.tar"
    shutil.copy(busybox_tar, path)
    with tarfile.open(path, "a") as archive:
        info = tarfile.TarInfo("ballast")
        info.size = 6 << 20
        archive.addfile(info, io.BytesIO(os.urandom(info.size)))
    return path


@pytest.fixture(scope="module")
def base_store(tmp_path_factory: pytest.TempPathFactory, rootfs: Path) -> Lamina:
    """A store holding the base image, copied for each moment that needs an image to start from."""
    lamina = Lamina(tmp_path_factory.mktemp("base") / "store")
    lamina.out("import", str(rootfs), "busybox:latest", "-c", 'CMD ["sh"]')
    return lamina


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, base_store: Lamina, rootfs: Path,
           loopback_registry) -> dict[str, Path | str]:
    work = tmp_path_factory.mktemp("inputs")
    archive = work / "busybox-save.tar"
    base_store.run("save", "-o", str(archive), "busybox:latest")
    pulled = f"{loopback_registry.host}/kill/pulled:v1"
    base_store.run("tag", "busybox:latest", pulled)
    base_store.run("push", pulled)
    context = work / "context"
    context.mkdir()
    (context / "payload").write_bytes(os.urandom(256 * 1024))
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo built > /built\nCOPY payload /payload\n"
                                        "RUN cat /payload /payload > /twice\n")
    return {"archive": archive, "rootfs": rootfs, "pulled": pulled, "context": context,
            "registry": loopback_registry.host}


def _fresh(tmp_path: Path, moment: int) -> Lamina:
    return Lamina(tmp_path / f"store-{moment}")


def _copy(base: Lamina, tmp_path: Path, moment: int) -> Lamina:
    target = tmp_path / f"store-{moment}"
    shutil.copytree(base.root, target, symlinks=True)
    return Lamina(target)


# command → (store for a moment, the command's arguments for that moment)
def _plan(command: str, base: Lamina, inputs: dict) -> Callable[[Path, int], tuple[Lamina, list[str]]]:
    if command == "load":
        return lambda tmp, i: (_fresh(tmp, i), ["load", "-q", "-i", str(inputs["archive"])])
    if command == "import":
        return lambda tmp, i: (_fresh(tmp, i), ["import", str(inputs["rootfs"]), "imported:v1"])
    if command == "pull":
        return lambda tmp, i: (_fresh(tmp, i), ["pull", "-q", inputs["pulled"]])
    if command == "build":
        return lambda tmp, i: (_copy(base, tmp, i), ["build", "-q", "--network", "none", "-t", "built:v1",
                                                     str(inputs["context"])])

    def push(tmp: Path, moment: int) -> tuple[Lamina, list[str]]:
        target = f"{inputs['registry']}/kill/pushed-{moment}-{SEED}:v1"
        base.run("tag", "busybox:latest", target)
        return base, ["push", "-q", target]
    return push


def _run_killed(lamina: Lamina, args: list[str], delay: float) -> bool:
    """Start ``lamina args``, SIGKILL it after ``delay`` seconds; whether it was still running."""
    process = subprocess.Popen([sys.executable, "-m", "lamina", *args], env=lamina.env(), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        return True
    finally:
        try:  # what the command started (runc, a RUN step's shell) outlives it; end it too
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("command", ["load", "import", "pull", "push", "build"])
def test_kill_at_any_moment_leaves_a_store_fsck_passes(command: str, base_store: Lamina, inputs: dict,
                                                         tmp_path: Path):
    print(f"seed {SEED} (LAMINA_KILL_SEED={SEED} repeats this run)")
    plan = _plan(command, base_store, inputs)
    lamina, args = plan(tmp_path / "timing", 0)
    started = time.monotonic()
    lamina.run("images")
    startup = time.monotonic() - started  # Python starting: killing there tests little
    started = time.monotonic()
    lamina.run(*args)
    duration = time.monotonic() - started
    moments = random.Random(f"{SEED}-{command}")
    killed = reclaimable = attempts = 0
    while killed < MOMENTS and attempts < 3 * MOMENTS:
        attempts += 1
        lamina, args = plan(tmp_path, attempts)
        delay = moments.uniform(startup * 0.8, max(duration, startup))
        if _run_killed(lamina, args, delay):
            killed += 1
        else:  # it ended first (runs vary on a busy machine): aim earlier next time
            duration *= 0.8
        check = lamina.run("fsck", check=False)
        reclaimable += b"reclaimable:" in check.stdout
        assert check.returncode == 0, (
            f"seed {SEED}, {command} killed after {delay:.3f}s: fsck says\n{check.stdout.decode()}")
        again = lamina.run(*args, check=False)
        assert again.returncode == 0, (
            f"seed {SEED}, {command} killed after {delay:.3f}s, then again: {again.stderr.decode()}")
        if lamina is not base_store:
            shutil.rmtree(lamina.root, ignore_errors=True)
    print(f"{command}: {killed} kills in {attempts} runs, {reclaimable} left reclaimable content")
    assert killed >= MOMENTS // 2, f"only {killed} of {attempts} kills hit a running {command}"
