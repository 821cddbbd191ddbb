"""ThreadedSink: the bytes of a layer reach the blob writer in order, and its errors are not lost."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from lamina.layer.sink import ThreadedSink


class Recorder:
    def __init__(self, fail_at: int | None = None):
        self.chunks: list[bytes] = []
        self.threads: set[str] = set()
        self.fail_at = fail_at

    def write(self, data: bytes) -> int:
        self.threads.add(threading.current_thread().name)
        if self.fail_at is not None and len(self.chunks) == self.fail_at:
            raise OSError(28, "No space left on device")
        self.chunks.append(data)
        return len(data)


def test_bytes_arrive_in_order_on_another_thread() -> None:
    target = Recorder()
    pieces = [os.urandom(n) for n in (1, 512, 70_000, 1 << 20, 3)] * 20
    buffer = bytearray()
    with ThreadedSink(target) as sink:
        for piece in pieces:
            buffer[:] = piece  # the caller reuses its buffer: the sink must have copied it
            sink.write(buffer)
    assert hashlib.sha256(b"".join(target.chunks)).digest() == hashlib.sha256(b"".join(pieces)).digest()
    assert target.threads == {"layer-sink"}


def test_a_failing_target_fails_the_writer_without_hanging() -> None:
    target = Recorder(fail_at=3)
    with pytest.raises(OSError, match="No space left"):
        with ThreadedSink(target, depth=2) as sink:
            for _ in range(1000):
                sink.write(b"x" * 4096)
    assert len(target.chunks) == 3


def test_the_producers_own_error_is_the_one_raised() -> None:
    target = Recorder(fail_at=0)
    with pytest.raises(ValueError, match="walk failed"):
        with ThreadedSink(target) as sink:
            sink.write(b"data")
            raise ValueError("walk failed")
