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

__all__ = ["LogEntry", "LogWriter", "format_nano", "format_nano_fixed", "parse_since", "read_log", "rotated_path"]

_MAX_LINE = 16 * 1024


class LogEntry(namedtuple("LogEntry", "stream text time_ns")):
    # stream: str; text: str; time_ns: int
    __slots__ = ()


class LogWriter:
    """Appends lines of the container's streams to one json-file log.

    ``max_size`` (bytes, 0: no limit) and ``max_files`` are docker's ``--log-opt max-size`` and
    ``max-file``: when a write would pass the limit the log is rotated (``json.log`` →
    ``json.log.1`` → … ; the oldest beyond ``max_files`` is dropped; with one file the log starts
    over). ``enabled`` False is docker's ``none`` driver: nothing is kept."""

    def __init__(self, path: Path, *, max_size: int = 0, max_files: int = 1, enabled: bool = True):
        self._path = path
        self._max_size, self._max_files = max_size, max(1, max_files)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640) if enabled else -1
        self._size = os.fstat(self._fd).st_size if enabled else 0
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
            self._append(records)

    def close(self) -> None:
        """Write what is left of unfinished lines, then close."""
        now = time.time_ns()
        rest = [_record(stream, data, now) for stream, data in self._pending.items() if data]
        self._pending.clear()
        if rest:
            self._append(rest)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _append(self, records: list[bytes]) -> None:
        if self._fd < 0:
            return
        if not self._max_size:
            self._size += os.write(self._fd, b"".join(records))
            return
        batch: list[bytes] = []
        batch_size = 0
        for record in records:  # a rotation falls between two messages, as docker's
            if self._size + batch_size + len(record) > self._max_size and self._size + batch_size:
                if batch:
                    os.write(self._fd, b"".join(batch))
                    batch, batch_size = [], 0
                self._rotate()
            batch.append(record)
            batch_size += len(record)
        if batch:
            os.write(self._fd, b"".join(batch))
            self._size += batch_size

    def _rotate(self) -> None:
        os.close(self._fd)
        if self._max_files > 1:
            for index in range(self._max_files - 1, 0, -1):
                older = rotated_path(self._path, index - 1)
                if older.exists():
                    os.replace(older, rotated_path(self._path, index))
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | (os.O_TRUNC if self._max_files == 1 else 0)
        self._fd = os.open(self._path, flags, 0o640)
        self._size = 0


def rotated_path(path: Path, index: int) -> Path:
    """The log file ``index`` rotations old (0: the live one), as docker names them."""
    return path if index == 0 else path.with_name(f"{path.name}.{index}")


def _rotated_entries(path: Path, since_ns: int, until_ns: int) -> list[LogEntry]:
    """The entries of the rotated files, oldest first (bounded by the rotation limits)."""
    entries: list[LogEntry] = []
    index = 1
    while rotated_path(path, index).exists():
        index += 1
    for older in range(index - 1, 0, -1):
        try:
            with open(rotated_path(path, older), "rb") as handle:
                for line in handle:
                    entry = _parse(line)
                    if entry is not None and entry.time_ns >= since_ns and not (until_ns and entry.time_ns > until_ns):
                        entries.append(entry)
        except FileNotFoundError:
            continue  # rotated away while we read
    return entries


def read_log(path: Path, *, tail: int | None = None, since_ns: int = 0, until_ns: int = 0,
             follow: Callable[[], bool] | None = None, poll: float = 0.1) -> Iterator[LogEntry]:
    """Entries of the log in order. ``tail``: only the last N lines; ``follow``: keep reading new
    lines while it returns True (it is asked after each quiet spell)."""
    older = _rotated_entries(path, since_ns, until_ns) if rotated_path(path, 1).exists() else []
    try:
        handle = open(path, "rb")  # noqa: SIM115 - kept open across yields
    except FileNotFoundError:
        yield from older[-tail:] if tail else ([] if tail == 0 else older)
        return
    with handle:
        if tail is not None:
            _seek_last_lines(handle, tail)
            if older and tail > 0:  # the live file holds fewer than ``tail`` lines: the rest from older files
                current = handle.tell()
                missing = tail - sum(1 for _ in handle)
                handle.seek(current)
                if missing > 0:
                    yield from older[max(0, len(older) - missing):]
        else:
            yield from older
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
