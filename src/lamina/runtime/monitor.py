"""The monitor: the process that runs one container from start to exit.

It mounts the rootfs, runs ``runc create``, starts slirp4netns for ``private`` networking,
``runc start``s the container, then copies the container's output into the json-file log (and,
for a foreground ``run``/``start -a``, to the terminal) until the container's init exits. It
is a child subreaper, so the init (orphaned when ``runc create`` exits) becomes its child and
its exit status is read with ``waitpid``. Then it records the exit code, finish time and OOM
kill, deletes the runc state, stops slirp4netns, unmounts, and honours ``--rm``.

Foreground runs call :func:`supervise` in the lamina process; detached ones start
``python -m lamina.runtime.monitor ROOT ID FD``, which forks once more (so nothing waits for it)
and reports on FD whether the container started.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections import namedtuple
from collections.abc import Callable, Iterator
from pathlib import Path

from lamina.errors import LaminaError, RuntimeError_
from lamina.layer.treeremoval import discard_tree
from lamina.procstat import process_start_time
from lamina.runtime import earlynet
from lamina.runtime.bundle import prepare_bundle
from lamina.runtime.containers import (
    Container,
    ContainerNotFoundError,
    ContainerStore,
    container_runc,
    discard,
)
from lamina.runtime.logs import LogWriter
from lamina.runtime.mounts import unmount
from lamina.runtime.netns import NetnsHolder
from lamina.runtime.ports import PortBinding
from lamina.runtime.restart import backoff, stopped_by_user, wants_restart
from lamina.runtime.slirp import Slirp, start_slirp
from lamina.store.store import Store

__all__ = ["Attach", "StartError", "launch_monitor", "supervise"]

_PR_SET_CHILD_SUBREAPER = 36
_DRAIN_SECONDS = 2.0
_PROXIED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


class StartError(RuntimeError_):
    """The container's process could not be started; exit code 126/127 like docker."""

    def __init__(self, message: str, exit_code: int = 125):
        super().__init__(message)
        self.exit_code = exit_code


class Attach(namedtuple("Attach", "stdin stdout stderr proxy_signals", defaults=(None, 1, 2, True))):
    """Where a foreground container's streams go: file descriptors of the lamina process."""

    # stdin: int | None; stdout: int; stderr: int; proxy_signals: bool
    __slots__ = ()


def supervise(store: Store, container_id: str, *, attach: Attach | None = None,
              on_started: Callable[[], None] | None = None) -> int:
    """Run the container until it exits and return its exit code (128+N for signal N).

    Raises StartError when it cannot start (the row keeps the error and exit code), and
    ConflictError when another monitor already runs it.
    """
    containers = ContainerStore(store)
    container = containers.get(container_id)
    if container is None:
        raise ContainerNotFoundError(f"No such container: {container_id}")
    lock_fd = _take_lock(container)
    try:
        started = time.monotonic()
        code = _Supervisor(store, containers, container, attach).run(on_started)
        if attach is None:
            return _restart_while_wanted(store, containers, container_id, code, started)
    finally:
        os.close(lock_fd)
    _hand_restart_to_a_monitor(store, containers, container_id, code)
    return code


def _restart_while_wanted(store: Store, containers: ContainerStore, container_id: str, code: int,
                          started: float) -> int:
    """A detached monitor keeps the container's restart policy (``lamina.runtime.restart``)."""
    delay = 0.0
    while True:
        container = containers.get(container_id)
        if container is None:
            return code
        restarts = int(container.document.get("RestartCount") or 0)
        if not wants_restart(container.host_config, container.base, code, restarts):
            if container.status == "restarting":  # stopped by the user meanwhile
                containers.update(container_id, status="exited")
            return code
        delay = backoff(delay, time.monotonic() - started)
        containers.update(container_id, status="restarting")
        if not _rest(container.base, delay):
            containers.update(container_id, status="exited")  # stopped during the back-off
            return code
        container.document["RestartCount"] = restarts + 1
        started = time.monotonic()
        try:
            code = _Supervisor(store, containers, container, None).run(None)
        except LaminaError:
            containers.update(container_id, status="exited")
            return code


def _rest(base: Path, seconds: float) -> bool:
    """Sleep before a restart; False as soon as the user stops the container."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if stopped_by_user(base):
            return False
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return not stopped_by_user(base)


def _hand_restart_to_a_monitor(store: Store, containers: ContainerStore, container_id: str, code: int) -> None:
    """A foreground run reports the exit code; restarting is then a detached monitor's job."""
    container = containers.get(container_id)
    if container is None:
        return
    restarts = int(container.document.get("RestartCount") or 0)
    if not wants_restart(container.host_config, container.base, code, restarts):
        return
    document = dict(container.document)
    document["RestartCount"] = restarts + 1
    containers.update(container_id, document=document)
    with contextlib.suppress(LaminaError):
        launch_monitor(store.root, container_id)


def launch_monitor(store_root: Path, container_id: str, *, timeout: float = 60.0) -> None:
    """Start a detached monitor for the container and wait until the container runs.

    Raises StartError with the monitor's reason (and docker's exit code) if it did not start.
    """
    read_fd, write_fd = os.pipe()
    base = Path(store_root) / "containers" / container_id
    with open(base / "monitor.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "lamina.runtime.monitor", os.fspath(store_root), container_id, str(write_fd)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(write_fd,), start_new_session=True)
    os.close(write_fd)
    try:
        process.wait()  # the first fork exits at once; the monitor lives on in its child
        report = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            report += chunk
    finally:
        os.close(read_fd)
    try:
        message = json.loads(report)
    except ValueError:
        raise StartError("the container monitor failed before the container started "
                         f"(see {base / 'monitor.log'})") from None
    if message.get("error"):
        raise StartError(message["error"], int(message.get("exit_code", 125)))


class _Supervisor:
    def __init__(self, store: Store, containers: ContainerStore, container: Container, attach: Attach | None):
        self.store = store
        self.containers = containers
        self.container = container
        self.attach = attach
        self.runc = container_runc(store.root)
        self.started = False

    def run(self, on_started: Callable[[], None] | None) -> int:
        container = self.container
        _set_subreaper()
        if (self.runc.state_root / container.id).exists():
            self.runc.delete(container.id)  # left by a monitor that died
        private = container.host_config["NetworkMode"] == "private"
        early = earlynet.take() if private else None
        earlynet.discard()  # one made for a container that turned out not to need it
        scratch = early.scratch if early is not None else _scratch_dir(container)
        holder: NetnsHolder | None = None
        slirp: Slirp | None = None
        log: LogWriter | None = None
        bundle = None
        exit_code = -1
        oom = False
        try:
            if early is not None:  # started by the entry point while lamina was loading
                holder, slirp = early.holder, early.slirp
            elif private:
                # slirp4netns comes up while the rootfs is mounted (see lamina.runtime.netns)
                holder = NetnsHolder()
                slirp = start_slirp(holder.path, scratch / "slirp.sock", container.base / "slirp.log")
            bundle = prepare_bundle(self.store, container, network_namespace=holder.path if holder else None)
            log = _log_writer(container)
            if slirp is not None:
                slirp.wait_ready()
                for port in container.document.get("Ports") or []:
                    slirp.add_port(PortBinding(*port))
            with _Stdio(container, self.attach, scratch) as stdio:
                pid = self._run_detached(stdio)
                if holder is not None:
                    holder.close()  # the container holds its namespace now
                pidfd = os.pidfd_open(pid)
                health = None
                try:
                    self._record_running(pid, scratch)
                    health = self._start_health()
                    if on_started is not None:
                        on_started()
                    with self._signal_proxy():
                        exit_code = _pump(pidfd, pid, stdio, log, self.attach)
                finally:
                    if health is not None:
                        health.stop()
                    os.close(pidfd)
                    if exit_code < 0:  # startup failed after runc: do not leave the container running
                        self.runc.kill_and_delete(container.id)
                        _reap(pid)
            oom = _oom_killed(container.id)
            return exit_code
        except LaminaError as exc:
            self._record_failure(exc)
            raise
        finally:
            # runc's delete (cgroups, state) runs while the rest is cleaned up here. Nothing
            # needs its result: a foreground run does not wait for it (its own session lets it
            # finish after lamina exits), a monitor does, so that its lock still means "busy".
            deleting = subprocess.Popen([self.runc.binary, "--root", os.fspath(self.runc.state_root), "delete",
                                         "--force", container.id], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
            if holder is not None:
                holder.close()
            if slirp is not None:  # a foreground run waits only when host ports must be free again
                slirp.stop(wait=self.attach is None or bool(container.document.get("Ports")))
            if log is not None:
                log.close()
            if self.started:
                self.containers.update(container.id, status=self._status_after(exit_code),
                                       exit_code=max(exit_code, 0) if exit_code >= 0 else 255,
                                       finished_at=time.time(), oom_killed=int(oom), pid=0)
            if bundle is not None:
                with contextlib.suppress(RuntimeError_):
                    unmount(bundle.dirs.rootfs)
            if scratch is not None:
                discard_tree(scratch)
            if self.attach is None:
                deleting.wait()
            if container.host_config.get("AutoRemove"):
                with contextlib.suppress(LaminaError):
                    discard(self.containers, container, volumes=True, runc_state=False)

    def _run_detached(self, stdio: _Stdio) -> int:
        """``runc run --detach`` (create and start in one runc process); the init's pid."""
        container = self.container
        pid_file = container.base / "init.pid"
        pid_file.unlink(missing_ok=True)
        (container.base / "runc.log").unlink(missing_ok=True)
        command = [self.runc.binary, "--root", os.fspath(self.runc.state_root), "--log",
                   os.fspath(container.base / "runc.log"), "--log-format", "json",
                   "run", "--detach", "--bundle",
                   os.fspath(container.base), "--pid-file", os.fspath(pid_file)]
        if stdio.console_socket is not None:
            command += ["--console-socket", os.fspath(stdio.console_path)]
        command.append(container.id)
        self.runc.state_root.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(command, stdin=stdio.container_stdin, stdout=stdio.container_stdout,
                                   stderr=stdio.container_stderr, start_new_session=True)
        stdio.after_create_started(process)
        code = process.wait()
        stdio.close_container_ends()
        if code != 0:
            raise _start_error(container.base / "runc.log", "runc create failed")
        self.started = True
        return int(pid_file.read_text().strip())

    def _start_health(self):
        """The container's health checks, when its config has one (loaded only then)."""
        if not self.container.config.get("Healthcheck"):
            return None
        from lamina.runtime.health import HealthMonitor, active_test
        from lamina.runtime.healthconfig import effective

        health = self.container.config["Healthcheck"]
        argv = active_test(health)
        if argv is None:
            return None
        monitor = HealthMonitor(self.container.base, self.container.id,
                                [self.runc.binary, "--root", os.fspath(self.runc.state_root)], argv, effective(health))
        monitor.start()
        return monitor

    def _record_running(self, pid: int, scratch: Path | None) -> None:
        container = self.container
        document = dict(container.document)
        document["_PidStart"] = process_start_time(pid)
        # Where the sockets live, so that ``rm`` removes the dir when this monitor dies first.
        document["_Scratch"] = os.fspath(scratch) if scratch is not None else ""
        self.containers.update(container.id, status="running", pid=pid, started_at=time.time(), finished_at=0,
                               exit_code=0, error="", oom_killed=0, document=document)

    def _status_after(self, exit_code: int) -> str:
        """``restarting`` straight away when a detached monitor will start it again (as docker
        shows it), so no ``rm`` without ``-f`` can slip in while it looks ``exited``."""
        container = self.container
        restarts = int(container.document.get("RestartCount") or 0)
        if self.attach is None and exit_code >= 0 and wants_restart(container.host_config, container.base,
                                                                     exit_code, restarts):
            return "restarting"
        return "exited"

    def _record_failure(self, exc: LaminaError) -> None:
        if self.started:
            return
        code = getattr(exc, "exit_code", 125)
        with contextlib.suppress(LaminaError):
            self.containers.update(self.container.id, exit_code=code, error=str(exc))

    @contextlib.contextmanager
    def _signal_proxy(self) -> Iterator[None]:
        """docker's sig-proxy: signals sent to a foreground ``lamina run`` go to the container."""
        if self.attach is None or not self.attach.proxy_signals:
            yield
            return
        runc, container_id = self.runc, self.container.id

        def forward(signum: int, frame: object) -> None:
            subprocess.Popen([runc.binary, "--root", os.fspath(runc.state_root), "kill", container_id, str(signum)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        previous = {sig: signal.signal(sig, forward) for sig in _PROXIED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class _Stdio:
    """The container's stdin/stdout/stderr: pipes, or a pseudo-terminal with ``-t`` (runc
    hands the pty master over a console socket)."""

    def __init__(self, container: Container, attach: Attach | None, scratch: Path | None):
        self.tty = bool(container.config.get("Tty"))
        interactive = bool(container.config.get("OpenStdin"))
        self.attach = attach
        self.master: int | None = None
        self.console_socket = None
        self.console_path = scratch / "console.sock" if scratch is not None else None
        self._keep_stdin_open: int | None = None
        self.streams: dict[int, str] = {}
        self._container_ends: list[int] = []
        self.container_stdin: int = subprocess.DEVNULL
        self.container_stdout: int | None = None
        self.container_stderr: int | None = None
        if self.tty:
            import socket

            self.console_socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.console_socket.bind(os.fspath(self.console_path))
            self.console_socket.listen(1)
            self.container_stdout = self.container_stderr = subprocess.DEVNULL
            return
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        self.streams = {out_read: "stdout", err_read: "stderr"}
        self._container_ends += [out_write, err_write]
        self.container_stdout, self.container_stderr = out_write, err_write
        if interactive:
            if attach is not None and attach.stdin is not None:
                self.container_stdin = attach.stdin
            else:  # -d -i: stdin stays open (and empty) for the container's life, as in docker
                stdin_read, self._keep_stdin_open = os.pipe()
                self._container_ends.append(stdin_read)
                self.container_stdin = stdin_read

    def __enter__(self) -> _Stdio:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close_container_ends()
        for fd in list(self.streams):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.streams.clear()
        for fd in (self.master, self._keep_stdin_open):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self._keep_stdin_open = None
        if self.console_socket is not None:
            self.console_socket.close()
            self.console_socket = None

    def after_create_started(self, process: subprocess.Popen) -> None:
        """With a tty, receive the pty master from runc while ``runc create`` runs."""
        if self.console_socket is None:
            return
        from lamina.runtime.console import receive_master

        master = receive_master(self.console_socket, process)
        if master is not None:
            self.master = master
            self.streams[self.master] = "stdout"
            _copy_window_size(self.attach, self.master)

    def close_container_ends(self) -> None:
        for fd in self._container_ends:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._container_ends.clear()


def _pump(pidfd: int, pid: int, stdio: _Stdio, log: LogWriter, attach: Attach | None) -> int:
    """Copy output until the init exits and its streams close; returns the exit code."""
    outputs = {"stdout": attach.stdout, "stderr": attach.stderr} if attach is not None else {}
    broken: set[str] = set()
    exit_code: int | None = None
    drain_until = 0.0
    with selectors.DefaultSelector() as selector:
        selector.register(pidfd, selectors.EVENT_READ, "exit")
        for fd, stream in stdio.streams.items():
            selector.register(fd, selectors.EVENT_READ, stream)
        copy_stdin = stdio.master is not None and attach is not None and attach.stdin is not None
        if copy_stdin:
            selector.register(attach.stdin, selectors.EVENT_READ, "stdin")
        resize = _install_resize(attach, stdio.master)
        try:
            while exit_code is None or any(key.data not in ("exit", "stdin") for key in selector.get_map().values()):
                timeout = None if exit_code is None else max(0.0, drain_until - time.monotonic())
                events = selector.select(timeout)
                if not events and exit_code is not None:
                    break
                for key, _ in events:
                    if key.data == "exit":
                        selector.unregister(pidfd)
                        exit_code = _reap(pid)
                        drain_until = time.monotonic() + _DRAIN_SECONDS
                    elif key.data == "stdin":
                        data = _read(key.fd)
                        if not data:
                            selector.unregister(key.fd)
                            if not os.isatty(key.fd):  # a piped stdin ended: say so as a terminal does
                                _write_all(stdio.master, b"\x04")
                        elif stdio.master is not None:
                            _write_all(stdio.master, data)
                    else:
                        data = _read(key.fd)
                        if not data:
                            selector.unregister(key.fd)
                            continue
                        log.write(key.data, data)
                        target = outputs.get(key.data)
                        if target is not None and key.data not in broken and not _write_all(target, data):
                            broken.add(key.data)
        finally:
            if resize is not None:
                signal.signal(signal.SIGWINCH, resize)
    return exit_code if exit_code is not None else 255


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError as exc:
        if exc.errno == errno.EIO:  # a pty master whose other side is gone
            return b""
        raise


def _write_all(fd: int, data: bytes) -> bool:
    """Write everything; False once the reader went away (``lamina run … | head``)."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            selectors.DefaultSelector().select(0.01)
            continue
        except (BrokenPipeError, OSError):
            return False
        view = view[written:]
    return True


def _reap(pid: int) -> int:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return 255
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _install_resize(attach: Attach | None, master: int | None):
    if attach is None or master is None or attach.stdin is None or not os.isatty(attach.stdin):
        return None

    def resize(signum: int, frame: object) -> None:
        _copy_window_size(attach, master)

    return signal.signal(signal.SIGWINCH, resize)


def _copy_window_size(attach: Attach | None, master: int) -> None:
    import termios

    if attach is None or attach.stdin is None or not os.isatty(attach.stdin):
        return
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(attach.stdin, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)


def _oom_killed(container_id: str) -> bool:
    """Whether the kernel's OOM killer hit the container's memory cgroup (v1 or v2)."""
    for path, key in ((f"/sys/fs/cgroup/memory/lamina/{container_id}/memory.oom_control", "oom_kill"),
                      (f"/sys/fs/cgroup/lamina/{container_id}/memory.events", "oom_kill")):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return value.strip() not in ("", "0")
    return False


def _start_error(log: Path, what: str) -> StartError:
    """runc's reason in one line, with docker's exit code: 127 not found, 126 not executable."""
    from lamina.runtime.runc import _runc_error

    reason = _runc_error(log) or "unknown error"
    lowered = reason.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        code = 127
    elif "permission denied" in lowered or "exec format error" in lowered or "is a directory" in lowered:
        code = 126
    else:
        code = 125
    return StartError(f"{what}: {reason}", code)


def _log_writer(container: Container) -> LogWriter:
    """The container's log as its LogConfig asks (rotation limits parsed only when set)."""
    log_config = container.host_config.get("LogConfig") or {}
    if log_config.get("Type") == "none":
        return LogWriter(container.log_path, enabled=False)
    if log_config.get("Type") == "local" or log_config.get("Config"):
        from lamina.runtime.logdriver import rotation_limits

        max_size, max_files = rotation_limits(log_config)
        return LogWriter(container.log_path, max_size=max_size, max_files=max_files)
    return LogWriter(container.log_path)


def _scratch_dir(container: Container) -> Path | None:
    """A short-named temporary dir for unix sockets (a pty's console, slirp4netns' API),
    made only when the container needs one."""
    if not container.config.get("Tty") and container.host_config.get("NetworkMode") != "private":
        return None
    return earlynet.socket_dir()


def _set_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise RuntimeError_(f"cannot become a child subreaper: {os.strerror(ctypes.get_errno())}")


def _take_lock(container: Container) -> int:
    from lamina.errors import ConflictError

    container.base.mkdir(parents=True, exist_ok=True)
    fd = os.open(container.base / "monitor.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConflictError(f"container {container.id[:12]} is already running") from None
    return fd


def _detached_main(argv: list[str]) -> int:
    """``python -m lamina.runtime.monitor ROOT ID FD``: fork, report start on FD, supervise."""
    store_root, container_id, report_fd = Path(argv[0]), argv[1], int(argv[2])
    if os.fork() != 0:
        os._exit(0)  # the launcher reaps this parent at once; the child is adopted by init
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    reported = False

    def report(message: dict) -> None:
        nonlocal reported
        if not reported:
            reported = True
            with contextlib.suppress(OSError):
                os.write(report_fd, json.dumps(message).encode())
                os.close(report_fd)

    store = Store(store_root)
    try:
        supervise(store, container_id, on_started=lambda: report({"ok": True}))
    except LaminaError as exc:
        report({"error": str(exc), "exit_code": getattr(exc, "exit_code", 125)})
        return 1
    except BaseException as exc:
        report({"error": f"monitor failed: {exc}", "exit_code": 125})
        raise
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(_detached_main(sys.argv[1:]))
