"""``lamina analyze`` against dive on the same docker-archive: wall time and peak memory.

    python bench/analyze_bench.py ARCHIVE [ARCHIVE…] [--runs 3] [--lamina "python -m lamina"]

Both tools read the archive offline (``dive --source docker-archive --ci --json``;
``lamina analyze --json docker-archive:ARCHIVE``); rounds alternate the tools. Peak memory is the
child's maximum resident set size (wait4's ru_maxrss). The JSON outputs are compared too (every
field but the layers' ``id``; equal-sized inefficient files in any order), so a fast wrong answer does not count.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lamina", default=f"{sys.executable} -m lamina")
    parser.add_argument("--dive", default=str(Path(sys.executable).parent / "dive"))
    options = parser.parse_args()
    for archive in options.archives:
        with tempfile.TemporaryDirectory() as work:
            tools = {
                "dive": [options.dive, "--source", "docker-archive", "--ci", "--json", f"{work}/dive.json",
                         str(archive)],
                "lamina": [*shlex.split(options.lamina), "analyze", "--json", f"{work}/lamina.json",
                           f"docker-archive:{archive}"],
            }
            timings: dict[str, list[tuple[float, int]]] = {name: [] for name in tools}
            for round_index in range(options.runs):
                order = list(tools) if round_index % 2 == 0 else list(reversed(tools))
                for name in order:
                    timings[name].append(_timed(tools[name], work))
            same = _comparable(Path(work, "dive.json")) == _comparable(Path(work, "lamina.json"))
        size = archive.stat().st_size / 1e6
        print(f"{archive.name} ({size:.0f} MB), {options.runs} runs, outputs equal: {same}")
        for name, runs in timings.items():
            seconds = statistics.median(run[0] for run in runs)
            peak = max(run[1] for run in runs) / 1024
            print(f"  {name:7} median {seconds:6.2f} s   peak RSS {peak:6.0f} MB")
        ratio = statistics.median(r[0] for r in timings["lamina"]) / statistics.median(r[0] for r in timings["dive"])
        print(f"  lamina/dive time: {ratio:.2f}")


def _timed(command: list[str], cwd: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss


def _comparable(path: Path) -> dict:
    document = json.loads(path.read_bytes())
    for layer in document["layer"]:
        layer.pop("id", None)
    # dive orders inefficient files of equal size with Go's unstable sort
    document["image"]["fileReference"].sort(key=lambda reference: (-reference["sizeBytes"], reference["file"]))
    return document


if __name__ == "__main__":
    main()
