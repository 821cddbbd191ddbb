"""Micro-benchmarks of the store: save/load of a large image, `images` with many tags.

    .venv/bin/python bench/store_bench.py [--size-mb 950] [--tags 500] [--docker-socket PATH]

Prints one table (median wall seconds of --runs rounds; peak RSS of `lamina load`). With
--docker-socket the same save/load is timed with docker on that daemon, interleaved.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_rootfs_tar(directory: Path, size_mb: int) -> Path:
    """A tar of mixed files: a few big, many small, incompressible like real binaries."""
    root = directory / "rootfs"
    (root / "big").mkdir(parents=True)
    (root / "small").mkdir()
    big_total = size_mb * 9 // 10
    for i in range(5):
        with open(root / "big" / f"f{i}", "wb") as out:
            for _ in range(big_total // 5):
                out.write(os.urandom(1 << 20))
    small_total = (size_mb - big_total) << 20
    for i in range(max(1, small_total // 8192)):
        (root / "small" / f"s{i}").write_bytes(os.urandom(8192))
    tar = directory / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True)
    shutil.rmtree(root)
    return tar


def timed(command: list[str], env: dict | None = None) -> tuple[float, int]:
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return time.perf_counter() - start, max(before, after)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=950)
    parser.add_argument("--tags", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--docker-socket")
    args = parser.parse_args()
    lamina = [sys.executable, "-m", "lamina"]
    work = Path(tempfile.mkdtemp(prefix="lamina-bench-"))
    try:
        tar = make_rootfs_tar(work, args.size_mb)
        env = {**os.environ, "LAMINA_ROOT": str(work / "store")}
        subprocess.run([*lamina, "import", str(tar), "bench:big"], check=True, env=env, stdout=subprocess.DEVNULL)
        archive = work / "save.tar"
        docker = ["docker", "-H", f"unix://{args.docker_socket}"] if args.docker_socket else None
        if docker:
            subprocess.run([*docker, "import", str(tar), "bench:big"], check=True, stdout=subprocess.DEVNULL)
        rows: dict[str, list[float]] = {}
        peak_rss = 0
        for _ in range(args.runs):
            archive.unlink(missing_ok=True)
            rows.setdefault("lamina save", []).append(timed([*lamina, "save", "-o", str(archive), "bench:big"], env)[0])
            load_env = {**os.environ, "LAMINA_ROOT": str(work / "store-load")}
            shutil.rmtree(work / "store-load", ignore_errors=True)
            seconds, rss = timed([*lamina, "load", "-i", str(archive)], load_env)
            rows.setdefault("lamina load", []).append(seconds)
            peak_rss = max(peak_rss, rss)
            rows.setdefault("sha256sum of the archive", []).append(timed(["sha256sum", str(archive)])[0])
            if docker:
                docker_archive = work / "docker.tar"
                docker_archive.unlink(missing_ok=True)
                rows.setdefault("docker save", []).append(
                    timed([*docker, "save", "-o", str(docker_archive), "bench:big"])[0])
                subprocess.run([*docker, "rmi", "bench:big"], check=True, stdout=subprocess.DEVNULL)
                rows.setdefault("docker load", []).append(timed([*docker, "load", "-i", str(docker_archive)])[0])
        from lamina.api import Client
        from lamina.oci.reference import parse_reference

        with Client(root=work / "store") as client:
            image_id = client.store.resolve("bench:big")
            for i in range(args.tags):
                client.store.tag(image_id, parse_reference(f"many/tag{i % 50}:v{i}"))
        images_runs = [timed([*lamina, "images"], env)[0] for _ in range(5)]
        help_runs = [timed([*lamina, "--help"], env)[0] for _ in range(5)]
        print(f"image: {args.size_mb} MB, archive {archive.stat().st_size / 1e6:.0f} MB, runs={args.runs}")
        print("| operation | median s |")
        print("|---|---|")
        for name, values in rows.items():
            print(f"| {name} | {statistics.median(values):.2f} |")
        print(f"| lamina images ({args.tags} tags) | {statistics.median(images_runs):.3f} |")
        print(f"| lamina --help | {statistics.median(help_runs):.3f} |")
        print(f"peak RSS of lamina load: {peak_rss / 1024:.0f} MB")
        if docker:
            subprocess.run([*docker, "rmi", "bench:big"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
