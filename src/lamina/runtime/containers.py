"""Container records: the ``containers`` table of the store's SQLite metadata, and the
container directories under ``<store>/containers/<id>``.

A row holds the fields commands filter and sort on (name, image, status, times, exit code)
plus one JSON document (Config, HostConfig, Path, Args, Mounts, port bindings) written once at
create time. The monitor of a running container holds an flock on ``<dir>/monitor.lock``; a
row that says ``running`` while nobody holds the lock belongs to a monitor that died
(SIGKILL, power loss): :meth:`ContainerStore.refresh` then asks whether the container's init
still lives and records what is true.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from pathlib import Path

from lamina import TYPE_CHECKING
from lamina.errors import ConflictError, LaminaError
from lamina.procstat import process_alive as _process_alive
from lamina.store.repos.containers import ContainerRows, NameTaken
from lamina.store.store import Store

if TYPE_CHECKING:
    from typing import Any

__all__ = ["AmbiguousContainerError", "Container", "ContainerNotFoundError", "ContainerStore", "container_runc", "discard", "new_container_id"]

ACTIVE = ("running", "paused")


class ContainerNotFoundError(LaminaError):
    """No container answers to the given name or ID."""


class AmbiguousContainerError(LaminaError):
    """An ID prefix that several containers share (never taken for an image's name)."""


class Container:
    """One container's row; ``document`` holds Config, HostConfig, Mounts… ``base`` its directory.
    A plain class: ``lamina run`` and ``ps`` load this module, and a dataclass costs a millisecond
    to make at import."""

    __slots__ = ("id", "name", "image_id", "image", "created", "status", "pid", "exit_code", "oom_killed", "error",
                 "started_at", "finished_at", "document", "base")

    def __init__(self, id: str, name: str, image_id: str, image: str, created: float, status: str, pid: int,
                 exit_code: int, oom_killed: bool, error: str, started_at: float, finished_at: float,
                 document: dict[str, Any], base: Path = Path()):
        self.id, self.name, self.image_id, self.image, self.created = id, name, image_id, image, created
        self.status, self.pid, self.exit_code, self.oom_killed, self.error = status, pid, exit_code, oom_killed, error
        self.started_at, self.finished_at, self.document, self.base = started_at, finished_at, document, base

    def __eq__(self, other: object) -> bool:
        return type(other) is Container and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Container(id={self.id!r}, name={self.name!r}, status={self.status!r})"

    @property
    def running(self) -> bool:
        return self.status in ACTIVE

    @property
    def config(self) -> dict[str, Any]:
        return self.document["Config"]

    @property
    def host_config(self) -> dict[str, Any]:
        return self.document["HostConfig"]

    @property
    def log_path(self) -> Path:
        return self.base / f"{self.id}-json.log"


def new_container_id() -> str:
    return os.urandom(32).hex()


def container_runc(store_root: Path):
    """runc with the store's state root (the one RUN steps use too: ``runtime/runc``)."""
    from lamina.runtime.runc import Runc

    return Runc(Path(store_root) / "runtime" / "runc")


class ContainerStore:
    """The containers of one store."""

    def __init__(self, store: Store):
        self.store = store
        self.root = Path(store.root) / "containers"
        self.volumes_root = Path(store.root) / "volumes"
        self.rows = ContainerRows(store.meta)

    def base(self, container_id: str) -> Path:
        return self.root / container_id

    # ----- rows -----------------------------------------------------------------------
    def insert(self, container: Container) -> None:
        """Record a new container; ConflictError (docker's wording) if the name is taken."""
        row = self._row(container)
        try:
            self.rows.insert(row)
        except NameTaken as taken:
            holder = taken.holder or "another container"
            raise ConflictError(f'Conflict. The container name "/{container.name}" is already in use by container '
                                f'"{holder}". You have to remove (or rename) that container to be able to reuse '
                                "that name.") from None

    def update(self, container_id: str, **fields: Any) -> None:
        if "document" in fields:
            fields["document"] = json.dumps(fields["document"])
        self.rows.update(container_id, fields)

    def rename(self, container: Container, name: str) -> None:
        """Give the container another name (ConflictError, docker's wording, if it is taken)."""
        try:
            self.rows.rename(container.id, name)
        except NameTaken as taken:
            holder = taken.holder or "another container"
            raise ConflictError(f'Error when allocating new name: Conflict. The container name "/{name}" is already '
                                f'in use by container "{holder}". You have to remove (or rename) that container to '
                                "be able to reuse that name.") from None
        container.name = name

    def delete(self, container_id: str) -> None:
        self.rows.delete(container_id)

    def get(self, container_id: str) -> Container | None:
        row = self.rows.get(container_id)
        return self._container(row) if row is not None else None

    def names(self) -> set[str]:
        return self.rows.names()

    def list(self) -> list[Container]:
        """Every container, newest first, with statuses made true (see :meth:`refresh`)."""
        rows = self.rows.newest_first()
        return [self.refresh(self._container(row)) for row in rows]

    def resolve(self, name_or_id: str) -> Container:
        """docker's lookup order: full ID, exact name, then a unique ID prefix."""
        key = name_or_id.strip()
        rows = self.rows.by_id_or_name(key, key.lstrip("/"))
        if len(rows) > 1:
            rows = [row for row in rows if row["id"] == key]
        if not rows and key and all(c in "0123456789abcdef" for c in key):
            rows = self.rows.by_id_prefix(key)
            if len(rows) > 1:
                raise AmbiguousContainerError(f"Multiple IDs found with provided prefix: {key}")
        if not rows:
            raise ContainerNotFoundError(f"No such container: {name_or_id}")
        return self.refresh(self._container(rows[0]))

    def using_image(self, image_id: str) -> list[Container]:
        rows = self.rows.using_image(image_id)
        return [self._container(row) for row in rows]

    # ----- liveness -------------------------------------------------------------------
    def monitor_alive(self, container_id: str) -> bool:
        """True while some process holds the container's monitor lock."""
        try:
            fd = os.open(self.base(container_id) / "monitor.lock", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def refresh(self, container: Container) -> Container:
        """Make a ``running`` row whose monitor died tell the truth.

        If the container's init still runs, it is still running (unsupervised: its exit code
        will not be known). If it is gone, the row becomes ``exited`` with exit code 255 and an
        error saying why; its runtime state and mounts are cleaned by ``rm`` or the next start.
        A ``restarting`` row whose monitor died will never restart: it is ``exited``.
        """
        if container.status == "restarting" and not self.monitor_alive(container.id):
            container.status = "exited"
            self.update(container.id, status="exited")
            return container
        if container.status not in ACTIVE or self.monitor_alive(container.id):
            return container
        if container.pid and _process_alive(container.pid, container.document.get("_PidStart", 0)):
            if not container.error:
                container.error = "monitor process died; the container runs unsupervised"
                self.update(container.id, error=container.error)
            return container
        container.status, container.exit_code = "exited", 255
        container.finished_at = container.finished_at or time.time()
        container.error = "monitor process died; exit status unknown"
        self.update(container.id, status="exited", exit_code=255, finished_at=container.finished_at,
                    error=container.error, pid=0)
        container.pid = 0
        return container

    # ----- helpers --------------------------------------------------------------------
    def _container(self, row: sqlite3.Row) -> Container:
        values = tuple(row)
        document = json.loads(values[-1])  # 200 documents: ≈ 5 ms, less than importing msgspec
        return Container(*values[:8], bool(values[8]), *values[9:12], document, self.base(values[0]))

    @staticmethod
    def _row(container: Container) -> tuple:
        return (container.id, container.name, container.image_id, container.image, container.created,
                container.status, container.pid, container.exit_code, int(container.oom_killed), container.error,
                container.started_at, container.finished_at, json.dumps(container.document))


def discard(containers: ContainerStore, container: Container, *, volumes: bool, runc_state: bool = True) -> None:
    """Remove what is left of a stopped container: runc state (unless the caller already
    runs ``runc delete``), mounts, its dir, its row and, with ``volumes``, its anonymous
    volumes. Idempotent, so a monitor's ``--rm`` and a concurrent ``rm -f`` may both run it."""
    from lamina.errors import RuntimeError_
    from lamina.runtime.mounts import remove_container_dir
    from lamina.runtime.volumes import remove_volumes

    if runc_state:
        runc = container_runc(containers.store.root)
        if (runc.state_root / container.id).exists():
            runc.delete(container.id)
    if container.base.exists() and not remove_container_dir(container.base):
        raise RuntimeError_(f"cannot remove container {container.id[:12]}: its rootfs is still mounted")
    if volumes:
        remove_volumes(container.document.get("Mounts") or [], containers.volumes_root)
    _discard_scratch(container.document.get("_Scratch") or "")
    containers.delete(container.id)


def _discard_scratch(path: str) -> None:
    """The socket dir a monitor that was killed could not remove (only a dir lamina names)."""
    if os.path.basename(path).startswith("lamina-") and os.path.isdir(path):
        from lamina.layer.treeremoval import discard_tree

        discard_tree(path)
