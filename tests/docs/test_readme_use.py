"""The README's Use block, run as written in a sandbox: its own store, its registry on a free
port, the app on another, the private dockerd for its ``docker`` lines.

Substituted (and nothing else): the ports (5050, 8080) by free ones, ``/tmp/registry`` by a work
dir, ``rootfs.tar.gz`` by the busybox rootfs the suite makes, the demo's kept Debian rootfs by
the suite's cached one, ``examples/flask-app`` by its path in this checkout. The block shows two
ways to build the app: behind a TLS-intercepting proxy (``PIP_CERT`` set) the secret one runs,
else the plain one. The Flask build needs the network for apt and pip: slow.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, Docker, Lamina, cached_debian_rootfs
from tests.registry.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.registry]

PLAIN_BUILD = "lamina build -t myapp:latest examples/flask-app"
SECRET_BUILD = 'lamina build -t myapp:latest --secret id=pipcert,src="$PIP_CERT" examples/flask-app'


def use_block() -> str:
    """The first ```sh block after '## Use' in README.md, as the user reads it."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("\n## Use\n"):]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "README.md: no sh block in the Use section"
    return match.group(1)


def test_the_use_block_has_what_this_test_substitutes():
    block = use_block()
    for needle in ("rootfs.tar.gz", "~/.cache/lamina-demo/rootfs-bookworm", "examples/flask-app", ":5050",
                   ":8080:5000", "/tmp/registry", PLAIN_BUILD, SECRET_BUILD, "docker-registry serve"):
        assert needle in block, f"README.md's Use block changed: {needle!r} is gone; update this test"


def test_the_readme_use_block_runs(tmp_path: Path, busybox_tar: Path, docker: Docker):
    work = tmp_path / "work"
    work.mkdir()
    (work / "rootfs.tar.gz").write_bytes(gzip.compress(busybox_tar.read_bytes(), compresslevel=1))
    debian = cached_debian_rootfs()
    registry_port, app_port = free_port(), free_port()
    block = use_block()
    proxied = bool(os.environ.get("PIP_CERT")) and Path(os.environ["PIP_CERT"]).is_file()
    block = block.replace(PLAIN_BUILD if proxied else SECRET_BUILD, "true  # the README's other way to build")
    block = (block.replace("~/.cache/lamina-demo/rootfs-bookworm", str(debian))
             .replace("examples/flask-app", str(REPO / "examples" / "flask-app"))
             .replace(":5050", f":{registry_port}").replace(":8080:5000", f":{app_port}:5000")
             .replace("/tmp/registry", str(work / "registry")))
    # the docker lines need debian:bookworm in the private dockerd; the store is the sandbox's
    prelude = (f"docker image inspect debian:bookworm >/dev/null 2>&1 || "
               f"tar -C {debian} -c . | docker import - debian:bookworm >/dev/null\n")
    script = ("set -euo pipefail\n"
              "trap 'lamina rm -f myapp >/dev/null 2>&1; kill $(jobs -p) 2>/dev/null || true' EXIT\n"
              + prelude + block
              + f"curl -fsS --retry 30 --retry-delay 1 --retry-connrefused http://127.0.0.1:{app_port}/ "
                f"> {work / 'page'}\n")
    env = {**Lamina(tmp_path / "store").env(), "DOCKER_HOST": f"unix://{docker.socket}",
           "DOCKER_CONFIG": str(tmp_path / "docker-config"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, timeout=1500)
    output = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, output[-4000:]
    assert (work / "page").read_text() == "Hello from a lamina-built image!\n"
    assert f"localhost:{registry_port}/myapp:v1.2" in output  # push, pull and images named it
    assert "Loaded image: debian:bookworm" in output  # docker's archive read back
    assert "0 problems, clean" in output  # the block's last line, lamina fsck
