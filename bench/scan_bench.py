"""lamina scan against Trivy on the same docker-archive, interleaved rounds (secret scanner by default).

    python bench/scan_bench.py --archive bookworm.tar [--runs 5] [--scanners secret]
    python bench/scan_bench.py --archive bookworm.tar --scanners vuln --db ADVISORIES… --trivy-cache DIR

Each round runs every tool once, in a rotated order, each writing its JSON report to /dev/null;
Trivy uses ``--cache-backend memory`` so that no round reuses a layer analysis of an earlier one.
Wall time is measured around the process, peak memory is the child's max RSS from wait4.
For a vuln scan, ``--db`` files are ``lamina db import``-ed into the bench's store and
``--trivy-cache`` is a Trivy cache dir holding a DB of the same advisories (its ``db/``); the
archive is also loaded into the store and scanned there, with the store's sbom caches emptied
before each run (``lamina (store, cold)``) and as a previous run left them (``warm``).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, required=True, help="a docker-archive (lamina/docker save)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scanners", default="secret", help="scanners for both tools (vuln needs DBs)")
    parser.add_argument("--db", nargs="*", default=[], help="advisory files/dirs for lamina db import")
    parser.add_argument("--trivy-cache", type=Path, help="Trivy --cache-dir holding db/trivy.db")
    options = parser.parse_args()
    archive = options.archive.resolve()
    trivy = Path(sys.executable).parent / "trivy"
    lamina = [sys.executable, "-m", "lamina"]
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as store:
        env = {**os.environ, "LAMINA_ROOT": store}
        if options.db:
            subprocess.run([*lamina, "db", "import", *options.db], env=env, capture_output=True, check=True)
        loaded = subprocess.run([*lamina, "load", "-i", str(archive)], env=env, capture_output=True, text=True,
                                check=True).stdout
        reference = loaded.strip().splitlines()[-1].split(": ", 1)[-1]
        scan = ["scan", "--scanners", options.scanners, "-f", "json", "-o", os.devnull]
        trivy_cache = ["--cache-dir", str(options.trivy_cache)] if options.trivy_cache else []
        tools = {
            "lamina": [*lamina, *scan, f"docker-archive:{archive}"],
            "lamina (store, cold)": [*lamina, *scan, reference],
            "lamina (store, warm)": [*lamina, *scan, reference],
            "trivy": [str(trivy), "image", "--input", str(archive), "--scanners", options.scanners, "--format", "json",
                      *trivy_cache, "--offline-scan", "--skip-db-update", "--cache-backend", "memory", "-q",
                      "-o", os.devnull],
        }
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in tools}
        names = list(tools)
        cache = Path(store) / "cache"
        _timed(tools["lamina (store, warm)"], env)  # the entries the warm runs read
        for round_number in range(options.runs):
            for name in names[round_number % len(names):] + names[:round_number % len(names)]:
                if name == "lamina (store, cold)":
                    shutil.rmtree(cache, ignore_errors=True)
                elif name == "lamina (store, warm)" and not cache.is_dir():
                    _timed(tools[name], env)
                results[name].append(_timed(tools[name], env))
    for name, runs in results.items():
        seconds = [wall for wall, _ in runs]
        peak = max(rss for _, rss in runs)
        print(f"{name:20} median {statistics.median(seconds):6.2f} s  min {min(seconds):6.2f} s  "
              f"peak RSS {peak // 1024} MiB")
    trivy_median = statistics.median(w for w, _ in results["trivy"])
    for name in names[:-1]:
        print(f"{name} / trivy (median): {statistics.median(w for w, _ in results[name]) / trivy_median:.2f}")


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[0]} failed: {process.stderr.read().decode()[-500:]}")
    return elapsed, usage.ru_maxrss


if __name__ == "__main__":
    main()
