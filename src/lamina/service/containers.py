"""``/containers/…``: create (through :mod:`lamina.service.translate`), start, stop, kill,
restart, wait, inspect, list, logs, remove, attach, prune, top, changes, export, archive,
rename, pause/unpause, resize, stats."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from typing import Any

from lamina.errors import LaminaError
from lamina.service.attach import AttachSession, follow_logs, start_attached
from lamina.service.server import ApiError, Request, frames, poll_until, route
from lamina.service.translate import image_of, run_fields

_ACTIVE = ("running", "paused")


# ----- create and lifecycle -----------------------------------------------------------------
@route("POST", "/containers/create")
def create(request: Request) -> None:
    from lamina.errors import ImageNotFoundError
    from lamina.runtime.runconfig import RunOptions

    body = request.json(default=None)
    if body is None:
        raise ApiError(400, "config cannot be empty in order to create a container")
    image = image_of(body)
    options = RunOptions(**run_fields(body, name=request.arg("name") or None, platform=request.arg("platform")))
    try:
        container_id = request.client.create_container(image, options)
    except ImageNotFoundError:
        raise ApiError(404, f"No such image: {_familiar(image)}") from None
    _event(request, "create", container_id)
    request.send_json({"Id": container_id, "Warnings": []}, status=201)


@route("GET", "/containers/json")
def list_containers(request: Request) -> None:
    client = request.client
    filters = request.filters()
    rows = [container_summary(client, c) for c in client.list_containers(all=request.flag("all"), filters=filters)]
    limit = request.int_arg("limit")
    if limit and limit > 0:
        rows = rows[:limit]
    request.send_json(rows)


@route("POST", "/containers/prune")
def prune(request: Request) -> None:
    removed, reclaimed = request.client.prune_containers()
    request.send_json({"ContainersDeleted": removed or None, "SpaceReclaimed": reclaimed})


@route("POST", "/containers/{name}/start")
def start(request: Request) -> None:
    client = request.client
    container = client.container(request.path["name"])
    if container.running:
        request.no_content(304)
        return
    sessions = request.service.pending_attach.pop(container.id, [])
    attributes = _attributes(container)  # now: a --rm container's row may be gone right after its start
    if sessions or container.host_config.get("AutoRemove"):
        # supervised by a child of ours, whose watcher publishes "die" — maybe before this
        # request could look again — so "start" goes out first; for a --rm container the exit
        # code outlives the removed row that way too (wait needs it)
        request.service.events.publish("container", "start", container.id, attributes)
        if container.host_config.get("AutoRemove"):
            _keep_ghost(request.service, client.inspect_container(container.id))
        start_attached(request.service, client, container, sessions, detached=not sessions)
    else:
        client.start_container(container.id)
        request.service.events.publish("container", "start", container.id, attributes)
    request.no_content()


@route("POST", "/containers/{name}/stop")
def stop(request: Request) -> None:
    client = request.client
    container = client.container(request.path["name"])
    if not container.running:
        request.no_content(304)
        return
    client.stop_container(container.id, timeout=request.int_arg("t", request.int_arg("timeout")))
    _event(request, "die", container.id)
    _event(request, "stop", container.id)
    request.no_content()


@route("POST", "/containers/{name}/restart")
def restart(request: Request) -> None:
    request.client.restart_container(request.path["name"], timeout=request.int_arg("t"))
    _event(request, "restart", request.path["name"])
    request.no_content()


@route("POST", "/containers/{name}/kill")
def kill(request: Request) -> None:
    client = request.client
    container = client.container(request.path["name"])
    if not container.running:
        raise ApiError(409, f"Cannot kill container: {request.path['name']}: Container {container.id} is not running")
    signal = request.arg("signal") or "KILL"
    client.kill_container(container.id, signal=signal)
    _event(request, "kill", container.id, signal=signal)
    if signal.upper().removeprefix("SIG") in ("KILL", "9"):
        # dockerd answers a SIGKILL once the container is down (inspect right after shows it)
        store = client.container_store
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            current = store.get(container.id)
            if current is None or store.refresh(current).status not in _ACTIVE:
                break
            time.sleep(0.02)
    request.no_content()


@route("POST", "/containers/{name}/pause")
def pause(request: Request) -> None:
    request.client.pause_container(request.path["name"])
    _event(request, "pause", request.path["name"])
    request.no_content()


@route("POST", "/containers/{name}/unpause")
def unpause(request: Request) -> None:
    request.client.unpause_container(request.path["name"])
    _event(request, "unpause", request.path["name"])
    request.no_content()


@route("POST", "/containers/{name}/rename")
def rename(request: Request) -> None:
    new_name = request.arg("name")
    if not new_name:
        raise ApiError(400, "name is required")
    old_name = request.client.container(request.path["name"]).name
    request.client.rename_container(request.path["name"], new_name.lstrip("/"))
    _event(request, "rename", request.path["name"], oldName="/" + old_name)
    request.no_content()


@route("POST", "/containers/{name}/resize")
def resize(request: Request) -> None:
    request.client.container(request.path["name"])  # 404 for a wrong name; sizes are not passed on
    request.send_bytes(b"")


@route("POST", "/containers/{name}/wait")
def wait(request: Request) -> None:
    """``condition``: not-running (default), next-exit, removed; the exit code as docker shows it."""
    client = request.client
    condition = request.arg("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise ApiError(400, f"invalid condition: {condition!r}")
    try:
        container = client.container(request.path["name"])
    except LaminaError:
        # a --rm container the service started may be gone already (it exited and was removed
        # before this wait came in): its exit code was kept when its supervising child saw it
        known = _removed_exit_code(request.service, request.path["name"])
        if known is None:
            raise
        writer = request.stream()
        writer.write(json.dumps({"StatusCode": known, "Error": None}).encode() + b"\n")
        writer.close()
        return
    store = client.container_store
    first_finish = container.finished_at
    last = [container]

    def done() -> bool:
        current = store.get(container.id)
        if current is None:
            return True
        current = store.refresh(current)
        last[0] = current
        exited_since = current.finished_at != first_finish  # it ended at least once meanwhile
        if condition == "removed":
            return False
        if condition == "next-exit":
            return exited_since
        # not-running: a container that its restart policy brings back counts once it ended
        return current.status not in _ACTIVE or exited_since

    # the headers go out now: docker's client waits for them before it sends ``start``
    writer = request.stream()
    if not poll_until(done, request.http.connection):
        request.http.close_connection = True
        return
    final = last[0]
    code = final.exit_code
    if store.get(container.id) is None and container.id in request.service.exit_codes:
        # removed by its attached start: the row is gone, the child process saw the exit code
        deadline = time.monotonic() + 5
        while request.service.exit_codes.get(container.id) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        code = request.service.exit_codes.get(container.id) or 0
    error = {"Message": final.error} if final.error else None
    writer.write(json.dumps({"StatusCode": code, "Error": error}).encode() + b"\n")
    writer.close()


def _removed_exit_code(service, name: str) -> int | None:
    """The exit code of a container this service started and saw removed, by full or short ID."""
    matches = [container_id for container_id in service.exit_codes if container_id.startswith(name)]
    if len(matches) != 1 or len(name) < 12:
        return None
    deadline = time.monotonic() + 5
    while service.exit_codes.get(matches[0]) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return service.exit_codes.get(matches[0])


@route("DELETE", "/containers/{name}")
def remove(request: Request) -> None:
    client = request.client
    container = client.container(request.path["name"])
    if container.running and not request.flag("force"):
        raise ApiError(409, f"You cannot remove a running container {container.id}. "
                            "Stop the container before attempting removal or force remove")
    attributes = _attributes(container)
    client.remove_container(container.id, force=request.flag("force"), volumes=request.flag("v"))
    request.service.events.publish("container", "destroy", container.id, attributes)
    request.no_content()


# ----- views ----------------------------------------------------------------------------------
@route("GET", "/containers/{name}/json")
def inspect(request: Request) -> None:
    try:
        document = request.client.inspect_container(request.path["name"])
    except LaminaError:
        document = _ghost(request.service, request.path["name"])
        if document is None:
            raise
    request.send_json(document)


# A --rm container the service started is removed the moment it exits; a client that asks about
# it right after its start (docker-py's run reads the logs, which inspects first) still finds it
# for a few seconds, as it was at its start with its exit code, rather than a 404 from the race.
_GHOST_SECONDS = 10.0


def _keep_ghost(service, document: dict) -> None:
    ghosts = service.removed_ghosts
    now = time.monotonic()
    for container_id in [k for k, (at, _doc) in ghosts.items() if now - at > _GHOST_SECONDS]:
        del ghosts[container_id]
    ghosts[document["Id"]] = (now, document)


def _ghost(service, name: str) -> dict | None:
    ghosts = service.removed_ghosts
    found = [doc for at, doc in ghosts.values()
             if len(name) >= 12 and doc["Id"].startswith(name) and time.monotonic() - at <= _GHOST_SECONDS]
    if len(found) != 1:
        return None
    code = _removed_exit_code(service, found[0]["Id"])
    state = {**found[0]["State"], "Status": "exited", "Running": False, "Pid": 0,
             "ExitCode": code if code is not None else found[0]["State"].get("ExitCode", 0)}
    return {**found[0], "State": state}


@route("GET", "/containers/{name}/logs")
def logs(request: Request) -> None:
    client = request.client
    try:
        container = client.container(request.path["name"])
    except LaminaError:
        if _ghost(request.service, request.path["name"]) is None:
            raise
        writer = request.stream("application/vnd.docker.raw-stream")  # its log went with it
        writer.close()
        return
    want = {"stdout": request.flag("stdout"), "stderr": request.flag("stderr")}
    if not any(want.values()):
        raise ApiError(400, "You must choose at least one stream")
    tail_text = request.arg("tail") or "all"
    tail = int(tail_text) if tail_text.lstrip("-").isdigit() and int(tail_text) >= 0 else None
    since, until = request.arg("since"), request.arg("until")
    tty = bool(container.config.get("Tty"))
    from lamina.runtime.logs import format_nano_fixed

    entries = client.container_logs(container.id, follow=request.flag("follow"), tail=tail,
                                    since=since if since and since != "0" else None,
                                    until=until if until and until != "0" else None)
    writer = request.stream("application/vnd.docker.raw-stream" if tty
                            else "application/vnd.docker.multiplexed-stream")
    timestamps = request.flag("timestamps")
    for entry in entries:
        if not want.get(entry.stream, False):
            continue
        data = ((format_nano_fixed(entry.time_ns) + " " if timestamps else "") + entry.text).encode(
            "utf-8", "surrogateescape")
        writer.write(data if tty else frames(entry.stream, data))
    writer.close()


@route("GET", "/containers/{name}/top")
def top(request: Request) -> None:
    ps_args = (request.arg("ps_args") or "").split()
    titles, processes = request.client.container_top(request.path["name"], ps_args)
    request.send_json({"Titles": titles, "Processes": processes})


@route("GET", "/containers/{name}/changes")
def changes(request: Request) -> None:
    kinds = {"C": 0, "A": 1, "D": 2}
    request.send_json([{"Path": path, "Kind": kinds.get(kind, 0)}
                       for kind, path in request.client.container_changes(request.path["name"])] or None)


@route("GET", "/containers/{name}/export")
def export(request: Request) -> None:
    client = request.client
    container = client.container(request.path["name"])
    writer = request.stream("application/x-tar")
    client.export_container(container.id, writer)  # type: ignore[arg-type]
    writer.close()


@route("GET", "/containers/{name}/stats")
def stats(request: Request) -> None:
    """One reading (``stream=false`` or not: docker-py's one-shot and the first frame of a stream)."""
    client = request.client
    container = client.container(request.path["name"])
    readings = client.container_stats([container.id]) if container.running else []
    usage = readings[0] if readings else None
    memory = getattr(usage, "memory", 0) or 0
    limit = getattr(usage, "memory_limit", 0) or 0
    document = {
        "read": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "id": container.id, "name": "/" + container.name,
        "pids_stats": {"current": getattr(usage, "pids", 0) or 0},
        "memory_stats": {"usage": memory, "limit": limit} if usage else {},
        "cpu_stats": {"cpu_usage": {"total_usage": int(getattr(usage, "cpu_ns", 0) or 0)}, "online_cpus": 1},
        "precpu_stats": {"cpu_usage": {"total_usage": 0}},
        "networks": {}, "blkio_stats": {},
    }
    request.send_json(document)


# ----- files ----------------------------------------------------------------------------------
@route("HEAD", "/containers/{name}/archive")
def archive_head(request: Request) -> None:
    with _archive(request) as (stat, _archive_file):
        request.send_bytes(b"", headers={"X-Docker-Container-Path-Stat": stat})


@route("GET", "/containers/{name}/archive")
def archive_get(request: Request) -> None:
    from lamina.service.server import ChunkedWriter

    with _archive(request) as (stat, archive_file):
        http = request.http
        http.send_response(200)
        http.send_header("Content-Type", "application/x-tar")
        http.send_header("X-Docker-Container-Path-Stat", stat)
        http.send_header("Transfer-Encoding", "chunked")
        http.end_headers()
        request.answered = True
        writer = ChunkedWriter(http.wfile)
        while True:
            data = archive_file.read(65536)
            if not data:
                break
            writer.write(data)
        writer.close()


@contextlib.contextmanager
def _archive(request: Request):
    """The path as ``docker cp`` copies it (volumes and mounts included), in a temporary file,
    and docker's ``X-Docker-Container-Path-Stat`` of its top entry (base64 JSON: name, size,
    mode with Go's type bits, mtime, linkTarget). The copy runs in a process inside the
    container's root and writes to a file descriptor; a file also lets the stat come first."""
    import stat as stat_module
    import tarfile
    import tempfile

    from lamina.errors import LaminaError

    path = request.arg("path")
    if not path:
        raise ApiError(400, "path is required")
    client = request.client
    container = client.container(request.path["name"])
    with tempfile.TemporaryFile() as archive_file:
        try:
            client.copy_from_container(container.id, path, archive_file)
        except LaminaError as exc:
            if "Could not find" in str(exc) or "no such file" in str(exc):
                raise ApiError(404, str(exc)) from None
            raise
        archive_file.seek(0)
        with tarfile.open(fileobj=archive_file, mode="r:") as tar:
            top = tar.next()
        if top is None:
            raise ApiError(404, f"Could not find the file {path} in container {request.path['name']}")
        mode = stat_module.S_IMODE(top.mode) | (1 << 31 if top.isdir() else 0) | (1 << 27 if top.issym() else 0)
        stat = {"name": top.name.rstrip("/").rsplit("/", 1)[-1] or "/", "size": top.size, "mode": mode,
                "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(top.mtime)), "linkTarget": top.linkname}
        archive_file.seek(0)
        yield base64.b64encode(json.dumps(stat).encode()).decode(), archive_file


@route("PUT", "/containers/{name}/archive")
def archive_put(request: Request) -> None:
    path = request.arg("path")
    if not path:
        raise ApiError(400, "path is required")
    _copy_in_through_pipe(request.client, request.path["name"], request.body_stream(), path)
    request.send_bytes(b"")


def _copy_in_through_pipe(client, name: str, body, path: str) -> None:
    """The copy reads from a process inside the container's root: the body goes through a pipe."""
    import os
    import threading

    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as sink:
            try:
                while True:
                    data = body.read(65536)
                    if not data:
                        break
                    sink.write(data)
            except OSError:
                pass  # the copy stopped reading (it failed); its error is the answer

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        with os.fdopen(read_fd, "rb") as source:
            client.copy_to_container(name, source, path, archive=True)
    finally:
        thread.join()


# ----- attach -----------------------------------------------------------------------------
@route("POST", "/containers/{name}/attach")
def attach(request: Request) -> None:
    """Before start: the session waits for ``start`` to hand it the container's streams (stdin
    too). On a running container: its new output, from the log (stdin is not connected)."""
    client = request.client
    container = client.container(request.path["name"])
    session = AttachSession(container.id, tty=bool(container.config.get("Tty")),
                            stdin=request.flag("stdin") and bool(container.config.get("OpenStdin")),
                            stdout=request.flag("stdout"), stderr=request.flag("stderr"))
    include_logs = request.flag("logs")
    stream = request.flag("stream")
    if container.running or not stream:
        connection = request.hijack()
        # docker-py reads the 101 through a buffered reader and the stream from the raw
        # socket: bytes sent together with the 101 would be lost in that buffer
        time.sleep(0.05)
        follow_logs(client, container, session, connection, past=include_logs, follow=stream)
        return
    # registered before the 101 goes out: the client sends ``start`` as soon as it reads it
    request.service.pending_attach.setdefault(container.id, []).append(session)
    try:
        connection = request.hijack()
    except OSError:
        request.service.pending_attach.get(container.id, [session]).remove(session)
        raise
    session.serve(connection, client)


def container_summary(client, container) -> dict[str, Any]:
    """``GET /containers/json``'s row for one container."""
    document = container.document
    config = container.config
    ports = []
    running = container.status in _ACTIVE
    for port, protocol, host_ip, host_port in (document.get("Ports") or []) if running else []:
        ports.append({"IP": host_ip or "0.0.0.0", "PrivatePort": int(port), "PublicPort": int(host_port),
                      "Type": protocol})
    for exposed in config.get("ExposedPorts") or {}:
        number, _, protocol = exposed.partition("/")
        if number.isdigit() and not any(p["PrivatePort"] == int(number) for p in ports):
            ports.append({"PrivatePort": int(number), "Type": protocol or "tcp"})
    argv = [document.get("Path") or ""] + list(document.get("Args") or [])
    network = container.host_config.get("NetworkMode") or "default"
    return {
        "Id": container.id, "Names": ["/" + container.name], "Image": container.image,
        "ImageID": container.image_id, "Command": " ".join(a for a in argv if a),
        "Created": int(container.created), "Ports": ports, "Labels": config.get("Labels") or {},
        "State": container.status, "Status": _status_text(container),
        "HostConfig": {"NetworkMode": "bridge" if network == "private" else network},
        "NetworkSettings": {"Networks": {}},
        "Mounts": [{"Type": m.get("Type", ""), "Name": m.get("Name", ""), "Source": m.get("Source", ""),
                    "Destination": m.get("Destination", ""), "Driver": m.get("Driver", ""),
                    "Mode": m.get("Mode", ""), "RW": m.get("RW", True), "Propagation": m.get("Propagation", "")}
                   for m in document.get("Mounts") or []],
    }


def _status_text(container) -> str:
    from lamina.runtime.status import status_text

    return status_text(container)


def _familiar(image: str) -> str:
    from lamina.errors import LaminaError
    from lamina.oci.reference import parse_reference

    try:
        return parse_reference(image).familiar
    except LaminaError:
        return image


def _attributes(container) -> dict[str, str]:
    """An event's actor attributes: the container's labels, image and name (docker's set)."""
    return {**(container.config.get("Labels") or {}), "image": container.image, "name": container.name}


def _event(request: Request, action: str, name: str, **extra: str) -> None:
    from lamina.errors import LaminaError

    try:
        container = request.client.container(name)
    except LaminaError:
        return
    request.service.events.publish("container", action, container.id, {**_attributes(container), **extra})
