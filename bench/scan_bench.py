"""lamina scan against Trivy on the same docker-archive, interleaved rounds (secret scanner by default).

    python bench/scan_bench.py --archive bookworm.tar [--runs 5] [--scanners secret]

Each round runs both tools once, in a rotated order, each writing its JSON report to /dev/null;
Trivy uses ``--cache-backend memory`` so that no round reuses a layer analysis of an earlier one.
Wall time is measured around the process, peak memory is the child's max RSS from wait4.
"""

from __future__ import annotations

import argparse
import os
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
    options = parser.parse_args()
    archive = options.archive.resolve()
    trivy = Path(sys.executable).parent / "trivy"
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as store:
        env = {**os.environ, "LAMINA_ROOT": store}
        tools = {
            "lamina": [sys.executable, "-m", "lamina", "scan", f"docker-archive:{archive}", "--scanners",
                       options.scanners, "-f", "json", "-o", os.devnull],
            "trivy": [str(trivy), "image", "--input", str(archive), "--scanners", options.scanners, "--format", "json",
                      "--offline-scan", "--skip-db-update", "--cache-backend", "memory", "-q", "-o", os.devnull],
        }
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in tools}
        names = list(tools)
        for round_number in range(options.runs):
            for name in names[round_number % len(names):] + names[:round_number % len(names)]:
                results[name].append(_timed(tools[name], env))
    for name, runs in results.items():
        seconds = [wall for wall, _ in runs]
        peak = max(rss for _, rss in runs)
        print(f"{name:8} median {statistics.median(seconds):6.2f} s  min {min(seconds):6.2f} s  "
              f"peak RSS {peak // 1024} MiB")
    ratio = statistics.median(w for w, _ in results["lamina"]) / statistics.median(w for w, _ in results["trivy"])
    print(f"lamina / trivy (median): {ratio:.2f}")


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
