"""Which process a pid names, for good: its start time from ``/proc``."""

from __future__ import annotations

__all__ = ["process_alive", "process_start_time"]


def process_start_time(pid: int) -> int:
    """The kernel's start time of ``pid`` (clock ticks since boot), 0 if it is gone: with the
    pid it names one process for good, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return 0
    return int(text[text.rindex(b")") + 2:].split()[19])


def process_alive(pid: int, start_time: int) -> bool:
    """Whether the process ``pid`` that started at ``start_time`` still runs (any process with
    that pid when ``start_time`` is 0: not recorded)."""
    current = process_start_time(pid) if pid > 0 else 0
    return bool(current) and (not start_time or current == start_time)
