"""docs/python-api.md is true: its ```python blocks run, in order, as one session against a fresh
store holding busybox, with a real registry standing in for ``localhost:5000``; and it names
every public method of every collection and model."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Lamina, require_tool

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"

# Runs each block with exec() in one namespace, so a traceback names the page's line.
DRIVER = """
import json, sys
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for line, source in blocks:
    code = compile("\\n" * (line - 1) + source, "docs/python-api.md", "exec")
    exec(code, namespace)
print("ALL BLOCKS RAN")
"""


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line of the code, code) of each ```python block."""
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
        blocks.append((text.count("\n", 0, match.start(1)) + 1, match.group(1)))
    return blocks


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not Path("/usr/bin/docker-registry").exists():
        pytest.fail("docker-registry is not installed: run 'make test' as root (it installs docker-registry)")
    from tests.registry.servers import RegistryServer

    server = RegistryServer(tmp_path_factory.mktemp("docs-registry")).start()
    yield server
    server.stop()


@pytest.mark.slow
def test_every_example_runs(tmp_path: Path, busybox_tar: Path, registry):
    if os.geteuid() != 0:
        pytest.fail("the container examples need root (overlayfs, runc, cgroups)")
    require_tool("runc", "runc")
    cli = Lamina(tmp_path / "store")
    cli.run("import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]')
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(busybox_tar, work / "rootfs.tar")
    blocks = [(line, code.replace("localhost:5000", registry.host))
              for line, code in python_blocks(DOC.read_text())]
    assert len(blocks) >= 10
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    (tmp_path / "driver.py").write_text(DRIVER)
    env = {**cli.env(), "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    try:
        result = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "blocks.json")],
                                cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.rstrip().endswith("ALL BLOCKS RAN"), result.stdout
    finally:
        for container_id in cli.out("ps", "-aq", "--no-trunc").split():
            cli.run("rm", "-f", "-v", container_id, check=False)


def test_the_page_names_every_public_method():
    import lamina

    text = DOC.read_text()
    kinds = (lamina.ImageCollection, lamina.ContainerCollection, lamina.VolumeCollection,
             lamina.RegistryCollection, lamina.SystemCollection, lamina.Image, lamina.Container, lamina.Volume)
    missing = []
    for kind in kinds:
        for name in dir(kind):
            if name.startswith("_") or name in ("attrs", "client"):
                continue
            shown = f"{name}(" if callable(getattr(kind, name)) else name
            if f"`{shown}" not in text and f".{shown}" not in text and f"`{name}`" not in text:
                missing.append(f"{kind.__name__}.{name}")
    assert missing == [], "document these in docs/python-api.md"


def test_the_page_names_every_flat_method():
    import lamina

    text = DOC.read_text()
    flat = [name for name in vars(lamina.Client) if not name.startswith("_")
            and callable(getattr(lamina.Client, name)) and name not in ("close", "container")]
    missing = [name for name in flat if f"`{name}" not in text and f" {name}" not in text and f"{name}(" not in text]
    assert missing == [], "document these flat methods in docs/python-api.md (table 'The flat names')"
