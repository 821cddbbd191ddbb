"""What a big RUN layer costs the builder, without the network: lamina against docker's classic builder.

    python bench/big_run_bench.py --base-tar debian.tar [--runs 3] [--docker-socket /tmp/bd/d.sock]
        [--lamina "python -m lamina"] [--lamina "PYTHONPATH=/old/src python -m lamina"]

w1 and w5 spend most of their time in apt-get, whose downloads make single runs noisy. This
builds ``FROM <base>`` + ``RUN cp -a /usr /opt/usr-copy`` (a layer as big as the base's /usr,
thousands of files) + ``WORKDIR /app`` + ``RUN echo done > /app/done`` with ``--no-cache``, so the
time is the copy (the same for every tool) plus what the builder does around it: committing the
layer, making it the next step's lower layer, cleaning up. Each ``--lamina`` command gets its own
store seeded with ``--base-tar`` (a ``docker save``/``lamina save`` archive of the base image,
tagged ``bench/base``), warmed by one untimed build; docker gets the same archive. Rounds
interleave the tools (order rotated); every build is timed after a ``sync``. ``floor`` is the
same ``cp -a`` on the host, from the base's files unpacked into a temp dir.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

DOCKERFILE = "FROM bench/base\nRUN cp -a /usr /opt/usr-copy\nWORKDIR /app\nRUN echo done > /app/done\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-tar", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--docker-socket", default=None, help="a private dockerd (default: docker's default)")
    parser.add_argument("--lamina", action="append", default=None,
                        help="a lamina command (repeat to compare versions); default: python -m lamina")
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("BENCH_TMPDIR", "/var/tmp")))
    options = parser.parse_args()
    lamina_commands = options.lamina or ["python -m lamina"]
    work = Path(tempfile.mkdtemp(prefix="big-run-", dir=options.work))
    context = work / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    env = dict(os.environ)
    if options.docker_socket:
        env["DOCKER_HOST"] = f"unix://{options.docker_socket}"
    env["DOCKER_BUILDKIT"] = "0"
    try:
        tools: dict[str, list[str]] = {}
        for index, command in enumerate(lamina_commands):
            name = f"lamina{index + 1}" if len(lamina_commands) > 1 else "lamina"
            store = work / f"store-{index}"
            tools[name] = ["env", f"LAMINA_ROOT={store}", *shlex.split(command)]
            _check([*tools[name], "load", "-i", str(options.base_tar)], env)
            _check([*tools[name], "tag", _loaded_name(options.base_tar), "bench/base"], env)
            _check([*tools[name], "build", "-q", "--network", "host", str(context)], env)  # warm: unpack the base
        tools["docker"] = ["docker"]
        _check(["docker", "load", "-i", str(options.base_tar)], env)
        _check(["docker", "tag", _loaded_name(options.base_tar), "bench/base"], env)
        times: dict[str, list[float]] = {name: [] for name in [*tools, "floor"]}
        names = list(tools)
        for round_number in range(options.runs):
            for offset in range(len(names)):
                name = names[(offset + round_number) % len(names)]
                times[name].append(_timed([*tools[name], "build", "-q", "--no-cache", "--network", "host",
                                           "-t", f"bench/big-run-{name}", str(context)], env))
            times["floor"].append(_floor(options.base_tar, work))
            print(f"round {round_number + 1}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()), flush=True)
        reference = statistics.median(times["docker"])
        print(f"\nmedian wall seconds of {options.runs} rounds (ratio to docker's classic builder)")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"{name:9} {median:7.2f}  ({median / reference:.2f}x)")
    finally:
        subprocess.run(["docker", "rmi", "-f", "bench/big-run-docker"], env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def _loaded_name(archive: Path) -> str:
    """The first image name in a saved archive's manifest.json."""
    import json
    import tarfile

    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        return json.load(member)[0]["RepoTags"][0]


def _check(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.strip()[-500:]}")


def _timed(command: list[str], env: dict[str, str]) -> float:
    os.sync()
    started = time.perf_counter()
    _check(command, env)
    return time.perf_counter() - started


def _floor(base_tar: Path, work: Path) -> float:
    """``cp -a`` of the base's /usr on the host: what the RUN itself costs."""
    root = work / "floor"
    if not root.exists():
        root.mkdir()
        _unpack_usr(base_tar, root)
    shutil.rmtree(work / "floor-copy", ignore_errors=True)
    os.sync()
    started = time.perf_counter()
    subprocess.run(["cp", "-a", str(root / "usr"), str(work / "floor-copy")], check=True)
    return time.perf_counter() - started


def _unpack_usr(base_tar: Path, root: Path) -> None:
    import json
    import tarfile

    with tarfile.open(base_tar) as archive:
        member = archive.extractfile("manifest.json")
        assert member is not None
        for layer in json.load(member)[0]["Layers"]:
            blob = archive.extractfile(layer)
            assert blob is not None
            with tarfile.open(fileobj=blob, mode="r|*") as layer_tar:
                layer_tar.extractall(root, filter="tar")  # whiteouts do not matter for one base layer


if __name__ == "__main__":
    main()
