"""RUN step overhead: lamina (runc on overlay snapshots) against docker's classic builder.

    sudo .venv/bin/python bench/run_step_bench.py [--steps 10] [--repeat 3]

Starts a private dockerd (like the tests), gives both tools the same busybox image, then builds
three Dockerfiles with --no-cache: a baseline (FROM + LABEL), --steps trivial ``RUN true``
(nothing to commit) and --steps ``RUN echo i > /fi`` (a one-file layer each). The per-step cost
is (build - baseline) / steps, best of --repeat. It also times lamina's runtime alone
(``run_in_snapshot`` + ``commit_upper`` of an empty step, median of 20).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from lamina.runtime.spec import ProcessSpec  # noqa: E402
from lamina.runtime.step import commit_upper, run_in_snapshot  # noqa: E402
from lamina.store.store import Store  # noqa: E402
from tests.conftest import Docker  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="run-bench-"))
    docker = Docker(work / "docker")
    (work / "docker").mkdir()
    docker.start()
    try:
        store_root = work / "store"
        _prepare_base(docker, work, store_root)
        dockerfiles = {
            "baseline": "FROM bench/bb\nLABEL x=1\n",
            "run-true": "FROM bench/bb\n" + "RUN true\n" * args.steps,
            "run-write": "FROM bench/bb\n" + "".join(f"RUN echo {i} > /f{i}\n" for i in range(args.steps)),
        }
        results: dict[str, dict[str, float]] = {"lamina": {}, "docker": {}}
        for name, text in dockerfiles.items():
            context = work / name
            context.mkdir()
            (context / "Dockerfile").write_text(text)
            results["lamina"][name] = _best(args.repeat, lambda c=context: _lamina_build(store_root, c))
            results["docker"][name] = _best(args.repeat, lambda c=context: _docker_build(docker, c))
        for tool, times in results.items():
            for name in ("run-true", "run-write"):
                per_step = (times[name] - times["baseline"]) / args.steps * 1000
                print(f"{tool:7} {name:10} {per_step:7.1f} ms per RUN step (build {times[name]:.2f} s, "
                      f"baseline {times['baseline']:.2f} s)")
        print(f"lamina runtime alone (run_in_snapshot + empty commit): {_runtime_alone(store_root):.1f} ms median")
    finally:
        docker.stop()
        shutil.rmtree(work, ignore_errors=True)


def _prepare_base(docker: Docker, work: Path, store_root: Path) -> None:
    root = work / "rootfs"
    for directory in ("bin", "etc", "tmp"):
        (root / directory).mkdir(parents=True)
    shutil.copy2(shutil.which("busybox") or "/usr/bin/busybox", root / "bin" / "busybox")
    for applet in ("sh", "true", "echo"):
        (root / "bin" / applet).symlink_to("busybox")
    tar = subprocess.run(["tar", "-C", str(root), "-cf", "-", "."], check=True, capture_output=True).stdout
    docker.run("import", "-", "bench/bb", input=tar)
    archive = work / "bb.tar"
    docker.run("save", "-o", str(archive), "bench/bb")
    _lamina(store_root, "load", "-i", str(archive))


def _lamina(store_root: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "lamina", *args], check=True, capture_output=True,
                   env={**os.environ, "LAMINA_ROOT": str(store_root)})


def _lamina_build(store_root: Path, context: Path) -> float:
    started = time.perf_counter()
    _lamina(store_root, "build", "-q", "--no-cache", "--network", "none", str(context))
    return time.perf_counter() - started


def _docker_build(docker: Docker, context: Path) -> float:
    """dockerd 20.10 on this kernel now and then fails a step with "stat /bin/sh: no such file"
    (seen without lamina running too); such a build is retried, its time not counted."""
    for _ in range(5):
        started = time.perf_counter()
        result = docker.run("build", "-q", "--no-cache", "--force-rm", "--network", "none", str(context), check=False)
        if result.returncode == 0:
            return time.perf_counter() - started
        print(f"docker build failed, retrying: {result.stderr.decode().strip().splitlines()[-1]}", file=sys.stderr)
    raise RuntimeError("docker build kept failing")


def _best(repeat: int, action) -> float:
    """The fastest of ``repeat`` runs of ``action`` (which returns its own elapsed seconds)."""
    return min(action() for _ in range(repeat))


def _runtime_alone(store_root: Path) -> float:
    store = Store(store_root)
    diff_ids = store.image_diff_ids(store.resolve("bench/bb"))
    times = []
    for _ in range(21):
        started = time.perf_counter()
        result = run_in_snapshot(store, diff_ids, ProcessSpec(args=["/bin/true"]), network="none")
        commit_upper(store, result.upper_dir, result.lowers)
        result.discard()
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:]) * 1000


if __name__ == "__main__":
    main()
