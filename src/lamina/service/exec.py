"""Exec: ``POST /containers/{id}/exec`` makes an exec record (kept by the service, as dockerd
keeps them in memory), ``POST /exec/{id}/start`` runs it in a :mod:`lamina.service.child`
process over the hijacked connection (or detached), ``GET /exec/{id}/json`` reports it."""

from __future__ import annotations

import secrets
import subprocess
import threading
from typing import Any

from lamina.service.attach import child_command, relay_process
from lamina.service.server import ApiError, Request, route


class ExecSession:
    """One exec as docker shows it: its command and options, whether it runs, its exit code."""

    def __init__(self, exec_id: str, container_id: str, config: dict[str, Any]):
        self.id = exec_id
        self.container_id = container_id
        self.cmd = list(config["Cmd"])
        self.tty = bool(config.get("Tty"))
        self.stdin = bool(config.get("AttachStdin"))
        self.stdout = bool(config.get("AttachStdout", True))
        self.stderr = bool(config.get("AttachStderr", True))
        self.env = list(config.get("Env") or [])
        self.user = config.get("User") or ""
        self.workdir = config.get("WorkingDir") or ""
        self.privileged = bool(config.get("Privileged"))
        self.running = False
        self.started = False
        self.exit_code: int | None = None
        self.pid = 0

    def document(self) -> dict[str, Any]:
        return {"ID": self.id, "Running": self.running, "ExitCode": self.exit_code,
                "ProcessConfig": {"tty": self.tty, "entrypoint": self.cmd[0], "arguments": self.cmd[1:],
                                  "privileged": self.privileged, "user": self.user},
                "OpenStdin": self.stdin, "OpenStderr": self.stderr, "OpenStdout": self.stdout,
                "CanRemove": False, "ContainerID": self.container_id, "DetachKeys": "", "Pid": self.pid}

    def options(self) -> dict[str, Any]:
        return {"cmd": self.cmd, "tty": self.tty, "stdin": self.stdin, "env": self.env, "user": self.user,
                "workdir": self.workdir}


@route("POST", "/containers/{name}/exec")
def create_exec(request: Request) -> None:
    config = request.json(default={}) or {}
    if not isinstance(config, dict):
        raise ApiError(400, "exec config must be a JSON object")
    cmd = config.get("Cmd")
    if isinstance(cmd, str):
        import shlex

        cmd = shlex.split(cmd)
    if not cmd or not isinstance(cmd, list) or not all(isinstance(part, str) for part in cmd):
        raise ApiError(400, "No exec command specified")
    config["Cmd"] = cmd
    container = request.client.container(request.path["name"])
    container = request.client.container_store.refresh(container)
    if container.status != "running":
        if container.status == "paused":
            raise ApiError(409, f"Container {container.id} is paused, unpause the container before exec")
        raise ApiError(409, f"Container {container.id} is not running")
    session = ExecSession(secrets.token_hex(32), container.id, config)
    request.service.exec_sessions[session.id] = session
    request.service.events.publish("container", "exec_create: " + " ".join(cmd), container.id,
                                   {"image": container.image, "name": container.name, "execID": session.id})
    request.send_json({"Id": session.id}, status=201)


@route("POST", "/exec/{id}/start")
def start_exec(request: Request) -> None:
    session = _session(request)
    body = request.json(default={}) or {}
    if session.started:
        raise ApiError(409, f"Error: Exec command {session.id} has already run")
    # the process has a terminal if the exec was created with one; the stream is raw only if
    # start asks for it too (dockerd frames a TTY exec's output when start's Tty is false)
    raw_stream = bool(body["Tty"]) if body.get("Tty") is not None else session.tty
    detach = bool(body.get("Detach"))
    session.started = session.running = True
    command = child_command(request.service, "exec", session.container_id, session.options())
    process = subprocess.Popen(command, stdin=subprocess.PIPE if session.stdin and not detach else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    session.pid = process.pid
    if detach:
        threading.Thread(target=_finish_detached, args=(session, process), daemon=True).start()
        request.send_bytes(b"")
        return
    connection = request.hijack()
    def record(code: int) -> None:
        session.exit_code = code
        session.running = False

    try:
        relay_process(process, connection, tty=raw_stream, stdin=session.stdin,
                      wanted={"stdout": session.stdout, "stderr": session.stderr}, on_exit=record)
    finally:
        session.running = False
        if session.exit_code is None:
            session.exit_code = process.wait()


@route("GET", "/exec/{id}/json")
def inspect_exec(request: Request) -> None:
    request.send_json(_session(request).document())


@route("POST", "/exec/{id}/resize")
def resize_exec(request: Request) -> None:
    _session(request)
    request.send_bytes(b"")


def _session(request: Request) -> ExecSession:
    session = request.service.exec_sessions.get(request.path["id"])
    if session is None:
        raise ApiError(404, f"No such exec instance: {request.path['id']}")
    return session


def _finish_detached(session: ExecSession, process: subprocess.Popen) -> None:
    process.communicate()
    session.exit_code = process.returncode
    session.running = False
