"""The ``containers`` table: one row per container (the fields commands filter and sort on, plus
one JSON document). The runtime's ``ContainerStore`` turns rows into ``Container`` objects and
owns the container directories; the image store asks here which containers use an image."""

from __future__ import annotations

import sqlite3

from lamina import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from lamina.store.metadata import Metadata

COLUMNS = ("id", "name", "image_id", "image", "created", "status", "pid", "exit_code", "oom_killed", "error",
           "started_at", "finished_at", "document")


class NameTaken(Exception):
    """The name belongs to another container (``holder``: its ID, or '' if it went meanwhile)."""

    def __init__(self, holder: str):
        super().__init__(holder)
        self.holder = holder


class ContainerRows:
    def __init__(self, meta: Metadata):
        self.meta = meta

    def insert(self, row: tuple) -> None:
        """Add a row in COLUMNS order; NameTaken if its name is in use."""
        try:
            with self.meta.transaction() as db:
                db.execute(f"INSERT INTO containers VALUES ({','.join('?' * len(COLUMNS))})", row)
        except sqlite3.IntegrityError:
            raise NameTaken(self.holder(row[1]) or "") from None

    def update(self, container_id: str, fields: dict[str, Any]) -> None:
        unknown = set(fields) - set(COLUMNS)
        if unknown:
            raise ValueError(f"containers table: no column {sorted(unknown)[0]}")
        assignments = ", ".join(f"{key}=?" for key in fields)
        with self.meta.transaction() as db:
            db.execute(f"UPDATE containers SET {assignments} WHERE id=?", (*fields.values(), container_id))

    def rename(self, container_id: str, name: str) -> None:
        """NameTaken if another container has ``name``."""
        try:
            with self.meta.transaction() as db:
                db.execute("UPDATE containers SET name=? WHERE id=?", (name, container_id))
        except sqlite3.IntegrityError:
            raise NameTaken(self.holder(name) or "") from None

    def delete(self, container_id: str) -> None:
        with self.meta.transaction() as db:
            db.execute("DELETE FROM containers WHERE id=?", (container_id,))

    def holder(self, name: str) -> str | None:
        """The ID of the container named ``name``."""
        rows = self.meta.query("SELECT id FROM containers WHERE name=?", (name,))
        return rows[0][0] if rows else None

    def get(self, container_id: str) -> sqlite3.Row | None:
        rows = self.meta.query("SELECT * FROM containers WHERE id=?", (container_id,))
        return rows[0] if rows else None

    def names(self) -> set[str]:
        return {row[0] for row in self.meta.query("SELECT name FROM containers")}

    def newest_first(self) -> list[sqlite3.Row]:
        return self.meta.query("SELECT * FROM containers ORDER BY created DESC")

    def by_id_or_name(self, container_id: str, name: str) -> list[sqlite3.Row]:
        return self.meta.query("SELECT * FROM containers WHERE id=? OR name=?", (container_id, name))

    def by_id_prefix(self, prefix: str, limit: int = 2) -> list[sqlite3.Row]:
        """Up to ``limit`` rows whose ID starts with the lowercase hex ``prefix``."""
        return self.meta.query("SELECT * FROM containers WHERE id >= ? AND id < ? LIMIT ?",
                               (prefix, prefix + "g", limit))

    def using_image(self, image_id: str) -> list[sqlite3.Row]:
        """Rows of the containers made from the image, oldest first."""
        return self.meta.query("SELECT * FROM containers WHERE image_id=? ORDER BY created", (image_id,))

    def any(self) -> bool:
        return bool(self.meta.query("SELECT 1 FROM containers LIMIT 1"))
