"""``lamina build`` on a terminal: the live display (``--progress=tty``, and ``auto`` on a TTY).

The CLI runs on a real pseudo-terminal; what it draws is read back from the pty's master side,
frame by frame (each frame starts with the ``[+] Building`` header).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from lamina.build import events
from lamina.cli.buildtty import TAIL_LINES, BuildView
from tests.conftest import Lamina

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def cli(busybox_tar: Path, tmp_path_factory) -> Lamina:
    lamina = Lamina(tmp_path_factory.mktemp("bx-tty") / "store")
    lamina.run("import", str(busybox_tar), "busybox:latest")
    return lamina


def run_in_pty(lamina: Lamina, *args: str, timeout: float = 120) -> tuple[int, list[str]]:
    """Run the CLI with stdin/stdout/stderr on a 120-column pty; its exit code and frames (escapes removed)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "lamina", *args], stdin=slave, stdout=slave, stderr=slave,
                               env={**lamina.env(), "TERM": "xterm"}, close_fds=True)
    os.close(slave)
    data = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError as exc:
                if exc.errno == errno.EIO:  # the child closed its side
                    break
                raise
            if not chunk:
                break
            data += chunk
        code = process.wait(timeout=10)
    finally:
        process.kill()
        os.close(master)
    text = _ESCAPES.sub("", data.decode("utf-8", "replace")).replace("\r", "")
    frames = ["[+] Building" + part for part in text.split("[+] Building")[1:]]
    return code, frames or [text]


def step_seconds(frames: list[str], label: str) -> list[float]:
    """The times a step's row showed, frame by frame."""
    pattern = re.compile(r"=> (?:CACHED |ERROR )?" + re.escape(label) + r".*?\s(\d+\.\d)s$", re.MULTILINE)
    return [float(match.group(1)) for frame in frames for match in pattern.finditer(frame)]


def test_the_live_display_shows_steps_their_times_and_the_running_output(cli: Lamina, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\nRUN echo marker-one; sleep 1.5; echo marker-two\nRUN echo done > /done\n")
    iidfile = tmp_path / "iid"
    code, frames = run_in_pty(cli, "build", "--progress=tty", "-t", "bx/tty", "--iidfile", str(iidfile), str(context))
    final = frames[-1]
    assert code == 0, final
    assert re.search(r"^\[\+\] Building \d+\.\ds \(3/3\) FINISHED$", final, re.MULTILINE), final
    assert " => [1/3] FROM busybox" in final
    assert " => [3/3] RUN echo done > /done" in final
    assert "naming to bx/tty:latest" in final
    assert "Step 1/3" not in "".join(frames)  # no classic-builder lines on a terminal

    label = "[2/3] RUN echo marker-one; sleep 1.5; echo marker-two"
    shown = step_seconds(frames, label)
    assert shown[-1] >= 1.5, shown
    assert len(set(shown)) >= 3, shown  # the running step's time ticked while it ran
    running = [frame for frame in frames if "=> => # marker-one" in frame and "[3/3]" not in frame]
    assert running, "the running step's output was never shown under it"
    assert all("marker-one" not in line for line in final.splitlines() if line.startswith(" => => #"))

    image_id = iidfile.read_text()
    # The same build in plain mode finds every step in the cache the tty build left, and the same image.
    plain = cli.out("build", "--progress=plain", "-t", "bx/tty", str(context))
    assert plain.count(" ---> Using cache") == 2
    assert f"Successfully built {image_id.split(':')[1][:12]}" in plain


def test_auto_is_the_live_display_on_a_terminal_and_replays_a_cached_build(cli: Lamina, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo a > /a\nCMD [\"sh\"]\n")
    code, frames = run_in_pty(cli, "build", "-t", "bx/auto", str(context))
    assert code == 0 and "(3/3) FINISHED" in frames[-1], frames[-1]
    for _ in range(2):  # the cache, then the no-op fast path (which prints the frame without rich)
        code, frames = run_in_pty(cli, "build", "-t", "bx/auto", str(context))
        assert code == 0, frames[-1]
        assert " => CACHED [2/3] RUN echo a > /a" in frames[-1]
        assert " => CACHED [3/3] CMD [\"sh\"]" in frames[-1]
        assert "(3/3) FINISHED" in frames[-1]
    piped = cli.run("build", "-t", "bx/auto", str(context))
    assert "Step 2/3 : RUN echo a > /a" in piped.stdout.decode()
    assert "[+] Building" not in piped.stdout.decode() + piped.stderr.decode()


def test_a_failing_step_is_marked_and_its_output_printed(cli: Lamina, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo about-to-fail; exit 3\n")
    code, frames = run_in_pty(cli, "build", "--progress=tty", str(context))
    final = frames[-1]
    assert code != 0
    assert " => ERROR [2/2] RUN echo about-to-fail; exit 3" in final
    assert "------\n > [2/2] RUN echo about-to-fail; exit 3:\nabout-to-fail\n------\n" in final
    errors = [line for line in final.splitlines() if line.startswith("lamina: error: ")]
    assert errors == ["lamina: error: Dockerfile:2: The command '/bin/sh -c echo about-to-fail; exit 3' "
                      "returned a non-zero code: 3"]
    assert "Traceback" not in final


def test_the_view_keeps_the_last_lines_as_a_terminal_shows_them() -> None:
    now = [100.0]
    view = BuildView(clock=lambda: now[0])
    view(events.StepStarted(1, 2, "FROM busybox"))
    view(events.StepFinished("sha256:" + "1" * 64))
    view(events.StepStarted(2, 2, "RUN long   command\n"))
    view(events.StepOutput(b"\x1b[32mgreen\x1b[0m line\n" + b"".join(b"line %d\n" % i for i in range(10))))
    view(events.StepOutput(b"progress 10%\rprogress 50%\rprogress 90%"))
    now[0] = 112.34
    lines = [text for text, _ in view.lines(60)]
    assert lines[0] == "[+] Building 12.3s (1/2)"
    assert lines[2] == f"{' => [2/2] RUN long command':<54} 12.3s"
    tail = [line[len(" => => # "):] for line in lines[3:]]
    assert tail == [f"line {i}" for i in range(5, 10)] + ["progress 90%"] and len(tail) == TAIL_LINES
    assert all(len(line) <= 60 for line in lines)
    view(events.StepFinished("sha256:" + "2" * 64))
    now[0] = 120.0
    view.finish()
    lines = [text for text, _ in view.lines(60)]
    assert lines[0] == "[+] Building 20.0s (2/2) FINISHED"
    assert lines[2].endswith(" 12.3s")  # a finished step's time stops with it
    assert not any(line.startswith(" => => #") for line in lines)  # a finished step's output is folded away


def test_a_build_that_fails_before_any_step_draws_nothing(cli: Lamina, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nFOO bar\n")
    code, frames = run_in_pty(cli, "build", "--progress=tty", str(context))
    assert code != 0
    lines = [line for line in "".join(frames).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("lamina: error: Dockerfile:2: unknown instruction: FOO"), lines
