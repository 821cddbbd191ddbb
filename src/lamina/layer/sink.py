"""A write-only file that hands its bytes to another thread, so making a layer overlaps storing it.

Writing a layer tar is two kinds of work: walking the tree and reading files (system calls and
Python per entry) and putting the bytes away (sha256 and the write into the content store,
both of which release the GIL). :class:`ThreadedSink` runs the second on a worker thread, so on
two cores a big layer costs about the longer of the two instead of their sum.
"""

from __future__ import annotations

import queue
import threading
from typing import Protocol

__all__ = ["ThreadedSink"]

_DEPTH = 8  # chunks in flight (about 1 MiB each): bounds the memory the pipeline holds


class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


class ThreadedSink:
    """``write`` queues the bytes; a worker passes them, in order, to ``target.write``.

    Use it as a context manager: leaving it waits until every byte is written and re-raises the
    target's error, if any (later writes raise it at once, the rest of the queue is dropped).
    """

    def __init__(self, target: _Writable, *, depth: int = _DEPTH):
        self._target = target
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="layer-sink", daemon=True)
        self._thread.start()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._error is not None:
            raise self._error
        chunk = data if type(data) is bytes else bytes(data)  # the caller may reuse its buffer
        self._queue.put(chunk)
        return len(chunk)

    def flush(self) -> None:
        """Nothing to do: ``close`` (or leaving the ``with``) is what waits for the bytes."""

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> ThreadedSink:
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except BaseException:  # noqa: BLE001 - the caller's exception is the one that goes on
            pass

    def _drain(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._target.write(chunk)
                except BaseException as exc:  # noqa: BLE001 - handed to the producer
                    self._error = exc
