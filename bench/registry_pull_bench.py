"""Pull of a w7-like image: lamina vs skopeo, interleaved, against one local registry.

    .venv/bin/python bench/registry_pull_bench.py --rootfs DEBIAN_ROOTFS_DIR --extra DIR [--runs 5]

The image is close to the benchmark's w7 (debian + apt python3 + pip): layer 1 is a Debian
rootfs, layer 2 a tar of ``--extra`` (e.g. /usr/lib/x86_64-linux-gnu, 670 MB of real binaries,
≈265 MB gzipped, like the apt layer), layer 3 a few small files. lamina pushes it once to a
docker-registry on 127.0.0.1; then each round times, in alternating order:

- ``lamina pull`` into a store that holds only the base layer (as run.sh's w7 prepares it);
- ``lamina pull`` of the same into a completely empty store (``--cold``);
- ``skopeo copy docker://… oci:DIR`` into an empty OCI directory;

and, once per round, a no-op pull and a no-op push (everything already there). ``--baseline CMD``
adds the same pulls by another lamina (e.g. ``env PYTHONPATH=OTHER_TREE/src .venv/bin/python -m
lamina``), interleaved in the same rounds.

    .venv/bin/python bench/registry_pull_bench.py --sink LAYER.tar.gz [--runs 5]

times only the pull's per-layer pipeline in process (no registry, no store: the blob is read
from a file in 1 MiB pieces into ``_LayerSink`` as a download would feed it): wall and CPU
seconds of inflate + diffID hash + tar check. Run it with ``PYTHONPATH`` set to another tree's
``src`` to compare two versions.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(base: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    (base / "cfg.yml").write_text(
        f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {base}/data\n"
        f"http:\n  addr: 127.0.0.1:{port}\n")
    process = subprocess.Popen(["docker-registry", "serve", str(base / "cfg.yml")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, port


def timed(command: list[str], env: dict | None = None) -> float:
    subprocess.run(["sync"], check=True)
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def docker_archive(path: Path, layers: list[Path], tag: str) -> None:
    """A `docker save`-style archive of ``layers`` (plain tars), tagged ``tag``."""
    diff_ids = [sha256_file(layer) for layer in layers]
    config = {
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(layers))],
    }
    config_bytes = json.dumps(config).encode()
    with tarfile.open(path, "w") as archive:
        names = []
        for i, layer in enumerate(layers):
            names.append(f"l{i}/layer.tar")
            archive.add(layer, names[-1])
        for name, data in (("config.json", config_bytes), ("manifest.json", json.dumps(
                [{"Config": "config.json", "RepoTags": [tag], "Layers": names}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


class _NullWriter:
    def write(self, data: bytes) -> int:
        return len(data)


def sink_bench(layer: Path, runs: int) -> None:
    """The per-layer pipeline of a pull alone: wall and CPU seconds for ``layer`` (a gzip tar)."""
    import lamina
    from lamina.registry.pull import _LayerSink

    walls, cpus = [], []
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        sink = _LayerSink(_NullWriter(), "gzip")
        with open(layer, "rb") as blob:
            while piece := blob.read(1 << 20):
                sink.write(piece)
        sink.finish()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    print(f"{lamina.__file__}: {layer.stat().st_size / 1e6:.1f} MB, runs={runs}")
    print(f"wall median {statistics.median(walls):.3f} s (min {min(walls):.3f}), "
          f"CPU median {statistics.median(cpus):.3f} s (min {min(cpus):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sink", help="time only the per-layer pipeline on this gzip layer")
    parser.add_argument("--rootfs")
    parser.add_argument("--extra")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", default=None, help="scratch dir (default: a new temp dir)")
    parser.add_argument("--lamina", default=None, help="lamina command (default: this python -m lamina)")
    parser.add_argument("--baseline", default=None,
                        help="a second lamina command (e.g. another tree via env PYTHONPATH=...) whose pulls "
                             "are timed in the same rounds, interleaved")
    args = parser.parse_args()
    if args.sink:
        sink_bench(Path(args.sink), args.runs)
        return
    if not (args.rootfs and args.extra):
        parser.error("--rootfs and --extra are required (or --sink)")
    work = Path(tempfile.mkdtemp(prefix="lamina-pullbench-", dir=args.workdir))
    lamina = args.lamina.split() if args.lamina else [sys.executable, "-m", "lamina"]
    registry, port = start_registry(work)
    try:
        subprocess.run(["tar", "-C", args.rootfs, "-cf", str(work / "l1.tar"), "."], check=True)
        subprocess.run(["tar", "-C", args.extra, "-cf", str(work / "l2.tar"), "."], check=True)
        small = work / "small"
        small.mkdir()
        for i in range(20):
            (small / f"f{i}.py").write_text("print('hello')\n" * (i + 1) * 50)
        subprocess.run(["tar", "-C", str(small), "-cf", str(work / "l3.tar"), "."], check=True)
        docker_archive(work / "base.tar", [work / "l1.tar"], "bench/base:v1")
        docker_archive(work / "app.tar", [work / "l1.tar", work / "l2.tar", work / "l3.tar"], "bench/app:v1")
        ref = f"127.0.0.1:{port}/bench/app:v1"
        push_env = {**os.environ, "LAMINA_ROOT": str(work / "push")}
        subprocess.run([*lamina, "load", "-i", str(work / "app.tar")], check=True, env=push_env,
                       stdout=subprocess.DEVNULL)
        subprocess.run([*lamina, "tag", "bench/app:v1", ref], check=True, env=push_env)
        subprocess.run([*lamina, "push", "-q", ref], check=True, env=push_env, stdout=subprocess.DEVNULL)
        blobs = sorted((work / "data").rglob("data"), key=lambda p: p.stat().st_size)
        print("registry blobs (MB):", ", ".join(f"{p.stat().st_size / 1e6:.1f}" for p in blobs))
        rows: dict[str, list[float]] = {}
        tools = ["lamina", "lamina-cold", "skopeo"] + (["baseline", "baseline-cold"] if args.baseline else [])
        baseline = args.baseline.split() if args.baseline else []
        for round_number in range(args.runs):
            order = tools[round_number % len(tools):] + tools[:round_number % len(tools)]
            for tool in order:
                store = work / f"pull-{tool}-{round_number}"
                env = {**os.environ, "LAMINA_ROOT": str(store)}
                if tool == "lamina":
                    subprocess.run([*lamina, "load", "-i", str(work / "base.tar")], check=True, env=env,
                                   stdout=subprocess.DEVNULL)
                    rows.setdefault("lamina pull (base present)", []).append(timed([*lamina, "pull", ref], env))
                    rows.setdefault("lamina pull (no-op)", []).append(timed([*lamina, "pull", ref], env))
                elif tool == "lamina-cold":
                    rows.setdefault("lamina pull (empty store)", []).append(timed([*lamina, "pull", ref], env))
                elif tool == "baseline":
                    subprocess.run([*lamina, "load", "-i", str(work / "base.tar")], check=True, env=env,
                                   stdout=subprocess.DEVNULL)
                    rows.setdefault("baseline pull (base present)", []).append(timed([*baseline, "pull", ref], env))
                elif tool == "baseline-cold":
                    rows.setdefault("baseline pull (empty store)", []).append(timed([*baseline, "pull", ref], env))
                else:
                    rows.setdefault("skopeo copy → oci dir (empty)", []).append(timed(
                        ["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"oci:{store}:v1"]))
                shutil.rmtree(store, ignore_errors=True)
            rows.setdefault("lamina push (no-op)", []).append(timed([*lamina, "push", ref], push_env))
        skopeo = statistics.median(rows["skopeo copy → oci dir (empty)"])
        print(f"runs={args.runs}")
        print("| operation | median s | min s | ratio to skopeo |")
        print("|---|---|---|---|")
        for name, values in rows.items():
            median = statistics.median(values)
            print(f"| {name} | {median:.2f} | {min(values):.2f} | {median / skopeo:.2f}x |")
        for name, values in rows.items():
            print(name, " ".join(f"{v:.3f}" for v in values))
    finally:
        registry.terminate()
        registry.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
