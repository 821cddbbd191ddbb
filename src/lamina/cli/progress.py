"""Per-blob transfer progress like docker's: a live display on a terminal, plain lines otherwise.

The API emits TransferEvents; this module is the only place that draws them. rich is
imported only when stdout is a terminal.
"""

from __future__ import annotations

import sys
import threading

# The statuses that only count bytes: drawn as bars on a terminal, left out of plain output
# (docker's non-TTY pull and push print status changes only).
_BYTE_COUNTERS = ("Downloading", "Pushing")


class PlainProgress:
    """docker's non-TTY output: one line per status change of each blob, no byte counters."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet

    def __call__(self, event) -> None:
        if self.quiet or event.status in _BYTE_COUNTERS:
            return
        sys.stdout.write(f"{event.id}: {event.status}\n" if event.id else f"{event.status}\n")
        sys.stdout.flush()

    def close(self) -> None:
        pass


class LiveProgress:
    """One row per blob, rewritten in place, with a bar while bytes move."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self._rows: dict[str, tuple[str, int, int | None]] = {}
        self._lock = threading.Lock()
        self._console = Console()
        self._live = Live(self._render(), console=self._console, refresh_per_second=8, transient=False)
        self._live.start()

    def __call__(self, event) -> None:
        with self._lock:
            self._rows[event.id] = (event.status, event.current, event.total)
            self._live.update(self._render())

    def _render(self):
        from rich.text import Text

        lines = Text()
        for blob, (status, current, total) in self._rows.items():
            line = f"{blob}: {status}"
            if status in _BYTE_COUNTERS and total:
                width = 30
                filled = int(width * current / total)
                line += f" [{'=' * max(0, filled - 1)}{'>' if filled else ''}{' ' * (width - filled)}] " \
                        f"{_size(current)}/{_size(total)}"
            lines.append(line + "\n")
        return lines

    def close(self) -> None:
        self._live.stop()


class Progress:
    """Routes events to a display made on first use; ``close`` ends it before other output."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self._display: PlainProgress | LiveProgress | None = None

    def __call__(self, event) -> None:
        if self._display is None:
            live = not self.quiet and sys.stdout.isatty()
            self._display = LiveProgress() if live else PlainProgress(self.quiet)
        self._display(event)

    def close(self) -> None:
        if self._display is not None:
            self._display.close()
            self._display = None


def progress_for(quiet: bool) -> Progress:
    return Progress(quiet)


def _size(value: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{value:.3g}{unit}"
        value /= 1000
    return f"{value:.3g}TB"
