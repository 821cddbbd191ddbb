"""Push and pull of a realistic ~0.9 GB, two-layer image: lamina vs docker (vs skopeo), interleaved.

    .venv/bin/python bench/registry_bench.py --rootfs DEBIAN_ROOTFS_DIR --extra DIR \\
        --docker-socket /tmp/bd/d.sock [--runs 3]

Layer 1 is a Debian rootfs (e.g. debootstrap --variant=minbase), layer 2 a tar of ``--extra``
(e.g. /usr/lib/x86_64-linux-gnu: real binaries that compress like an application layer).
Every push goes to a fresh, empty registry on 127.0.0.1 (so every blob is uploaded); every
pull starts from a store (or daemon) without the image. Prints medians and ratios to docker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self, base: Path):
        self.dir = Path(tempfile.mkdtemp(dir=base, prefix="reg-"))
        self.port = free_port()
        (self.dir / "cfg.yml").write_text(
            f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {self.dir}/data\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n")
        self.process = subprocess.Popen(["docker-registry", "serve", str(self.dir / "cfg.yml")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


PEAK_RSS_KB: dict[str, int] = {}


def timed(command: list[str], env: dict | None = None, label: str = "") -> float:
    """Wall seconds of one command; with a label, its peak RSS is kept too (GNU time)."""
    rss_file = tempfile.mktemp(prefix="rss-")
    prefix = ["/usr/bin/time", "-f", "%M", "-o", rss_file] if label and os.path.exists("/usr/bin/time") else []
    start = time.perf_counter()
    subprocess.run([*prefix, *command], check=True, env=env, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if prefix:
        with open(rss_file) as rss:
            PEAK_RSS_KB[label] = max(PEAK_RSS_KB.get(label, 0), int(rss.read().split()[-1]))
        os.unlink(rss_file)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rootfs", required=True)
    parser.add_argument("--extra", required=True)
    parser.add_argument("--docker-socket", required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lamina-regbench-"))
    lamina = [sys.executable, "-m", "lamina"]
    docker = ["docker", "-H", f"unix://{args.docker_socket}"]
    env = {**os.environ, "LAMINA_ROOT": str(work / "store")}
    try:
        subprocess.run(["tar", "-C", args.rootfs, "-cf", str(work / "l1.tar"), "."], check=True)
        subprocess.run(["tar", "-C", args.extra, "-cf", str(work / "l2.tar"), "."], check=True)
        # a two-layer image through lamina's own archive path: import l1, then load an archive with both
        base = subprocess.run([*lamina, "import", str(work / "l1.tar"), "bench/app:base"], check=True, env=env,
                              capture_output=True).stdout.decode().strip()
        _add_layer(work, env, lamina, base)
        image_bytes = sum((work / n).stat().st_size for n in ("l1.tar", "l2.tar"))
        subprocess.run([*lamina, "save", "-o", str(work / "app.tar"), "bench/app:v1"], check=True, env=env)
        subprocess.run([*docker, "load", "-i", str(work / "app.tar")], check=True, stdout=subprocess.DEVNULL)
        rows: dict[str, list[float]] = {}
        for round_number in range(args.runs):
            order = ["lamina", "docker"] if round_number % 2 == 0 else ["docker", "lamina"]
            for tool in order:
                registry = Registry(work)
                ref = f"127.0.0.1:{registry.port}/bench/app:v1"
                try:
                    if tool == "lamina":
                        # a fresh store each round: the push compresses every layer (cold), as docker's does
                        push_env = {**os.environ, "LAMINA_ROOT": str(work / f"push-{round_number}")}
                        subprocess.run([*lamina, "load", "-i", str(work / "app.tar")], check=True, env=push_env,
                                       stdout=subprocess.DEVNULL)
                        subprocess.run([*lamina, "tag", "bench/app:v1", ref], check=True, env=push_env)
                        rows.setdefault("lamina push", []).append(timed([*lamina, "push", ref], push_env, "lamina push"))
                        rows.setdefault("lamina push (no-op)", []).append(timed([*lamina, "push", ref], push_env))
                        shutil.rmtree(work / f"push-{round_number}", ignore_errors=True)
                        pull_env = {**os.environ, "LAMINA_ROOT": str(work / f"pull-{round_number}")}
                        rows.setdefault("lamina pull", []).append(timed([*lamina, "pull", ref], pull_env, "lamina pull"))
                        rows.setdefault("lamina pull (no-op)", []).append(timed([*lamina, "pull", ref], pull_env))
                        shutil.rmtree(work / f"pull-{round_number}", ignore_errors=True)
                    else:
                        subprocess.run([*docker, "tag", "bench/app:v1", ref], check=True)
                        rows.setdefault("docker push", []).append(timed([*docker, "push", ref]))
                        subprocess.run([*docker, "rmi", ref, "bench/app:v1"], check=True, stdout=subprocess.DEVNULL)
                        rows.setdefault("docker pull", []).append(timed([*docker, "pull", ref]))
                        subprocess.run([*docker, "tag", ref, "bench/app:v1"], check=True)
                        subprocess.run([*docker, "rmi", ref], check=True, stdout=subprocess.DEVNULL)
                        if shutil.which("skopeo"):
                            oci = work / "oci"
                            rows.setdefault("skopeo copy registry → oci dir", []).append(timed(
                                ["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"oci:{oci}:v1"]))
                            shutil.rmtree(oci, ignore_errors=True)
                finally:
                    registry.stop()
        print(f"image: 2 layers, {image_bytes / 1e6:.0f} MB uncompressed, runs={args.runs}")
        print("| operation | median s | ratio to docker |")
        print("|---|---|---|")
        docker_push = statistics.median(rows["docker push"])
        docker_pull = statistics.median(rows["docker pull"])
        for name, values in rows.items():
            median = statistics.median(values)
            ref_value = docker_push if "push" in name else docker_pull
            print(f"| {name} | {median:.2f} | {median / ref_value:.2f}x |")
        for label, kb in PEAK_RSS_KB.items():
            print(f"peak RSS of {label}: {kb / 1024:.0f} MB")
    finally:
        subprocess.run([*docker, "rmi", "bench/app:v1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


def _add_layer(work: Path, env: dict, lamina: list[str], base: str) -> None:
    """Make bench/app:v1 = base + l2.tar by writing a docker archive and loading it."""
    import hashlib
    import json
    import tarfile

    store = Path(env["LAMINA_ROOT"])
    config = json.loads((store / "blobs" / "sha256" / base.split(":")[1]).read_text())
    digest = hashlib.sha256()
    with open(work / "l2.tar", "rb") as layer:
        while chunk := layer.read(1 << 20):
            digest.update(chunk)
    config["rootfs"]["diff_ids"].append("sha256:" + digest.hexdigest())
    config["history"].append({"created": config["created"], "created_by": "COPY extra /"})
    config_bytes = json.dumps(config).encode()
    l1_id = config["rootfs"]["diff_ids"][0].split(":")[1]
    with tarfile.open(work / "two.tar", "w") as archive:
        archive.add(work / "l1.tar", f"{l1_id}/layer.tar")
        archive.add(work / "l2.tar", "l2/layer.tar")
        for name, data in (("config.json", config_bytes), ("manifest.json", json.dumps(
                [{"Config": "config.json", "RepoTags": ["bench/app:v1"],
                  "Layers": [f"{l1_id}/layer.tar", "l2/layer.tar"]}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, __import__("io").BytesIO(data))
    subprocess.run([*lamina, "load", "-i", str(work / "two.tar")], check=True, env=env, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
