"""Cold ``COPY . /data`` of a big context: ``lamina build`` against ``DOCKER_BUILDKIT=0 docker build``.

    python bench/build_bench.py [--context DIR] [--runs 3] [--scale 1.0]

The context is the shared big-copy workload (``../shared/bench/workloads/big-copy/gen.py``:
20,000 files, ~400 MB), generated once into --context. Both tools build ``FROM busybox`` +
``COPY . /data`` with ``--no-cache``; rounds interleave the tools (order alternating), each
timed after a ``sync``; the images are removed between rounds (not timed). lamina uses a
private store seeded with ``docker save busybox:latest``.

docker runs as a private dockerd (own data root and socket) started in its own mount namespace:
on a machine where other jobs mount and unmount overlays, the shared daemon's build mounts
can vanish mid-COPY. Needs root and the system dockerd (for the busybox image).
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
WORKLOAD = REPO.parent / "shared" / "bench" / "workloads" / "big-copy"
LAMINA = [str(REPO / ".venv" / "bin" / "lamina")] if (REPO / ".venv" / "bin" / "lamina").exists() else [
    sys.executable, "-m", "lamina"]
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", type=Path, default=Path(tempfile.gettempdir()) / "lamina-bench-bigcopy")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    options = parser.parse_args()

    context = options.context
    if not (context / "Dockerfile").exists():
        subprocess.run([sys.executable, str(WORKLOAD / "gen.py"), str(context), "--scale", str(options.scale)],
                       check=True)
        shutil.copy(WORKLOAD / "Dockerfile", context / "Dockerfile")
    scratch = Path(tempfile.mkdtemp(prefix="lamina-bench-"))
    store = scratch / "lamina"
    env = {**os.environ, "LAMINA_ROOT": str(store), "DOCKER_BUILDKIT": "0"}
    daemon = None
    try:
        base = subprocess.run([DOCKER, "save", "busybox:latest"], check=True, capture_output=True).stdout
        subprocess.run([*LAMINA, "load"], input=base, check=True, capture_output=True, env=env)
        daemon, docker = _private_dockerd(scratch / "docker")
        subprocess.run([*docker, "load"], input=base, check=True, capture_output=True)
        tools = {
            "lamina": ([*LAMINA, "build", "--no-cache", "-q", "-t", "bench/bigcopy", str(context)],
                       [[*LAMINA, "rmi", "bench/bigcopy"], [*LAMINA, "image", "prune", "-f"]]),
            "docker": ([*docker, "build", "--no-cache", "-q", "-t", "bench/bigcopy", str(context)],
                       [[*docker, "rmi", "bench/bigcopy"]]),
        }
        times: dict[str, list[float]] = {name: [] for name in tools}
        for round_index in range(options.runs):
            order = list(tools) if round_index % 2 == 0 else list(reversed(tools))
            for name in order:
                command, cleanup = tools[name]
                subprocess.run(["sync"], check=True)
                start = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, env=env)
                times[name].append(time.perf_counter() - start)
                for step in cleanup:
                    subprocess.run(step, capture_output=True, env=env)
                print(f"round {round_index + 1}: {name} {times[name][-1]:.2f} s", flush=True)
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(60)
        subprocess.run(["umount", "-R", str(scratch / "docker" / "data")], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    docker_median = statistics.median(times["docker"])
    print(f"\n{'tool':8} {'median s':>9} {'ratio':>6}  runs")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:8} {median:9.2f} {median / docker_median:6.2f}  {' '.join(f'{v:.2f}' for v in values)}")


def _private_dockerd(base: Path) -> tuple[subprocess.Popen, list[str]]:
    """A dockerd of our own, in a private mount namespace; returns it and the client command."""
    base.mkdir(parents=True)
    socket = f"unix://{base}/d.sock"
    log = open(base / "dockerd.log", "wb")  # noqa: SIM115 - lives as long as the daemon
    daemon = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "dockerd", "--host", socket, "--data-root", str(base / "data"),
         "--exec-root", str(base / "exec"), "--pidfile", str(base / "d.pid"), "--iptables=false", "--bridge=none"],
        stdout=log, stderr=log)
    client = [DOCKER, "-H", socket]
    for _ in range(120):
        if subprocess.run([*client, "info"], capture_output=True).returncode == 0:
            return daemon, client
        time.sleep(0.5)
    daemon.terminate()
    raise SystemExit("the private dockerd did not start: see " + str(base / "dockerd.log"))


if __name__ == "__main__":
    main()
