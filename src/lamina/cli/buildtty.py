"""``lamina build --progress=tty``: a live display of the build, like BuildKit's, on stderr.

::

    [+] Building 41.3s (4/8)
     => [internal] load build context                                     0.0s
     => => transferring context: 2.35kB                                   0.0s
     => [1/8] FROM debian:bookworm                                        0.0s
     => CACHED [2/8] RUN apt-get update && apt-get install -y python3     0.0s
     => [3/8] RUN pip3 install -r requirements.txt                       12.7s
     => => # Collecting flask

One line per step with its state and elapsed time; under the running step, the last lines of
its output. :class:`BuildView` is the model: build events update it, and it renders itself as
lines at any moment. :class:`LiveBuild` lets rich redraw it on its own thread (8 times a
second, so the running step's time ticks). A replayed no-op rebuild prints the final frame
with :func:`replay`, which never imports rich.
"""

from __future__ import annotations

import re
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence

from lamina import TYPE_CHECKING

if TYPE_CHECKING:
    from lamina.build import events

TAIL_LINES = 6  # output lines shown under a running step (as BuildKit does)
_ERROR_LINES = 20  # kept per step for the block printed after a failed step
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _Step:
    """One row of the display (a plain class: a replayed no-op rebuild should not wait for
    the dataclasses module)."""

    __slots__ = ("label", "started", "ended", "counted", "cached", "failed", "details", "tail", "partial")

    def __init__(self, label: str, started: float, ended: float | None = None, counted: bool = True):
        self.label, self.started, self.ended = label, started, ended
        self.counted = counted  # a Dockerfile step (vs. the context and export lines)
        self.cached = False
        self.failed = ""  # "ERROR" or "CANCELED"
        self.details: list[str] = []  # " => => " lines: context size, image, names
        self.tail: deque[str] = deque(maxlen=_ERROR_LINES)
        self.partial = ""  # output after the last newline

    def output(self, data: bytes) -> None:
        text = self.partial + data.decode("utf-8", "replace")
        *complete, self.partial = text.split("\n")
        for line in complete:
            self.tail.append(_printable(line))

    def last_lines(self, count: int) -> list[str]:
        lines = list(self.tail)
        if self.partial:
            lines.append(_printable(self.partial))
        return [line for line in lines if line.strip()][-count:]


class BuildView:
    """What the display shows, fed by build events (thread-safe)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._ended: float | None = None
        self._failed = False
        self._steps: list[_Step] = []
        self._current: _Step | None = None
        self._total = 0
        self._done = 0
        self.warnings: list[str] = []

    def __call__(self, event: events.BuildEvent) -> None:
        with self._lock:
            self._handle(event)

    def finish(self, *, failed: str = "") -> None:
        """Stop the clocks; ``failed`` ("ERROR", "CANCELED") marks the steps still running."""
        with self._lock:
            now = self._clock()
            self._ended = now
            self._failed = bool(failed)
            for step in self._steps:
                if step.ended is None:
                    step.ended = now
                    step.failed = failed

    def failed_step(self) -> tuple[str, list[str]] | None:
        """The step that failed and its last output lines, for the block after the display."""
        with self._lock:
            for step in self._steps:
                if step.failed == "ERROR":
                    return step.label, step.last_lines(_ERROR_LINES)
        return None

    def lines(self, width: int) -> list[tuple[str, str]]:
        """The display as ``(text, style)`` lines no wider than ``width``."""
        with self._lock:
            now = self._clock() if self._ended is None else self._ended
            state = ""
            if self._ended is not None and not self._failed:
                state = " FINISHED"
            out = [(f"[+] Building {now - self._started:.1f}s ({self._done}/{self._total}){state}", "bold")]
            for step in self._steps:
                seconds = 0.0 if step.cached else (step.ended or now) - step.started
                prefix = f"{step.failed} " if step.failed else "CACHED " if step.cached else ""
                style = "red" if step.failed else "blue" if step.ended is not None else "bold"
                out.append((_row(f" => {prefix}{step.label}", seconds, width), style))
                for detail in step.details:
                    out.append((_row(f" => => {detail}", 0.0, width), style))
                if step.ended is None or step.failed:
                    for line in step.last_lines(TAIL_LINES):
                        out.append((_clip(f" => => # {line}", width), "dim"))
            return out

    # -- events ----------------------------------------------------------------------------------

    def _handle(self, event: events.BuildEvent) -> None:
        from lamina.build import events

        now = self._clock()
        if isinstance(event, events.ContextSent):
            from lamina.cli.output import human_size

            self._context_sent(human_size(event.size, 4))
        elif isinstance(event, events.StepStarted):
            self._step_started(event.number, event.total, event.text, now)
        elif isinstance(event, events.StepFinished):
            self._step_finished(event.cached, now)
        elif isinstance(event, events.TriggersRunning):
            if self._current is not None:
                self._current.details.append(f"# Executing {event.count} build trigger{'s' * (event.count > 1)}")
        elif isinstance(event, events.StepOutput):
            if self._current is not None:
                self._current.output(event.data)
        elif isinstance(event, events.BuildWarning):
            self.warnings.append(event.text)
        elif isinstance(event, events.Built):
            self._built(event.image_id, now)
        elif isinstance(event, events.Tagged):
            self._tagged(event.reference)

    def _step_started(self, number: int, total: int, text: str, now: float) -> None:
        self._close_current(now)
        self._total = total
        text = " ".join(text.split())  # one line, even for heredocs and continuations
        self._current = _Step(f"[{number}/{total}] {text}", now)
        self._steps.append(self._current)

    def _step_finished(self, cached: bool, now: float) -> None:
        if self._current is not None:
            self._current.cached = cached
            self._close_current(now)

    def _built(self, image_id: str, now: float) -> None:
        self._close_current(now)
        self._current = _Step("exporting to image", now, ended=now, counted=False)
        self._current.details.append(f"writing image {image_id}")
        self._steps.append(self._current)

    def _tagged(self, reference: str) -> None:
        if self._current is not None:
            self._current.details.append(f"naming to {reference}")

    def _close_current(self, now: float) -> None:
        step = self._current
        if step is not None and step.ended is None:
            step.ended = now
            self._done += step.counted
        self._current = None

    def _context_sent(self, size: str) -> None:
        now = self._clock()
        step = _Step("[internal] load build context", now, ended=now, counted=False)
        step.details.append(f"transferring context: {size}")
        self._steps.append(step)


class LiveBuild:
    """The build's live display: rich redraws a :class:`BuildView` on stderr until ``close``."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.view = BuildView()
        self._console = Console(file=sys.stderr, force_terminal=True)
        self._live = Live(_Renderable(self.view, self._console), console=self._console,
                          refresh_per_second=8, transient=False, redirect_stdout=False, redirect_stderr=False)
        self._started = False

    def __call__(self, event: events.BuildEvent) -> None:
        self.view(event)
        if not self._started:  # a build that fails before its first event draws nothing
            self._started = True
            self._live.start()

    def close(self, *, failed: str = "") -> None:
        """Draw the final frame and stop; after a failed step, print its last output lines."""
        self.view.finish(failed=failed)
        if self._started:
            self._live.refresh()
            self._live.stop()
        failed_step = self.view.failed_step()
        if failed_step is not None:
            label, lines = failed_step
            sys.stderr.write("------\n > " + label + ":\n" + "".join(f"{line}\n" for line in lines) + "------\n")
        for warning in self.view.warnings:
            sys.stderr.write(f"[Warning] {warning}\n")
        sys.stderr.flush()


class _Renderable:
    def __init__(self, view: BuildView, console) -> None:
        self.view = view
        self.console = console

    def __rich__(self):
        from rich.text import Text

        text = Text(no_wrap=True, overflow="crop")
        for index, (line, style) in enumerate(self.view.lines(self.console.width)):
            if index:
                text.append("\n")
            text.append(line, style=style)
        return text


def replay(transcript: Sequence[Sequence[str]], image_id: str) -> None:
    """Print the final frame of a fully cached build from its plain transcript (the fast path,
    so the view is fed directly rather than through the builder's event classes)."""
    view = BuildView(clock=lambda: 0.0)
    for _stream, text in transcript:
        if text.startswith("Sending build context to lamina "):
            view._context_sent(text.split()[-1])
        elif text.startswith("Step ") and " : " in text:
            numbers, _, instruction = text[5:].partition(" : ")
            number, _, total = numbers.partition("/")
            view._step_started(int(number), int(total), instruction, 0.0)
            view._step_finished(not instruction.upper().startswith("FROM "), 0.0)
        elif text.startswith("[Warning] "):
            view.warnings.append(text[len("[Warning] "):])
        elif text.startswith("Successfully built "):
            view._built(image_id, 0.0)
        elif text.startswith("Successfully tagged "):
            view._tagged(text[len("Successfully tagged "):])
    view.finish()
    width = shutil.get_terminal_size((80, 24)).columns
    sys.stderr.write("".join(line + "\n" for line, _ in view.lines(width)))
    for warning in view.warnings:
        sys.stderr.write(f"[Warning] {warning}\n")
    sys.stderr.flush()


def _row(label: str, seconds: float, width: int) -> str:
    """``label`` and the elapsed time right-aligned at ``width``; long labels are cut."""
    clock = f"{seconds:.1f}s"
    room = max(10, width - len(clock) - 1)
    return f"{_clip(label, room):<{room}} {clock}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."


def _printable(line: str) -> str:
    """A line of a command's output as a terminal would leave it: after the last ``\\r``, no escapes."""
    if "\r" in line:
        parts = [part for part in line.split("\r") if part]
        line = parts[-1] if parts else ""
    return _CONTROL.sub("", _ANSI.sub("", line)).expandtabs()
