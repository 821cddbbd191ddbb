"""Container benchmarks: ``lamina run --rm IMAGE true`` against ``docker run --rm`` of the same
image, and ``lamina ps -a`` with many containers.

    .venv/bin/python bench/run_bench.py [--runs 10] [--containers 200] [--docker-socket PATH]

The busybox image is made from busybox-static, imported into a fresh lamina store and loaded
into docker (``lamina save | docker load``), so both run the very same image. Runs are
interleaved so background load hits both alike; the table shows medians. Bytecode caching is
on for lamina (as users have it), whatever PYTHONDONTWRITEBYTECODE says.
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

IMAGE = "lamina-bench/busybox:latest"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--docker-socket", help="dockerd socket (default: docker's default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lamina-run-bench-") as scratch:
        work = Path(scratch)
        env = {**os.environ, "LAMINA_ROOT": str(work / "store")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        script = Path(sys.executable).with_name("lamina")  # the console script users run
        lamina = [str(script)] if script.exists() else [sys.executable, "-m", "lamina"]
        docker = ["docker"] + (["-H", f"unix://{args.docker_socket}"] if args.docker_socket else [])
        tar = make_busybox_tar(work)
        subprocess.run([*lamina, "import", str(tar), IMAGE, "-c", 'CMD ["sh"]'], env=env, check=True,
                       capture_output=True)
        archive = subprocess.run([*lamina, "save", IMAGE], env=env, check=True, capture_output=True).stdout
        subprocess.run([*docker, "load"], input=archive, check=True, capture_output=True)
        rows = []
        for network in ("default", "none"):
            flags = [] if network == "default" else ["--network", "none"]
            mine, theirs = [], []
            for _ in range(args.runs):
                mine.append(timed([*lamina, "run", "--rm", *flags, IMAGE, "true"], env))
                theirs.append(timed([*docker, "run", "--rm", *flags, IMAGE, "true"], env))
            lamina_median, docker_median = statistics.median(mine), statistics.median(theirs)
            rows.append((f"run --rm true (network {network})", lamina_median, docker_median))
        create_containers(env, args.containers)
        ps_times = [timed([*lamina, "ps", "-a"], env) for _ in range(args.runs)]
        ps_quiet = [timed([*lamina, "ps"], env) for _ in range(args.runs)]
        subprocess.run([*docker, "rmi", IMAGE], capture_output=True)
    print("| operation | lamina median s | docker median s | ratio |")
    print("|---|---|---|---|")
    for label, mine_s, theirs_s in rows:
        print(f"| {label} | {mine_s:.3f} | {theirs_s:.3f} | {mine_s / theirs_s:.2f}× |")
    print(f"| ps -a ({args.containers} containers) | {statistics.median(ps_times):.3f} | | |")
    print(f"| ps ({args.containers} stopped containers) | {statistics.median(ps_quiet):.3f} | | |")


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def create_containers(env: dict[str, str], count: int) -> None:
    """Many stopped containers, made through the API (``create``) to keep set-up short."""
    from lamina.api import Client
    from lamina.runtime.runconfig import RunOptions

    with Client(env["LAMINA_ROOT"]) as client:
        for index in range(count):
            client.create_container(IMAGE, RunOptions(command=["echo", str(index)], network="none"))


def make_busybox_tar(work: Path) -> Path:
    busybox = shutil.which("busybox")
    if busybox is None:
        sys.exit("busybox is not installed (apt-get install busybox-static)")
    root = work / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in ("sh", "true", "echo", "ls", "cat"):
        (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    tar = work / "rootfs.tar"
    subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(tar), "."], check=True)
    return tar


if __name__ == "__main__":
    main()
