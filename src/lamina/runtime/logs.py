"""Container logs in docker's ``json-file`` format, so tools that read docker's logs read ours.

One JSON object per line: ``{"log":"text\\n","stream":"stdout","time":"<RFC 3339, ns>"}``.
Output is cut into lines; a line longer than 16 KiB is written in 16 KiB pieces without the
newline (docker's partial messages), and a last line without newline is written as is when the
stream ends. ``time`` is Go's ``RFC3339Nano`` (trailing zeros of the fraction dropped).
"""

from __future__ import annotations

import json
import os
import time
from collections import namedtuple
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["LogEntry", "LogWriter", "format_nano", "format_nano_fixed", "parse_since", "read_log"]

_MAX_LINE = 16 * 1024


class LogEntry(namedtuple("LogEntry", "stream text time_ns")):
    # stream: str; text: str; time_ns: int
    __slots__ = ()


class LogWriter:
    """Appends lines of the container's streams to one json-file log."""

    def __init__(self, path: Path):
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._pending: dict[str, bytes] = {}

    def write(self, stream: str, data: bytes) -> None:
        """Log ``data`` read from ``stream`` (``stdout``/``stderr``); complete lines go out now."""
        buffer = self._pending.pop(stream, b"") + data
        now = time.time_ns()
        records = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0 or end - start >= _MAX_LINE:
                if len(buffer) - start >= _MAX_LINE:
                    records.append(_record(stream, buffer[start:start + _MAX_LINE], now))
                    start += _MAX_LINE
                    continue
                break
            records.append(_record(stream, buffer[start:end + 1], now))
            start = end + 1
        if start < len(buffer):
            self._pending[stream] = buffer[start:]
        if records:
            os.write(self._fd, b"".join(records))

    def close(self) -> None:
        """Write what is left of unfinished lines, then close."""
        now = time.time_ns()
        rest = [_record(stream, data, now) for stream, data in self._pending.items() if data]
        self._pending.clear()
        if rest:
            os.write(self._fd, b"".join(rest))
        os.close(self._fd)


def read_log(path: Path, *, tail: int | None = None, since_ns: int = 0, until_ns: int = 0,
             follow: Callable[[], bool] | None = None, poll: float = 0.1) -> Iterator[LogEntry]:
    """Entries of the log in order. ``tail``: only the last N lines; ``follow``: keep reading new
    lines while it returns True (it is asked after each quiet spell)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - kept open across yields
    except FileNotFoundError:
        return
    with handle:
        if tail is not None:
            _seek_last_lines(handle, tail)
        partial = b""
        while True:
            chunk = handle.readline()
            if chunk:
                partial += chunk
                if not partial.endswith(b"\n"):
                    continue  # a line still being written
                entry = _parse(partial)
                partial = b""
                if entry is None or entry.time_ns < since_ns or (until_ns and entry.time_ns > until_ns):
                    continue
                yield entry
                continue
            if follow is None:
                return
            if not follow():
                # one more pass: the writer may have added lines just before it stopped
                follow = None
                continue
            time.sleep(poll)


def format_nano(time_ns: int) -> str:
    """Go's RFC3339Nano in UTC: ``2024-05-01T10:00:00.12Z`` (no trailing zeros)."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{base}{fraction}Z"


def format_nano_fixed(time_ns: int) -> str:
    """docker logs -t: always nine fraction digits."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def parse_since(value: str, now: float | None = None) -> int:
    """docker's --since/--until: RFC 3339, Unix seconds (``1700000000.5``), or a relative
    duration (``10m``, ``1h30m``, ``45s``) counted back from now. Returns nanoseconds."""
    from lamina.errors import UsageError
    from lamina.oci.timefmt import parse_rfc3339

    now = time.time() if now is None else now
    text = value.strip()
    try:
        return int(float(text) * 1_000_000_000)
    except ValueError:
        pass
    seconds = _duration(text)
    if seconds is not None:
        return int((now - seconds) * 1_000_000_000)
    if len(text) == 10 and text[4] == "-":
        text += "T00:00:00Z"
    stamp = parse_rfc3339(text)
    if not stamp:
        raise UsageError(f"invalid time value {value!r}: use RFC 3339, Unix seconds or a duration like 10m")
    return int(stamp * 1_000_000_000)


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _duration(text: str) -> float | None:
    """Go's time.ParseDuration for the units docker users type."""
    import re

    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def _record(stream: str, data: bytes, time_ns: int) -> bytes:
    text = data.decode("utf-8", "replace")
    return (json.dumps({"log": text, "stream": stream, "time": format_nano(time_ns)}, ensure_ascii=False)
            + "\n").encode()


def _parse(line: bytes) -> LogEntry | None:
    from lamina.oci.timefmt import parse_rfc3339

    try:
        document = json.loads(line)
        stamp = document["time"]
    except (ValueError, KeyError, TypeError):
        return None
    seconds = parse_rfc3339(stamp)
    fraction = stamp.partition(".")[2].rstrip("Z")
    nanos = int(fraction.ljust(9, "0")[:9]) if fraction.isdigit() else 0
    return LogEntry(document.get("stream", "stdout"), document.get("log", ""), int(seconds) * 1_000_000_000 + nanos)


def _seek_last_lines(handle, count: int) -> None:
    """Position ``handle`` at the start of its last ``count`` lines."""
    if count <= 0:
        handle.seek(0, os.SEEK_END)
        return
    end = handle.seek(0, os.SEEK_END)
    position, found, block = end, 0, 64 * 1024
    while position > 0:
        step = min(block, position)
        position -= step
        handle.seek(position)
        data = handle.read(step)
        if position + step == end and data.endswith(b"\n"):
            data = data[:-1]
        index = len(data)
        while True:
            index = data.rfind(b"\n", 0, index)
            if index < 0:
                break
            found += 1
            if found == count:
                handle.seek(position + index + 1)
                return
    handle.seek(0)
