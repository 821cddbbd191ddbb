"""The RUN step: the one place the builder hands a command to a container runtime.

The executor calls :func:`execute_run` for every ``RUN`` with everything the step needs and
records the result (history, cache, the next image) itself. A RUN that changes nothing returns
``None`` as its layer: docker then records an ``empty_layer`` history entry.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec
import msgspec.structs

from lamina.build.args import environment
from lamina.build.dockerfile import Run
from lamina.build.dockerfile.mounts import MountError, parse_mount
from lamina.build.dockerfile.parser import parse_heredoc_word
from lamina.build.dockerfile.shell_words import process_word
from lamina.build.events import BuildEvent, RunStarted, StepOutput
from lamina.build.imageconfig import resolve_command, shell_of
from lamina.build.run_mounts import RunMounts
from lamina.build.state import StageState
from lamina.errors import DockerfileError, RuntimeError_
from lamina.runtime.spec import Mount, ProcessSpec, Resources
from lamina.runtime.step import commit_step, run_in_snapshot
from lamina.store.store import LayerRecord, Store


class RunRequest(msgspec.Struct, frozen=True):
    """One RUN, ready to execute.

    - ``instruction``: as written (RUN text is never expanded by the builder; the shell does it).
    - ``state``: the image before the step (config: Env, User, WorkingDir, Shell; diff_ids).
    - ``build_args``: ARG values in effect and not shadowed by ENV; they go into the command's
      environment (not into the image).
    - ``network``: ``default``, ``none`` or ``host`` (``RUN --network`` already applied).
    - ``secrets``: ``--secret`` id → file on the host, for ``RUN --mount=type=secret``.
    - ``context_dir``: the build context on disk (``RUN --mount=type=bind`` without ``from``).
    - ``stage_layers``: a stage name/index or image name → its diff_ids (``--mount from=``).
    - ``host_config``: docker's HostConfig fields the build flags set for RUN containers
      (``--add-host``, ``--ulimit``, ``--shm-size``, ``--security-opt``, memory and CPU limits).
    - ``mtime_clamp``: SOURCE_DATE_EPOCH; no mtime in the layer is newer (BuildKit's rewrite-timestamp).
    - ``emit``: reports progress (``RunStarted`` with the container id, ``StepOutput`` with the
      command's stdout/stderr bytes as they come).
    """

    store: Store
    instruction: Run
    state: StageState
    build_args: Mapping[str, str]
    network: str = "default"
    secrets: Mapping[str, Path] = msgspec.field(default_factory=dict)
    context_dir: Path | None = None
    stage_layers: Callable[[str], tuple[str, ...]] | None = None
    emit: Callable[[BuildEvent], None] | None = None
    filename: str = "Dockerfile"
    host_config: Mapping[str, Any] = msgspec.field(default_factory=dict)
    mtime_clamp: int | None = None


class RunResult(msgspec.Struct, frozen=True):
    """The new layer (None when the command changed nothing) and the stage state after it.

    ``state`` is the input state with ``diff_ids`` extended by the layer; the executor adds the
    history entry and the image.
    """

    layer: LayerRecord | None
    state: StageState


def execute_run(request: RunRequest) -> RunResult:
    """Run ``request.instruction`` in a container on the stage's layers and capture its changes.

    The layer blob must be in the content store (the executor holds a lease) before returning.
    A non-zero exit is a BuildError naming the line, with docker's wording and exit code; the
    last lines of the output ride along in ``output_tail``.
    """
    instruction = request.instruction
    if instruction.security == "insecure":
        # BuildKit refuses it unless the builder was started with the security.insecure
        # entitlement; lamina grants no entitlements.
        raise DockerfileError("RUN --security=insecure is not allowed: granting entitlement security.insecure "
                              "is not supported", filename=request.filename, line=instruction.line)
    if instruction.devices:
        raise DockerfileError("RUN --device is not supported", filename=request.filename, line=instruction.line)
    config = request.state.config
    argv, script = run_argv(instruction, config)
    if not argv:
        argv = _image_command(config, request.build_args, request.filename, instruction.line)
    env = [*(config.get("Env") or []), *(f"{key}={value}" for key, value in request.build_args.items())]
    expand_env = {**environment(list(config.get("Env") or [])), **request.build_args}
    try:
        mount_requests = [parse_mount(spec, lambda word: process_word(word, expand_env))
                          for spec in instruction.mount_specs]
    except MountError as exc:
        raise DockerfileError(str(exc), filename=request.filename, line=instruction.line) from None
    tail = _Tail()

    def output(chunk: bytes) -> None:
        tail.add(chunk)
        if request.emit is not None:
            request.emit(StepOutput(chunk))

    container_id = secrets.token_hex(32)
    if request.emit is not None:
        request.emit(RunStarted(container_id))
    with RunMounts(request.store, mount_requests, secrets=request.secrets, context_dir=request.context_dir,
                   stage_layers=request.stage_layers) as run_mounts:

        def prepare(scratch: Path) -> list[Mount]:
            mounts = run_mounts.prepare(scratch)
            if script is not None:
                mounts.append(_script_mount(scratch, *script))
            return mounts

        process = ProcessSpec(args=argv, env=[*env, *run_mounts.secret_env()],
                              cwd=os.path.normpath(str(config.get("WorkingDir") or "/")),  # WORKDIR as written
                              user=str(config.get("User") or ""))
        try:
            result = run_in_snapshot(
                request.store, request.state.diff_ids, process, network=_network(request.network),
                output=output, prepare_mounts=prepare, container_id=container_id,
                volumes=list(config.get("Volumes") or {}), host_config=request.host_config or None,
                resources=_resources(request.host_config),
            )
        except RuntimeError_ as exc:
            raise DockerfileError(str(exc), filename=request.filename, line=instruction.line) from None
    with result:
        if result.exit_code != 0:
            error = DockerfileError(f"The command '{' '.join(argv)}' returned a non-zero code: {result.exit_code}",
                                    filename=request.filename, line=instruction.line)
            error.exit_code = result.exit_code
            error.output_tail = tail.text()  # type: ignore[attr-defined]
            raise error
        layer = commit_step(request.store, result, snapshot_below=request.state.diff_ids,
                            mtime_clamp=request.mtime_clamp)
    state = request.state
    if layer is not None:
        state = msgspec.structs.replace(state, diff_ids=(*state.diff_ids, layer.diff_id))
    return RunResult(layer=layer, state=state)


def run_argv(instruction: Run, config: Mapping[str, Any]) -> tuple[list[str], tuple[str, str] | None]:
    """The argv of a RUN, and a script to mount at ``/dev/pipes/<name>`` (name, text) if any.

    Heredocs go to the shell as BuildKit hands them over: ``RUN <<EOF`` alone runs the body
    as the shell's command string (or, starting with ``#!``, as an executable file at
    ``/dev/pipes/EOF``); a command with heredocs gets them appended, for the shell to read.
    """
    if instruction.json_form or not instruction.heredocs:
        return resolve_command(instruction.command, instruction.json_form, config), None
    command = " ".join(instruction.command)
    first = instruction.heredocs[0]
    if parse_heredoc_word(command) is not None and len(instruction.heredocs) == 1:
        body = first.text()
        if body.startswith("#!"):
            return [*shell_of(config), f"{PIPES_DIR}/{first.name}"], (first.name, body)
        return [*shell_of(config), body], None
    text = command + "".join(f"\n{heredoc.content}{heredoc.name}" for heredoc in instruction.heredocs)
    return [*shell_of(config), text], None


PIPES_DIR = "/dev/pipes"


def _image_command(config: Mapping[str, Any], build_args: Mapping[str, str], filename: str, line: int) -> list[str]:
    """What ``RUN []`` runs: docker creates the step's container with no command, and the daemon
    fills in the image's ENTRYPOINT (run without arguments) or, lacking one, its CMD.

    With an ARG in effect docker has replaced the entrypoint by ``[""]`` (its RUN override), so
    the daemon finds neither and refuses the container; so does an image with neither."""
    argv = [] if build_args else list(config.get("Entrypoint") or config.get("Cmd") or [])
    if not argv:
        raise DockerfileError("failed to create the step's container: No command specified",
                              filename=filename, line=line)
    return argv


def _script_mount(scratch: Path, name: str, body: str) -> Mount:
    script = scratch / "pipes" / name
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(body)
    script.chmod(0o755)
    return Mount.bind(script, f"{PIPES_DIR}/{name}", read_only=True)


def _network(mode: str) -> str:
    """``default`` runs in the host's network namespace (lamina has no bridge, and RUN apt-get
    must work) but looks like docker's default bridge inside: own hostname, default hosts file."""
    return mode if mode in ("none", "host") else "default"


def _resources(host_config: Mapping[str, Any]) -> Resources | None:
    """The RUN container's cgroup limits from ``docker build -m --memory-swap -c --cpuset-cpus
    --cpu-period --cpu-quota``."""
    limits = {field: host_config.get(key) or None for field, key in _RESOURCE_KEYS}
    if not any(limits.values()):
        return None
    if not limits["memory_bytes"]:
        limits["memory_swap_bytes"] = None
    return Resources(**limits)


_RESOURCE_KEYS = (("memory_bytes", "Memory"), ("memory_swap_bytes", "MemorySwap"), ("cpu_shares", "CpuShares"),
                  ("cpuset_cpus", "CpusetCpus"), ("cpu_period", "CpuPeriod"), ("cpu_quota", "CpuQuota"))


class _Tail:
    """The last lines a step printed, for the error message of a failed RUN."""

    def __init__(self, limit: int = 4096):
        self.limit = limit
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.limit:
            del self.data[: len(self.data) - self.limit]

    def text(self) -> str:
        lines = bytes(self.data[-self.limit:]).decode(errors="replace").splitlines()
        return "\n".join(lines[-20:])
