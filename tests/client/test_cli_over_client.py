"""The container commands go through the client (issue 13, item 3): what the CLI used to reach
into the runtime for (raw terminal of ``run -it``, ``stop --signal``, ``ps -s`` sizes) is now
the client's, and still behaves as before."""

from __future__ import annotations

import ast
import json
import os
import pty
import subprocess
import sys
import termios
import time
from pathlib import Path

import lamina
from tests.conftest import Lamina

CLI = Path(__file__).resolve().parents[2] / "src" / "lamina" / "cli"


def test_run_it_puts_the_terminal_in_raw_mode_and_restores_it(ctr_client: lamina.Client, cli: Lamina):
    master, slave = pty.openpty()
    try:
        assert termios.tcgetattr(slave)[3] & termios.ICANON
        process = subprocess.Popen([sys.executable, "-m", "lamina", "run", "-it", "--rm", "busybox", "sleep", "2"],
                                   stdin=slave, stdout=slave, stderr=slave, env=cli.env(), start_new_session=True)
        raw_seen = False
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            raw_seen = raw_seen or not termios.tcgetattr(slave)[3] & termios.ICANON
            time.sleep(0.02)
        assert process.wait(timeout=30) == 0
        assert raw_seen, "the terminal never went raw while the container ran"
        assert termios.tcgetattr(slave)[3] & termios.ICANON, "the terminal was not restored"
    finally:
        os.close(master)
        os.close(slave)


def test_stop_signal_through_the_client(ctr_client: lamina.Client, cli: Lamina):
    container = ctr_client.containers.run("busybox", "trap 'exit 5' HUP; while :; do sleep 0.1; done",
                                          detach=True)
    assert cli.out("stop", "--signal", "HUP", "-t", "10", container.id).strip() == container.id
    assert container.wait() == 5


def test_container_size_is_inspect_sizes(ctr_client: lamina.Client, cli: Lamina):
    container = ctr_client.containers.run("busybox", "head -c 5000 /bin/busybox > /blob", detach=True)
    assert container.wait() == 0
    sizes = ctr_client.container_size(container.id)
    document = json.loads(cli.out("container", "inspect", "--size", container.id))[0]
    assert sizes == {"SizeRw": document["SizeRw"], "SizeRootFs": document["SizeRootFs"]}
    assert sizes["SizeRw"] == 5000
    assert sizes["SizeRootFs"] == 5000 + ctr_client.images.get("busybox").attrs["Size"]


def test_container_commands_import_no_runtime_internals():
    """cli/containerrun.py imports only lamina's surface; cli/containers.py reaches into the
    runtime only for the helpers listed here (what is left of item 3)."""
    allowed_left = {"lamina.runtime.runflags", "lamina.runtime.signals", "lamina.runtime.ports",
                    "lamina.runtime.logs", "lamina.runtime.runconfig", "lamina.runtime.status"}
    for name, allowed in (("containerrun.py", {"lamina.runtime.runflags"}), ("containers.py", allowed_left)):
        tree = ast.parse((CLI / name).read_text())
        modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        modules |= {f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and node.module == "lamina.runtime" for alias in node.names}
        internal = {m for m in modules if m.startswith("lamina.") and not m.startswith(("lamina.cli", "lamina.errors"))
                    and m != "lamina"}
        assert internal <= allowed, (name, internal - allowed)
        assert "lamina.api" not in modules
