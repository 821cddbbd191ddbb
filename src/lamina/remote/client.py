"""``lamina.Client(host="ssh://…")``: the Python API against another host's store.

Each call runs the remote lamina's own command over the ssh transport (one connection per
call, as the CLI's ``-H``) and reads its machine-readable output — ``inspect`` documents,
``--no-trunc`` IDs, ``logs -t`` lines — into the same ``Image`` and ``Container`` models the
local client returns, so code written for one works with the other. What is covered: images
``list``/``get``/``remove``, image ``tag``, containers ``run``/``create``/``list``/``get``
and on a container ``start``/``stop``/``kill``/``wait``/``logs``/``remove``/``reload``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from lamina.errors import ImageNotFoundError, RemoteError, UsageError
from lamina.remote.transport import SshTarget, capture_remote, parse_host

__all__ = ["RemoteClient"]


class RemoteClient:
    """A handle on the lamina store of another host, reached over ssh."""

    def __init__(self, host: str):
        self.host = host
        self.target: SshTarget = parse_host(host)
        self.images = RemoteImageCollection(self)
        self.containers = RemoteContainerCollection(self)

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open between calls (one ssh connection per call)."""

    def __repr__(self) -> str:
        return f"<RemoteClient {self.target}>"

    # ----- the calls the models make ---------------------------------------------------
    def command(self, *args: str) -> str:
        """``lamina ARGS`` over there: its stdout; its error as this library's exception."""
        try:
            return capture_remote(self.target, list(args)).decode()
        except RemoteError as exc:
            message = str(exc).removeprefix(f"{self.target}: ")
            if message.startswith("No such image"):
                raise ImageNotFoundError(message) from None
            raise

    def inspect_image(self, name: str) -> dict[str, Any]:
        return json.loads(self.command("image", "inspect", name))[0]

    def inspect_container(self, name: str) -> dict[str, Any]:
        return json.loads(self.command("container", "inspect", name))[0]

    def tag(self, source: str, target: str) -> None:
        self.command("tag", source, target)

    def start_container(self, container_id: str) -> None:
        self.command("start", container_id)

    def stop_container(self, container_id: str, *, timeout: int | None = None, signal: str | None = None) -> None:
        self.command("stop", *(["-t", str(timeout)] if timeout is not None else []),
                     *(["-s", signal] if signal else []), container_id)

    def kill_container(self, container_id: str, *, signal: str = "KILL") -> None:
        self.command("kill", "-s", signal, container_id)

    def wait_container(self, container_id: str) -> int:
        return int(self.command("wait", container_id).split()[0])

    def remove_container(self, container_id: str, *, force: bool = False, volumes: bool = False) -> None:
        self.command("rm", *(["-f"] if force else []), *(["-v"] if volumes else []), container_id)

    def container_logs(self, container_id: str, *, follow: bool = False, tail: int | None = None,
                       since: str | None = None, until: str | None = None) -> list:
        """Both streams, merged in time order by their ``logs -t`` timestamps."""
        from lamina.runtime.logs import LogEntry

        if follow:
            raise UsageError("logs(follow=True) is not supported on a remote host; poll logs() instead")
        args = ["logs", "-t", *(["--tail", str(tail)] if tail is not None else []),
                *(["--since", since] if since else []), *(["--until", until] if until else []), container_id]
        stdout, stderr = _split_streams(self, args)
        entries = [LogEntry(name, text, stamp) for name, lines in (("stdout", stdout), ("stderr", stderr))
                   for stamp, text in lines]
        entries.sort(key=lambda entry: entry.time_ns)
        return entries


class RemoteImageCollection:
    __slots__ = ("client",)

    def __init__(self, client: RemoteClient):
        self.client = client

    def list(self, name: str | None = None, *, all: bool = False, filters: Sequence[str] = ()) -> list:
        """One ``Image`` per image, in ``lamina images``' order over there."""
        args = ["images", "-q", "--no-trunc", *(["-a"] if all else [])]
        for item in filters:
            args += ["--filter", item]
        ids = list(dict.fromkeys(self.client.command(*args, *([name] if name else [])).split()))
        return self._models(ids)

    def get(self, name: str):
        from lamina.client.models import Image

        return Image(self.client.inspect_image(name), self.client)  # type: ignore[arg-type]

    def remove(self, name: str, *, force: bool = False, prune: bool = True) -> list[str]:
        """``lamina rmi`` over there: its report lines (``Untagged: …``, ``Deleted: …``)."""
        out = self.client.command("rmi", *(["-f"] if force else []), *([] if prune else ["--no-prune"]), name)
        return out.splitlines()

    def _models(self, ids: list[str]) -> list:
        from lamina.client.models import Image

        if not ids:
            return []
        documents = json.loads(self.client.command("image", "inspect", *ids))
        return [Image(document, self.client) for document in documents]  # type: ignore[arg-type]


class RemoteContainerCollection:
    __slots__ = ("client",)

    def __init__(self, client: RemoteClient):
        self.client = client

    def create(self, image: str, command: str | Sequence[str] | None = None, **options: Any):
        container_id = self.client.command("create", *_run_flags(options), image, *_command(command)).strip()
        return self.get(container_id)

    def run(self, image: str, command: str | Sequence[str] | None = None, *, detach: bool = False,
            remove: bool = False, **options: Any):
        """As the local ``containers.run``: with ``detach`` the started container, else its stdout
        as bytes (a non-zero exit raises ``ContainerError`` with its stderr)."""
        from lamina.errors import ContainerError

        if detach and remove:
            raise UsageError("remove=True cannot be combined with detach=True (use auto_remove=True)")
        container_id = self.client.command("run", "-d", *_run_flags(options), image, *_command(command)).strip()
        container = self.get(container_id)
        if detach:
            return container
        try:
            status = self.client.wait_container(container_id)
            entries = self.client.container_logs(container_id)
            if status != 0:
                argv = [container.attrs.get("Path") or "", *(container.attrs.get("Args") or [])]
                raise ContainerError(container_id, status, argv,
                                     "".join(entry.text for entry in entries if entry.stream == "stderr"))
            return "".join(entry.text for entry in entries if entry.stream == "stdout").encode()
        finally:
            if remove:
                self.client.remove_container(container_id, force=True)

    def get(self, name: str):
        from lamina.client.models import Container

        return Container(self.client.inspect_container(name), self.client)  # type: ignore[arg-type]

    def list(self, *, all: bool = False, filters: Sequence[str] = ()) -> list:
        from lamina.client.models import Container

        args = ["ps", "-q", "--no-trunc", *(["-a"] if all else [])]
        for item in filters:
            args += ["--filter", item]
        ids = self.client.command(*args).split()
        if not ids:
            return []
        documents = json.loads(self.client.command("container", "inspect", *ids))
        return [Container(document, self.client) for document in documents]  # type: ignore[arg-type]


def _command(command: str | Sequence[str] | None) -> list[str]:
    if command is None:
        return []
    if isinstance(command, str):
        return ["/bin/sh", "-c", command]
    return list(command)


def _run_flags(options: Mapping[str, Any]) -> list[str]:
    """The keyword arguments a remote run/create takes, as ``lamina run`` flags."""
    flags: list[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        if key == "name":
            flags += ["--name", str(value)]
        elif key == "auto_remove":
            flags.append("--rm")
        elif key in ("user", "workdir", "hostname", "entrypoint", "network"):
            flags += [f"--{key}", str(value)]
        elif key in ("environment", "labels"):
            items = value.items() if isinstance(value, Mapping) else [item.partition("=")[::2] for item in value]
            for item_key, item_value in items:
                flags += ["-e" if key == "environment" else "-l", f"{item_key}={item_value}"]
        elif key == "ports":  # docker-py's {"CONTAINER/proto": HOST_PORT}
            for container_port, host_port in value.items():
                flags += ["-p", f"{host_port}:{container_port}"]
        else:
            raise UsageError(f"run option {key!r} is not supported on a remote host")
    return flags


def _split_streams(client: RemoteClient, args: list[str]) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """``lamina logs -t`` over there, its stdout and stderr lines as (time_ns, text)."""
    from lamina.remote.transport import capture_remote_streams

    stdout, stderr = capture_remote_streams(client.target, args)
    return _stamped(stdout), _stamped(stderr)


def _stamped(output: bytes) -> list[tuple[int, str]]:
    from lamina.oci.timefmt import parse_rfc3339

    lines = []
    for line in output.decode(errors="replace").splitlines(keepends=True):
        stamp, _, text = line.partition(" ")
        try:
            seconds = parse_rfc3339(stamp)
        except Exception:
            seconds = 0.0
        fraction = stamp.partition(".")[2].rstrip("Z").split("+")[0].split("-")[0]
        nanos = int(fraction.ljust(9, "0")[:9]) if fraction.isdigit() else 0
        lines.append((int(seconds) * 1_000_000_000 + nanos, text))
    return lines
