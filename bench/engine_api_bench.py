"""Per-request overhead of the Engine API: a ``GET /images/json`` loop on one keep-alive
connection, and ``docker run --rm --network none busybox true`` (docker 20.10's CLI), through
lamina's socket and through a private dockerd in the same run. Needs root (dockerd).

    .venv/bin/python bench/engine_api_bench.py [--rounds 2]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import Docker  # noqa: E402
from tests.service.conftest import LaminaService, make_busybox_tar  # noqa: E402
from tests.service.rawhttp import UnixHTTPConnection  # noqa: E402


def images_loop(socket_path: Path, count: int = 300) -> float:
    """Milliseconds per ``GET /images/json``."""
    connection = UnixHTTPConnection(str(socket_path))
    started = time.perf_counter()
    for _ in range(count):
        connection.request("GET", "/v1.41/images/json")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
    connection.close()
    return (time.perf_counter() - started) / count * 1000


def run_median(socket_path: Path, count: int = 10) -> float:
    """Median milliseconds of ``docker run --rm busybox true``."""
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket_path}"}
    times = []
    for _ in range(count):
        started = time.perf_counter()
        subprocess.run(["/usr/bin/docker", "run", "--rm", "--network", "none", "busybox", "true"], env=env,
                       check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    rounds = parser.parse_args().rounds
    base = Path(tempfile.mkdtemp(prefix="engine-bench-"))
    tar = make_busybox_tar(base)
    (base / "lamina").mkdir()
    (base / "docker").mkdir()
    lamina = LaminaService(base / "lamina")
    lamina.lamina("import", str(tar), "busybox:latest", "-c", 'CMD ["sh"]')
    lamina.start()
    docker = Docker(base / "docker")
    docker.start()
    docker.run("import", "-c", 'CMD ["sh"]', str(tar), "busybox:latest")
    try:
        for number in range(rounds):
            print(f"round {number}: GET /images/json  lamina {images_loop(lamina.socket):.2f} ms"
                  f"  dockerd {images_loop(docker.socket):.2f} ms")
            print(f"round {number}: run --rm true     lamina {run_median(lamina.socket):.0f} ms"
                  f"  dockerd {run_median(docker.socket):.0f} ms")
    finally:
        lamina.stop()
        docker.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
