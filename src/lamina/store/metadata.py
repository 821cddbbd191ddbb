"""Metadata in SQLite (WAL): the connection every owner's rows go through (tables: store/schema.py).

Content (blobs) is the truth; these tables say which blobs form which image and which names
point at it. Several lamina processes may share one store: every write is a transaction
(``BEGIN IMMEDIATE``) and readers never block writers.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lamina.store.schema import SCHEMA_VERSION, migrate

__all__ = ["SCHEMA_VERSION", "Metadata"]


class Metadata:
    """A connection to ``metadata.db``; one per Store object, one per thread."""

    def __init__(self, path: Path):
        self.path = path
        self.connection = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        self.connection.row_factory = sqlite3.Row
        self._lock = threading.RLock()  # one connection, shared by a command's worker threads
        self.connection.execute("PRAGMA busy_timeout=60000")
        if self.connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA foreign_keys=ON")
        try:
            migrate(self.connection, str(path))  # every table, declared in store/schema.py
        except BaseException:
            self.connection.close()
            raise

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken up front so concurrent writers queue instead of failing."""
        with self._lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.connection.execute(sql, params).fetchall()

    def close(self) -> None:
        self.connection.close()
