"""The objects the collections hand out: an ``Image``, a ``Container``, a ``Volume``.

Each model is the inspect document of one thing (``attrs``, exactly what ``lamina inspect``
prints) plus the verbs that act on it, as in docker-py. A model does not watch its subject:
``reload()`` reads the document again. Every verb goes through the client's one
implementation of it (``image.tag(...)`` is ``client.tag(...)``), so a model adds no behaviour
of its own. Plain classes with slots: the house makes no dataclasses on start-up paths.
"""

from __future__ import annotations

import contextlib
import os

from lamina import TYPE_CHECKING
from lamina.errors import ImageNotFoundError, LaminaError
from lamina.oci.digest import short_id

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any, BinaryIO

    from lamina.client.client import Client
    from lamina.client.records import HistoryEntry
    from lamina.runtime.logs import LogEntry
    from lamina.runtime.processes import ResourceUsage
    from lamina.store.store import RemovalReport

__all__ = ["Container", "Image", "Model", "Volume"]


class Model:
    """One object of the store: its inspect document and the client that made it."""

    __slots__ = ("attrs", "client")

    def __init__(self, attrs: dict[str, Any], client: Client):
        self.attrs = attrs
        self.client = client

    @property
    def id(self) -> str:
        return self.attrs["Id"]

    @property
    def short_id(self) -> str:
        """The first 12 hex digits of the ID, as the CLI shows it."""
        return short_id(self.id)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.id == self.id  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.short_id}>"

    def reload(self) -> None:
        """Read the inspect document again (after a change made elsewhere)."""
        self.attrs = self._inspect()

    def _inspect(self) -> dict[str, Any]:
        raise NotImplementedError


class Image(Model):
    """An image of the store (``attrs``: ``lamina image inspect``'s document)."""

    __slots__ = ()

    @property
    def tags(self) -> list[str]:
        """Its names, ``repository:tag`` as docker shows them (``busybox:latest``)."""
        return [tag for tag in self.attrs.get("RepoTags") or [] if tag != "<none>:<none>"]

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.attrs.get("Config") or {}).get("Labels") or {})

    def __repr__(self) -> str:
        return f"<Image: {', '.join(repr(t) for t in self.tags) or self.short_id}>"

    def _inspect(self) -> dict[str, Any]:
        return self.client.inspect_image(self.id)

    def tag(self, repository: str, tag: str | None = None) -> Image:
        """Give it one more name (``repository`` may carry the tag); returns the image, reloaded."""
        self.client.tag(self.id, f"{repository}:{tag}" if tag else repository)
        self.reload()
        return self

    def history(self) -> list[HistoryEntry]:
        """``docker history``: newest entry first."""
        return self.client.history(self.id)

    def save(self, out: str | os.PathLike[str] | BinaryIO, *, named: bool = True) -> None:
        """Write it as a docker-archive to ``out`` (a path or a binary stream); ``named`` keeps
        its tags in the archive (else it is saved by ID, as ``docker save <id>``)."""
        names = self.tags if named and self.tags else [self.id]
        with _binary_out(out) as stream:
            self.client.save(names, stream)

    def remove(self, *, force: bool = False, prune: bool = True) -> RemovalReport:
        """``docker rmi`` of this image (every tag goes with ``force``)."""
        result = self.client.remove_images([self.id], force=force, prune=prune)[0]
        if isinstance(result, LaminaError):
            raise result
        return result

    def sbom(self, *, format: str = "cyclonedx-json") -> bytes:
        """Its software bill of materials (``cyclonedx-json``, ``spdx-json``, ``table``, ``json``)."""
        from lamina.security.sbom import sbom

        return sbom(self._spec(), root=_root_of(self.client), format=format)

    def scan(self, **options: Any):
        """Vulnerabilities, secrets and misconfigurations (``lamina.Client.scan``'s keywords);
        a ``ScanReport``."""
        return self.client.scan(self._spec(), **options)

    def _spec(self) -> str:
        """How the image readers (sbom, scan) name it: its first tag, so reports name it as
        the CLI's do, unless that tag reads as a transport (``oci:1``); else its ID."""
        from lamina.image.spec import parse_spec

        for tag in self.tags:
            if parse_spec(tag).transport == "" and self.client.store.resolve(tag) == self.id:
                return tag
        return f"store:{self.id}"


class Container(Model):
    """A container of the store (``attrs``: ``lamina container inspect``'s document)."""

    __slots__ = ()

    @property
    def name(self) -> str:
        return (self.attrs.get("Name") or "").lstrip("/")

    @property
    def status(self) -> str:
        """``created``, ``running``, ``paused``, ``restarting``, ``exited`` … as of the last reload."""
        return (self.attrs.get("State") or {}).get("Status", "")

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.attrs.get("Config") or {}).get("Labels") or {})

    @property
    def image(self) -> Image | None:
        """The image it was created from (None once that image is gone)."""
        try:
            return self.client.images.get(self.attrs["Image"])
        except ImageNotFoundError:
            return None

    def __repr__(self) -> str:
        return f"<Container: {self.short_id}>"

    def _inspect(self) -> dict[str, Any]:
        return self.client.inspect_container(self.id)

    def start(self) -> None:
        """Start it in the background (a monitor process supervises it)."""
        self.client.start_container(self.id)

    def stop(self, *, timeout: int | None = None, signal: str | None = None) -> None:
        """``signal`` (default: its StopSignal, else SIGTERM), then SIGKILL after ``timeout`` s."""
        self.client.stop_container(self.id, timeout=timeout, signal=signal)

    def restart(self, *, timeout: int | None = None, signal: str | None = None) -> None:
        self.client.restart_container(self.id, timeout=timeout, signal=signal)

    def kill(self, signal: str = "KILL") -> None:
        self.client.kill_container(self.id, signal=signal)

    def wait(self) -> int:
        """Block until it exits; its exit code (128+N for signal N)."""
        return self.client.wait_container(self.id)

    def pause(self) -> None:
        self.client.pause_container(self.id)

    def unpause(self) -> None:
        self.client.unpause_container(self.id)

    def rename(self, name: str) -> None:
        self.client.rename_container(self.id, name)
        self.reload()

    def remove(self, *, force: bool = False, v: bool = False) -> None:
        """``docker rm``: ``force`` kills a running one; ``v`` removes its anonymous volumes."""
        self.client.remove_container(self.id, force=force, volumes=v)

    def logs(self, *, follow: bool = False, tail: int | None = None, since: str | None = None,
             until: str | None = None) -> Iterator[LogEntry]:
        """Its output as ``LogEntry`` (stream, text, time_ns); ``follow`` waits for more until it stops."""
        return self.client.container_logs(self.id, follow=follow, tail=tail, since=since, until=until)

    def exec_run(self, cmd: str | Sequence[str], *, user: str | None = None, workdir: str | None = None,
                 environment: Sequence[str] = (), tty: bool = False, detach: bool = False) -> int:
        """Run ``cmd`` inside the running container; its exit code. Its output goes to this
        process's stdout and stderr (file descriptors 1 and 2)."""
        command = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return self.client.exec_in_container(self.id, command, user=user, workdir=workdir, env=list(environment),
                                             tty=tty, detach=detach)

    def top(self, ps_args: Sequence[str] = ()) -> tuple[list[str], list[list[str]]]:
        """The titles and rows of the host's ``ps`` for its processes."""
        return self.client.container_top(self.id, ps_args)

    def stats(self) -> ResourceUsage:
        """One reading of CPU, memory, network, block I/O and pids (CPU share over half a second)."""
        return self.client.container_stats([self.id])[0][1]

    def diff(self) -> list[tuple[str, str]]:
        """(``A``/``C``/``D``, path) for what it changed in its filesystem."""
        return self.client.container_changes(self.id)

    def size(self) -> dict[str, int]:
        """``SizeRw`` (bytes it wrote) and ``SizeRootFs`` (that plus its image), as ``inspect --size``."""
        return self.client.container_size(self.id)

    def ports(self) -> list[tuple[str, str, int]]:
        """(``PORT/PROTO``, host IP, host port) of its published ports while it runs."""
        return self.client.container_ports(self.id)

    def export(self, out: str | os.PathLike[str] | BinaryIO) -> None:
        """Its filesystem as a tar to ``out`` (a path or a binary stream)."""
        with _binary_out(out) as stream:
            self.client.export_container(self.id, stream)

    def get_archive(self, path: str, out: str | os.PathLike[str] | BinaryIO) -> None:
        """``path`` inside it as a tar, to ``out`` (a path or a binary stream)."""
        with _binary_out(out) as stream, _with_fileno(stream) as real_file:
            self.client.copy_from_container(self.id, path, real_file)

    def put_archive(self, path: str, data: BinaryIO) -> None:
        """Unpack the tar stream ``data`` into the directory ``path`` inside it."""
        with _readable_file(data) as real_file:
            self.client.copy_to_container(self.id, real_file, path, archive=True)

    def commit(self, repository: str | None = None, tag: str | None = None, *, changes: Sequence[str] = (),
               message: str = "", author: str = "", pause: bool = True) -> Image:
        """Its filesystem and config as a new image (tagged ``repository[:tag]`` if given)."""
        reference = f"{repository}:{tag}" if repository and tag else repository
        image_id = self.client.commit_container(self.id, reference, changes=changes, message=message,
                                                author=author, pause=pause)
        return self.client.images.get(image_id)


class Volume(Model):
    """A volume (``attrs``: ``lamina volume inspect``'s document); its ID is its name."""

    __slots__ = ()

    @property
    def id(self) -> str:
        return self.attrs["Name"]

    @property
    def name(self) -> str:
        return self.attrs["Name"]

    @property
    def short_id(self) -> str:
        return self.name[:12]

    def __repr__(self) -> str:
        return f"<Volume: {self.name!r}>"

    def _inspect(self) -> dict[str, Any]:
        return self.client.inspect_volume(self.name)

    def remove(self, *, force: bool = False) -> None:
        self.client.remove_volume(self.name, force=force)


def _root_of(client: Client) -> str | None:
    return os.fspath(client.store.root)


@contextlib.contextmanager
def _binary_out(out: str | os.PathLike[str] | BinaryIO) -> Iterator[BinaryIO]:
    """A path opened for writing (removed again if writing fails), or the stream as given."""
    if not isinstance(out, (str, os.PathLike)):
        yield out
        return
    try:
        with open(out, "wb") as stream:
            yield stream
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(out)
        raise


@contextlib.contextmanager
def _with_fileno(stream: BinaryIO) -> Iterator[BinaryIO]:
    """``stream`` if it is a file of the OS (the copy runs in a child chrooted into the
    container and writes to its descriptor), else a temporary file copied into it afterwards."""
    import io

    try:
        stream.fileno()
    except (AttributeError, io.UnsupportedOperation):
        import shutil
        import tempfile

        with tempfile.TemporaryFile() as spool:
            yield spool
            spool.seek(0)
            shutil.copyfileobj(spool, stream)
        return
    yield stream


@contextlib.contextmanager
def _readable_file(stream: BinaryIO) -> Iterator[BinaryIO]:
    """``stream`` if it is a file of the OS, else its bytes spooled to a temporary file."""
    import io

    try:
        stream.fileno()
    except (AttributeError, io.UnsupportedOperation):
        import shutil
        import tempfile

        with tempfile.TemporaryFile() as spool:
            shutil.copyfileobj(stream, spool)
            spool.seek(0)
            yield spool
        return
    yield stream
