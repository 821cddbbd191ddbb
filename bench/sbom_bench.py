"""lamina sbom against Trivy (and optionally Syft) on the same docker-archive, interleaved rounds.

    python bench/sbom_bench.py --archive bookworm.tar [--runs 5] [--syft] [--lamina "python -m lamina"]

Each round runs every tool once, in a rotated order, each writing CycloneDX JSON to /dev/null;
Trivy uses ``--cache-backend memory`` so that no round reads a layer analysis cached by an earlier
one. Wall time is measured around the process, peak memory is the child's max RSS from wait4.
``lamina (store, cold)`` reads the same image from a store it was loaded into with the store's
per-layer walk cache emptied before each run (``<store>/cache``: what a first sbom pays, the entry
being written); ``lamina (store, warm)`` with the cache a previous run left (what every later
sbom or scan of an image with those layers pays). An archive is never cached.
"""

from __future__ import annotations

import argparse
import os
import shlex
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
    parser.add_argument("--syft", action="store_true", help="also time Syft (slow)")
    parser.add_argument("--lamina", default=f"{sys.executable} -m lamina")
    options = parser.parse_args()
    archive = options.archive.resolve()
    bin_dir = Path(sys.executable).parent
    lamina = shlex.split(options.lamina)

    with tempfile.TemporaryDirectory(prefix="sbom-bench-") as store:
        env = {**os.environ, "LAMINA_ROOT": store}
        loaded = subprocess.run([*lamina, "load", "-i", str(archive)], env=env, capture_output=True, text=True,
                                check=True).stdout
        reference = loaded.strip().splitlines()[-1].split(": ", 1)[-1]
        tools = {
            "lamina (archive)": [*lamina, "sbom", f"docker-archive:{archive}", "-f", "cyclonedx-json", "-o",
                                 os.devnull],
            "lamina (store, cold)": [*lamina, "sbom", reference, "-f", "cyclonedx-json", "-o", os.devnull],
            "lamina (store, warm)": [*lamina, "sbom", reference, "-f", "cyclonedx-json", "-o", os.devnull],
            "trivy": [str(bin_dir / "trivy"), "image", "--input", str(archive), "--format", "cyclonedx",
                      "--offline-scan", "--cache-backend", "memory", "-q", "-o", os.devnull],
        }
        if options.syft:
            tools["syft"] = [str(bin_dir / "syft"), f"docker-archive:{archive}", "-o", "cyclonedx-json", "-q"]
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in tools}
        names = list(tools)
        cache = Path(store) / "cache"
        for command in tools.values():  # one untimed warm-up each (page cache, imports)
            _measure(command, env)
        for round_index in range(options.runs):
            order = names[round_index % len(names):] + names[:round_index % len(names)]
            for name in order:
                if name == "lamina (store, cold)":
                    shutil.rmtree(cache, ignore_errors=True)
                elif name == "lamina (store, warm)" and not cache.is_dir():
                    _measure(tools[name], env)  # leave the entries the timed run reads
                results[name].append(_measure(tools[name], env))

    trivy_median = statistics.median(t for t, _ in results["trivy"])
    print(f"{archive.name}: {archive.stat().st_size / 1e6:.1f} MB, {options.runs} interleaved rounds")
    print(f"{'tool':<18} {'median s':>9} {'min s':>7} {'max s':>7} {'peak RSS MB':>12} {'vs trivy':>9}")
    for name, samples in results.items():
        times = [t for t, _ in samples]
        peak = max(rss for _, rss in samples) / 1024
        print(f"{name:<18} {statistics.median(times):>9.2f} {min(times):>7.2f} {max(times):>7.2f} {peak:>12.0f} "
              f"{statistics.median(times) / trivy_median:>8.2f}x")


def _measure(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, peak RSS KiB) of one run of ``command``, which must succeed."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed ({process.returncode}): {stderr[-2000:]}")
    return elapsed, usage.ru_maxrss


if __name__ == "__main__":
    main()
