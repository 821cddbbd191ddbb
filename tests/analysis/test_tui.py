"""``lamina analyze -i`` driven through tmux as a person would: keys sent, the screen read back."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.analysis.archives import entry, write_docker_archive
from tests.conftest import require_tool

MIB = 1 << 20


class Terminal:
    """One tmux session running a command in a 150x30 terminal."""

    def __init__(self, name: str, command: str, env: dict[str, str]):
        self.tmux = require_tool("tmux", "tmux")
        self.name = name
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        subprocess.run([self.tmux, "new-session", "-d", "-s", name, "-x", "150", "-y", "30",
                        f"env {exports} {command}"], check=True)
        subprocess.run([self.tmux, "set-option", "-t", name, "remain-on-exit", "on"], check=True)

    def keys(self, *keys: str) -> None:
        subprocess.run([self.tmux, "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        return subprocess.run([self.tmux, "capture-pane", "-t", self.name, "-p"], check=True,
                              capture_output=True, text=True).stdout

    def wait_for(self, pattern: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if re.search(pattern, screen, re.MULTILINE):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} never appeared; the screen:\n{screen}")
            time.sleep(0.2)

    def dead(self) -> bool:
        return subprocess.run([self.tmux, "list-panes", "-t", self.name, "-F", "#{pane_dead}"], check=True,
                              capture_output=True, text=True).stdout.strip() == "1"

    def close(self) -> None:
        subprocess.run([self.tmux, "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def terminal(tmp_path: Path):
    layers = [[entry("bin", kind=b"5"), entry("bin/tool", b"t" * 2000, mode=0o755), entry("etc", kind=b"5"),
               entry("etc/passwd", b"root\n")],
              [entry("big", bytes(MIB)), entry("etc", kind=b"5"), entry("etc/passwd", b"root\nuser\n")],
              [entry(".wh.big")]]
    archive = write_docker_archive(tmp_path / "tui.tar", layers, ["ADD rootfs /", "RUN make big", "RUN rm big"])
    env = {"PYTHONPATH": os.pathsep.join(sys.path), "LAMINA_ROOT": str(tmp_path / "store"), "TERM": "xterm"}
    session = Terminal(f"lamina-tui-{os.getpid()}-{tmp_path.name}"[:60],
                       f"{shlex.quote(sys.executable)} -m lamina analyze -i docker-archive:{archive}", env)
    yield session
    session.close()


def test_layers_tree_marks_folding_and_quit(terminal: Terminal) -> None:
    screen = terminal.wait_for(r"Files as of layer 0")
    assert re.search(r"^\s+0\s+2\.0 kB\s+ADD rootfs /", screen, re.MULTILINE)
    assert "A   2.0 kB      tool" in screen

    terminal.keys("Down")  # layer 1: big added, passwd modified
    screen = terminal.wait_for(r"Files as of layer 1")
    assert "A   1.0 MB    big" in screen and "M     10 B      passwd" in screen
    assert "2.0 kB      tool" in screen and "A   2.0 kB      tool" not in screen  # unchanged here

    terminal.keys("Down")  # layer 2: big removed, shown where it was
    screen = terminal.wait_for(r"Files as of layer 2")
    assert "D   1.0 MB    big" in screen

    terminal.keys("a")  # only this layer's changes
    screen = terminal.wait_for(r"changes of this layer")
    assert "big" in screen and "passwd" not in screen and "tool" not in screen
    terminal.keys("a")
    terminal.wait_for(r"\(all files\)")

    terminal.keys("Tab", "Down", "Space")  # fold bin/ (the row after big)
    screen = terminal.wait_for(r"\+ bin/")
    assert "tool" not in screen and "passwd" in screen
    terminal.keys("Space")  # and unfold it
    terminal.wait_for(r"- bin/")
    assert "tool" in terminal.screen()

    terminal.keys("q")
    deadline = time.monotonic() + 10
    while not terminal.dead():
        assert time.monotonic() < deadline, terminal.screen()
        time.sleep(0.2)
