"""``push`` on a terminal draws byte progress per layer (``Pushing [==>   ] 1.2MB/3.1MB``) as
docker does, and leaves the counters out of plain (piped) output, as docker's non-TTY push."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys

from tests.conftest import Lamina
from tests.registry.servers import Fault


def _run_in_terminal(lamina: Lamina, *args: str, timeout: float = 120) -> tuple[int, str]:
    """The CLI with a pseudo-terminal as stdout/stderr; everything it drew, and its status."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "lamina", *args], stdin=subprocess.DEVNULL, stdout=slave,
                               stderr=slave, env={**lamina.env(), "COLUMNS": "120", "TERM": "xterm"})
    os.close(slave)
    output = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    return process.wait(timeout), output.decode("utf-8", "replace")


def test_push_on_a_terminal_shows_byte_progress_per_layer(lamina: Lamina, tmp_path, fault_proxy):
    # a layer big enough that the upload is seen in several slices
    big = tmp_path / "big"
    big.mkdir()
    (big / "blob").write_bytes(os.urandom(6 * 1024 * 1024))
    tarball = tmp_path / "big.tar"
    subprocess.run(["tar", "-C", str(big), "-cf", str(tarball), "."], check=True)
    ref = f"{fault_proxy.host}/progress/big:{os.urandom(3).hex()}"
    lamina.run("import", str(tarball), ref)
    # the upload body is read 64 KiB per 15 ms (≈ 1.5 s), so the terminal sees it move
    fault_proxy.add(Fault("PATCH", "/blobs/uploads/", "slow_request", delay=0.015))
    code, drawn = _run_in_terminal(lamina, "push", ref)
    assert code == 0, drawn
    assert re.search(r"[0-9a-f]{12}: Pushing \[[=> ]+\] [\d.]+[kM]?B/6\.\d+MB", drawn), drawn
    assert re.search(r"[0-9a-f]{12}: Pushed", drawn), drawn

    piped = lamina.out("push", ref)  # plain output: status changes only, no counters
    assert "Pushing" not in piped and "Layer already exists" in piped
