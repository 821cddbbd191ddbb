"""Container operations behind the CLI verbs: create, stop, kill, wait, rm, exec, export,
commit, prune, and the inspect document. The monitor (``lamina.runtime.monitor``) runs
containers; these functions talk to it only through the store (rows, the monitor lock) and
to runc (signals, exec)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from lamina import TYPE_CHECKING
from lamina.errors import ConflictError, RuntimeError_, UsageError
from lamina.runtime.containers import Container, ContainerStore, container_runc, discard, new_container_id
from lamina.runtime.names import check_name, random_name
from lamina.runtime.restart import clear_stop_mark, mark_stopped
from lamina.runtime.runconfig import RunOptions, container_document
from lamina.runtime.signals import parse_signal

if TYPE_CHECKING:
    from typing import Any, BinaryIO

__all__ = ["commit", "create", "exec_process", "export", "inspect_document", "kill", "pause", "prepare_start",
           "prune", "remove", "rename", "stop", "unpause", "wait"]

_POLL = 0.02
_REMOVAL_REFUSALS = {"running": "Stop the container", "restarting": "Stop the container",
                     "paused": "Unpause and then stop the container"}  # docker's words, by state


def create(containers: ContainerStore, image: str, image_id: str, image_config: dict[str, Any],
           options: RunOptions, *, default_network: str) -> Container:
    """``docker create``: check the flags, record the container, make its dir and volumes."""
    name = check_name(options.name) if options.name else None
    if name is not None and containers.rows.holder(name) is not None:
        holder = containers.resolve(name).id
        raise ConflictError(f'Conflict. The container name "/{name}" is already in use by container "{holder}". '
                            "You have to remove (or rename) that container to be able to reuse that name.")
    document = container_document(options, image, image_id, image_config, containers.volumes_root,
                                  default_network=default_network)
    container_id = new_container_id()
    if not document["Config"]["Hostname"]:  # docker records the hostname the container will have
        host_network = document["HostConfig"]["NetworkMode"] == "host"
        document["Config"]["Hostname"] = os.uname().nodename if host_network else container_id[:12]
    base = containers.base(container_id)
    container = Container(container_id, name or random_name(containers.names()), image_id, image, time.time(),
                          "created", 0, 0, False, "", 0.0, 0.0, document, base)
    base.mkdir(parents=True)
    try:
        containers.insert(container)
    except BaseException:
        with contextlib.suppress(Exception):
            from lamina.runtime.volumes import remove_volumes

            remove_volumes(document["Mounts"], containers.volumes_root)
        base.rmdir()
        raise
    return container


def stop(containers: ContainerStore, container: Container, timeout: int | None = None,
         signal_text: str | None = None) -> None:
    """``docker stop``: ``signal_text`` or the container's StopSignal (default SIGTERM), SIGKILL
    after ``timeout`` s."""
    if signal_text is not None:
        parse_signal(signal_text)  # refused before anything happens to the container
    container = containers.refresh(container)
    mark_stopped(container.base)
    if container.status == "restarting":
        _wait_stopped(containers, container, 70.0)  # its monitor sees the mark and gives up
        return
    if not container.running:
        return
    signal_number = parse_signal(signal_text or container.config.get("StopSignal") or "SIGTERM")
    if timeout is None:
        timeout = container.config.get("StopTimeout", 10)
    _signal(containers, container, signal_number)
    if timeout is not None and timeout >= 0 and _wait_stopped(containers, container, float(timeout)):
        return
    if timeout is not None and timeout < 0:
        _wait_stopped(containers, container, None)
        return
    _signal(containers, container, signal.SIGKILL, every_process=True)
    if not _wait_stopped(containers, container, 10.0, killed_by=signal.SIGKILL):
        raise RuntimeError_(f"cannot stop container {container.id[:12]}: it did not exit after SIGKILL")


def kill(containers: ContainerStore, container: Container, signal_text: str = "KILL") -> None:
    """``docker kill``: one signal to the container's init."""
    number = parse_signal(signal_text)
    container = containers.refresh(container)
    if not container.running:
        raise ConflictError(f"Cannot kill container: {container.name}: Container {container.id} is not running")
    stop_signal = container.config.get("StopSignal")
    if number == signal.SIGKILL or not stop_signal or parse_signal(stop_signal) == number:
        mark_stopped(container.base)  # docker's rule: such a kill ends the restart policy too
    result = _signal(containers, container, number)
    if result.returncode != 0:
        raise RuntimeError_(f"Cannot kill container: {container.id[:12]}: {result.stderr.strip() or 'runc kill failed'}")
    if not containers.monitor_alive(container.id) and number in (signal.SIGKILL, signal.SIGTERM):
        _wait_stopped(containers, container, 5.0, killed_by=number)


def wait(containers: ContainerStore, container: Container) -> int:
    """``docker wait``: block until the container stops (or waits to be restarted); its exit code."""
    _wait_stopped(containers, container, None, restarting_is_stopped=True)
    final = containers.get(container.id)
    return final.exit_code if final is not None else container.exit_code


def remove(containers: ContainerStore, container: Container, *, force: bool = False, volumes: bool = False) -> None:
    """``docker rm``: refuses a running container unless ``force`` (then SIGKILL first)."""
    container = containers.refresh(container)
    if not force and container.status in _REMOVAL_REFUSALS:
        raise ConflictError(f"You cannot remove a {container.status} container {container.id}. "
                            f"{_REMOVAL_REFUSALS[container.status]} before attempting removal or force remove")
    if force:
        mark_stopped(container.base)
        if container.status == "restarting":
            _wait_stopped(containers, container, 70.0)
    if container.running:
        _signal(containers, container, signal.SIGKILL, every_process=True)
        _wait_stopped(containers, container, 10.0, killed_by=signal.SIGKILL)
    discard(containers, container, volumes=volumes)


def prepare_start(containers: ContainerStore, container: Container) -> None:
    """A start by the user: the restart policy applies again, counting from zero."""
    clear_stop_mark(container.base)
    if container.document.get("RestartCount"):
        container.document["RestartCount"] = 0
        containers.update(container.id, document=container.document)


def pause(containers: ContainerStore, container: Container) -> None:
    """``docker pause``: freeze every process of the container (the freezer cgroup)."""
    container = containers.refresh(container)
    if container.status == "paused":
        raise ConflictError(f"Container {container.id} is already paused")
    if not container.running:
        raise ConflictError(f"Container {container.id} is not running")
    result = _runc(containers, "pause", container.id)
    if result.returncode != 0:
        raise RuntimeError_(f"cannot pause container {container.id[:12]}: {_runc_reason(result)}")
    containers.update(container.id, status="paused")


def unpause(containers: ContainerStore, container: Container) -> None:
    """``docker unpause``."""
    container = containers.refresh(container)
    if container.status != "paused":
        raise ConflictError(f"Container {container.id} is not paused")
    result = _runc(containers, "resume", container.id)
    if result.returncode != 0:
        raise RuntimeError_(f"cannot unpause container {container.id[:12]}: {_runc_reason(result)}")
    containers.update(container.id, status="running")


def rename(containers: ContainerStore, container: Container, new_name: str) -> None:
    """``docker rename``: docker's checks and wording (same name, invalid, taken)."""
    if new_name.lstrip("/") == container.name:
        raise ConflictError("Renaming a container with the same name as its current name")
    try:
        name = check_name("/" + new_name.lstrip("/"))
    except UsageError as exc:
        raise UsageError(f"Error when allocating new name: {exc}") from None
    containers.rename(container, name)


def prune(containers: ContainerStore) -> tuple[list[str], int]:
    """``docker container prune``: remove every stopped container; (IDs, bytes reclaimed)."""
    removed, reclaimed = [], 0
    for container in containers.list():
        if container.running or containers.monitor_alive(container.id):
            continue
        size = tree_size(container.base / "upper")
        with contextlib.suppress(ConflictError, RuntimeError_):
            discard(containers, container, volumes=False)
            removed.append(container.id)
            reclaimed += size
    return removed, reclaimed


def exec_process(containers: ContainerStore, container: Container, command: list[str], *, tty: bool = False,
                 interactive: bool = False, detach: bool = False, env: list[str] = (), user: str | None = None,
                 workdir: str | None = None) -> int:
    """``docker exec``: run ``command`` in the running container (runc exec); its exit code."""
    from lamina.runtime.bundle import process_env
    from lamina.runtime.execcheck import ExecError, check_exec
    from lamina.runtime.monitor import _start_error
    from lamina.runtime.users import resolve_user

    container = containers.refresh(container)
    if not container.running:
        raise ConflictError(f"Container {container.id} is not running")
    if container.status == "paused":
        raise ConflictError(f"Container {container.name} is paused, unpause the container before exec")
    if not command:
        raise RuntimeError_("exec needs a command to run")
    spec = json.loads((container.base / "config.json").read_text())
    rootfs = container.base / "rootfs"
    try:
        exec_user = resolve_user(rootfs, user or container.config.get("User") or "")
    except RuntimeError_ as exc:
        raise ExecError(str(exc)) from None
    gids = list(exec_user.additional_gids)
    if container.host_config.get("GroupAdd"):  # docker: --group-add holds for every exec too
        from lamina.runtime.hostflags import group_ids

        gids += [gid for gid in group_ids(container.host_config["GroupAdd"], rootfs) if gid not in gids]
    process = dict(spec["process"])
    process.update(
        terminal=tty and not detach, args=list(command), cwd=workdir or container.config.get("WorkingDir") or "/",
        env=process_env(container, spec.get("hostname") or container.id[:12], exec_user.home, list(env), tty=tty),
        user={"uid": exec_user.uid, "gid": exec_user.gid, "additionalGids": gids},
    )
    check_exec(f"/proc/{container.pid}/root", process["args"][0], process["env"], process["cwd"])
    runc = container_runc(containers.store.root)
    import tempfile  # exec only: run and ps should not load it

    with tempfile.TemporaryDirectory(prefix="lamina-exec-") as scratch:
        process_file = Path(scratch) / "process.json"
        process_file.write_text(json.dumps(process))
        log = Path(scratch) / "runc.log"
        command_line = [runc.binary, "--root", os.fspath(runc.state_root), "--log", os.fspath(log), "--log-format",
                        "json", "exec", "--process", os.fspath(process_file)]
        if detach:
            command_line.append("--detach")
        if tty and not detach:
            command_line += ["--detach", "--console-socket", os.fspath(Path(scratch) / "console.sock"),
                             "--pid-file", os.fspath(Path(scratch) / "exec.pid")]
            code = _exec_with_tty(command_line + [container.id], Path(scratch), interactive=interactive)
        else:
            stdin = None if interactive else subprocess.DEVNULL
            code = subprocess.run(command_line + [container.id], stdin=stdin).returncode
        if code != 0:
            error = _start_error(log, "exec failed")
            if "unknown error" not in str(error):
                raise ExecError(f"OCI runtime {error}: unknown")
    return code


def export(containers: ContainerStore, container: Container, out: BinaryIO) -> None:
    """``docker export``: the container's filesystem (image + changes, no volumes) as a tar."""
    from lamina.layer.tarwrite import write_dir_tar

    with _rootfs(containers, container) as rootfs:
        write_dir_tar(rootfs, out)


def commit(containers: ContainerStore, container: Container, *, changes: list[str] = (), message: str = "",
           author: str = "", pause: bool = True, tags: list = ()) -> str:
    """``docker commit``: the container's changes as a new layer on its image; the image ID."""
    from lamina.archive.changes import apply_changes
    from lamina.oci import mediatypes as mt
    from lamina.oci.models import decode_json, encode
    from lamina.oci.timefmt import format_rfc3339
    from lamina.runtime.bundle import container_lowers
    from lamina.runtime.step import commit_upper

    store = containers.store
    container = containers.refresh(container)
    document = decode_json(store.config_bytes(container.image_id))
    import copy

    container_config = copy.deepcopy(container.config)
    config = apply_changes(copy.deepcopy(container.config), list(changes))
    config["Image"] = container.image_id
    upper = container.base / "upper"
    upper.mkdir(parents=True, exist_ok=True)
    lowers = container_lowers(store, container)
    paused = False
    with store.lease():
        if pause and container.running:
            paused = _runc(containers, "pause", container.id).returncode == 0
        try:
            layer = commit_upper(store, upper, lowers)
        finally:
            if paused:
                _runc(containers, "resume", container.id)
        created = format_rfc3339()
        history_entry: dict[str, Any] = {"created": created}
        if author:
            history_entry["author"] = author
        history_entry["created_by"] = " ".join(container.config.get("Cmd") or [])
        if message:
            history_entry["comment"] = message
        if layer is None:
            history_entry["empty_layer"] = True
        diff_ids = list((document.get("rootfs") or {}).get("diff_ids") or [])
        new_document = {k: v for k, v in document.items() if k not in ("config", "container_config", "history",
                                                                         "rootfs", "created", "author", "comment",
                                                                         "container", "parent", "id")}
        new_document.update(
            author=author, config=config, container=container.id, container_config=container_config,
            created=created, history=[*(document.get("history") or []), history_entry],
            rootfs={"type": "layers", "diff_ids": diff_ids + ([layer.diff_id] if layer else [])},
        )
        if message:
            new_document["comment"] = message
        if not author:
            del new_document["author"]
        records = [store.layer_for(diff_id) for diff_id in diff_ids]
        if any(record is None for record in records):
            raise RuntimeError_(f"the image of container {container.id[:12]} lost a layer; cannot commit")
        return store.add_image(encode(new_document), mt.DOCKER_CONFIG, [*records, *([layer] if layer else [])],
                               parent=container.image_id, tags=list(tags))


def inspect_document(containers: ContainerStore, container: Container) -> dict[str, Any]:
    """``docker container inspect``: docker's keys and shapes (built in inspection.py)."""
    from lamina.runtime.inspection import inspect_document as document

    return document(containers, container)


# -- helpers -------------------------------------------------------------------------------


def _runc(containers: ContainerStore, *args: str) -> subprocess.CompletedProcess:
    runc = container_runc(containers.store.root)
    return subprocess.run([runc.binary, "--root", os.fspath(runc.state_root), *args], capture_output=True, text=True)


def _runc_reason(result: subprocess.CompletedProcess) -> str:
    return (result.stderr.strip().splitlines() or [f"runc exited with {result.returncode}"])[-1]


def _signal(containers: ContainerStore, container: Container, number: int, *,
            every_process: bool = False) -> subprocess.CompletedProcess:
    """Send a signal; a paused container is thawed after it, so that it can act on it (docker
    does the same for stop, kill and rm -f)."""
    result = _runc(containers, "kill", *(["--all"] if every_process else []), container.id, str(number))
    if container.status == "paused" and result.returncode == 0:
        _runc(containers, "resume", container.id)
        containers.update(container.id, status="running")
    return result


def _wait_stopped(containers: ContainerStore, container: Container, timeout: float | None, *,
                  killed_by: int | None = None, restarting_is_stopped: bool = False) -> bool:
    """Until the container is not running: its monitor finished (or, with
    ``restarting_is_stopped``, waits to restart it), or (unsupervised) its init is gone, in which
    case the row and mounts are settled here. False on timeout."""
    from lamina.runtime.containers import _process_alive

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if containers.monitor_alive(container.id):
            if restarting_is_stopped:
                current = containers.get(container.id)
                if current is None or current.status == "restarting":
                    return True
        else:
            current = containers.get(container.id)
            if current is None or current.status not in ("running", "paused"):
                return True
            if not _process_alive(current.pid, current.document.get("_PidStart", 0)):
                _settle_unsupervised(containers, current, killed_by)
                return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)


def _settle_unsupervised(containers: ContainerStore, container: Container, killed_by: int | None) -> None:
    """Record the end of a container whose monitor died: its exit status is unknowable, so
    128+signal when we killed it, else 255; then delete its runc state and unmount."""
    from lamina.runtime.mounts import unmount

    runc = container_runc(containers.store.root)
    runc.delete(container.id)
    with contextlib.suppress(RuntimeError_):
        unmount(container.base / "rootfs")
    code = 128 + killed_by if killed_by else 255
    containers.update(container.id, status="exited", exit_code=code, finished_at=time.time(), pid=0,
                      error="monitor process died; exit status unknown")


def _lock_stopped_container(fd: int, containers: ContainerStore, container: Container) -> None:
    """Take a stopped container's monitor lock. Its monitor still holds it for a moment after
    the exit is recorded (unmounting, runc's delete), so a copy or export right after ``wait``
    waits for that (a few seconds at most) instead of failing; a container that is starting or
    running meanwhile is the caller's conflict."""
    import time

    deadline = time.monotonic() + 5.0
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline or containers.refresh(container).running:
                raise ConflictError(f"container {container.id[:12]} is starting; try again") from None
            time.sleep(0.05)


@contextlib.contextmanager
def _rootfs(containers: ContainerStore, container: Container, *, with_mounts: bool = False) -> Iterator[Path]:
    """The container's merged filesystem: the live mount, or a temporary one (under the
    monitor lock, so it cannot start meanwhile); ``with_mounts`` binds a stopped container's
    volumes and bind mounts into the temporary one (``cp`` sees them, ``export`` must not)."""
    from lamina.runtime.bundle import container_lowers, make_init_layer
    from lamina.runtime.mounts import mount_overlay, mounts_under, unmount

    rootfs = container.base / "rootfs"
    if containers.refresh(container).running and mounts_under(rootfs):
        yield rootfs
        return
    fd = os.open(container.base / "monitor.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        _lock_stopped_container(fd, containers, container)
        if not (container.base / "init").exists():
            (container.base / "init").mkdir()
        if mounts_under(rootfs):
            unmount(rootfs)
        lowers = container_lowers(containers.store, container)
        if with_mounts:  # the mount points a first start would make, in the init layer as then
            make_init_layer(lowers[0], lowers[1:], container.document.get("Mounts") or [], with_init=False)
        dirs = mount_overlay(container.base, lowers)
        bound: list[Path] = []
        try:
            if with_mounts:
                bound = _bind_mount_points(dirs.rootfs, container.document.get("Mounts") or [])
            yield dirs.rootfs
        finally:
            for point in reversed(bound):
                unmount(point)
            unmount(dirs.rootfs)
    finally:
        os.close(fd)


def _bind_mount_points(rootfs: Path, mounts: list[dict[str, Any]]) -> list[Path]:
    """A stopped container's volumes and binds, bound where its processes see them (docker's
    ``cp`` reads and writes them too); tmpfs mounts hold nothing once it stopped. A mount point
    the rootfs lacks is skipped: making it would change the container's own files."""
    from lamina.runtime.mounts import bind_mount, unmount
    from lamina.runtime.volumes import path_in_root

    bound: list[Path] = []
    try:
        for point in sorted(mounts, key=lambda m: m["Destination"].rstrip("/").count("/")):
            source = Path(point.get("Source") or "")
            if point["Type"] not in ("bind", "volume") or not source.exists():
                continue
            target = path_in_root(rootfs, point["Destination"])
            if target == rootfs or not target.exists() or target.is_dir() != source.is_dir():
                continue
            bind_mount(source, target)
            bound.append(target)
    except BaseException:
        for target in reversed(bound):
            unmount(target)
        raise
    return bound


def _exec_with_tty(command: list[str], scratch: Path, *, interactive: bool) -> int:
    """runc exec of a terminal process, detached, its pty's master received on the console
    socket and relayed here, as the monitor does for ``run -t`` (runc's own relay wants a
    terminal on our side, which a docker user's ``exec -t`` need not have). We become a child
    subreaper first, so the process, orphaned when runc exits, is ours to wait for."""
    import socket

    from lamina.runtime.console import receive_master
    from lamina.runtime.monitor import _set_subreaper

    _set_subreaper()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.fspath(scratch / "console.sock"))
    listener.listen(1)
    runc = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    with listener:
        master = receive_master(listener, runc)
    if runc.wait() != 0 or master is None:
        if master is not None:
            os.close(master)
        return runc.returncode or 1
    pid = int((scratch / "exec.pid").read_text().strip())
    try:
        return _relay_pty(master, pid, interactive=interactive)
    finally:
        os.close(master)


def _relay_pty(master: int, pid: int, *, interactive: bool) -> int:
    """Copy the pty to our stdout (and our stdin to it) until the process exits; its status."""
    import selectors
    import sys

    _copy_window_size(sys.stdin.fileno(), master)
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    pidfd = os.pidfd_open(pid)
    try:
        with _raw_terminal(stdin if interactive else None), selectors.DefaultSelector() as selector:
            selector.register(master, selectors.EVENT_READ, "out")
            selector.register(pidfd, selectors.EVENT_READ, "exit")
            if interactive:
                selector.register(stdin, selectors.EVENT_READ, "in")
            exited = False
            while not exited:
                for key, _ in selector.select():
                    if key.data == "exit":
                        exited = True
                    elif not _relay(key.fd, master if key.data == "in" else stdout, master):
                        selector.unregister(key.fd)
                        exited = exited or key.data == "out"
            os.set_blocking(master, False)
            while _relay(master, stdout, master):
                pass
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _relay(source: int, target: int, master: int) -> bool:
    """Copy what ``source`` has to ``target``; False when it had nothing (end, hang-up, or
    nothing buffered). Our stdin's end becomes the terminal's end-of-input character."""
    try:
        data = os.read(source, 65536)
    except OSError:
        return False
    if data:
        os.write(target, data)
    elif source != master:
        os.write(master, b"\x04")
    return bool(data)


def _copy_window_size(source: int, target: int) -> None:
    import termios

    try:
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)
    except OSError:
        pass  # not a terminal: the pty keeps its default size


@contextlib.contextmanager
def _raw_terminal(fd: int | None) -> Iterator[None]:
    if fd is None or not os.isatty(fd):
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def tree_size(path: Path) -> int:
    """Bytes of the files below ``path`` (a container's writable layer), as docker's SizeRw counts."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total
