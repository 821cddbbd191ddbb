"""``client.containers``: the store's containers as :class:`~lamina.client.models.Container` objects.

``create`` and ``run`` take ``lamina run``'s options as keywords (the fields of
:class:`lamina.RunOptions`: ``name``, ``env``, ``volumes``, ``network``, ``user`` …), so the
Python API and the CLI start containers from the same table of flags.
"""

from __future__ import annotations

from lamina import TYPE_CHECKING
from lamina.client.models import Container

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from lamina.client.client import Client
    from lamina.registry.transfer_events import EventSink

__all__ = ["ContainerCollection"]


class ContainerCollection:
    """The containers of one client's store."""

    __slots__ = ("client",)

    def __init__(self, client: Client):
        self.client = client

    def create(self, image: str, command: str | Sequence[str] | None = None, *,
               events: EventSink | None = None, **options: Any) -> Container:
        """``docker create``: the new (created, not started) container. The image is pulled
        per ``pull`` (``missing``, ``always``, ``never``); pull progress goes to ``events``."""
        from lamina.runtime.runconfig import RunOptions

        if isinstance(command, str):
            command = ["/bin/sh", "-c", command]
        run_options = RunOptions(command=list(command or ()), **options)
        container_id = self.client.create_container(image, run_options, events=events)
        return self.get(container_id)

    def run(self, image: str, command: str | Sequence[str] | None = None, *, detach: bool = False,
            remove: bool = False, events: EventSink | None = None, **options: Any) -> Container | bytes:
        """``docker run``. With ``detach``: the started container. Otherwise it runs to its end
        and its standard output comes back as bytes; a non-zero exit raises ``ContainerError``
        (with its stderr). ``remove`` deletes it afterwards (not with ``detach``: use
        ``auto_remove=True`` there, as ``--rm``)."""
        from lamina.errors import ContainerError, UsageError

        if detach and remove:
            raise UsageError("remove=True cannot be combined with detach=True (use auto_remove=True)")
        if not detach and options.pop("auto_remove", False):
            remove = True  # removed here once its output is read, not by its monitor before that
        container = self.create(image, command, events=events, detach=detach, **options)
        container.start()
        if detach:
            container.reload()
            return container
        try:
            exit_status = container.wait()
            stdout, stderr = [], []
            for entry in container.logs():
                (stderr if entry.stream == "stderr" else stdout).append(entry.text)
            if exit_status != 0:
                argv = [container.attrs.get("Path") or "", *(container.attrs.get("Args") or [])]
                raise ContainerError(container.id, exit_status, argv, "".join(stderr))
            return "".join(stdout).encode()
        finally:
            if remove:
                container.remove(force=True)

    def get(self, name: str) -> Container:
        """A container by ID, name or unique ID prefix (ContainerNotFoundError otherwise)."""
        return Container(self.client.inspect_container(name), self.client)

    def list(self, *, all: bool = False, filters: Sequence[str] = ()) -> list[Container]:
        """``docker ps``: running containers (``all``: every one), newest first; ``filters`` are
        docker's ``KEY=VALUE`` filters (``status=exited``, ``label=a=b``, ``name=web`` …)."""
        return [self.get(row.id) for row in self.client.list_containers(all=all, filters=filters)]

    def prune(self) -> tuple[list[str], int]:
        """``docker container prune``: the IDs of the stopped containers removed, and the bytes freed."""
        return self.client.prune_containers()
