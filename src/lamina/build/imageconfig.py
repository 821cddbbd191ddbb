"""Dockerfile metadata instructions → the image config, exactly as docker's classic builder writes it.

Pure functions: each takes the current container config (the ``config`` object of an image
config: ``Env``, ``Cmd``, ``Entrypoint``, ``ExposedPorts``, …) and returns a new one; nothing is
mutated. Instructions must already be expanded (see ``expand_instruction``). ``created_by`` gives
the history text docker records, e.g. ``/bin/sh -c #(nop)  ENV A=b`` (two spaces: docker joins the
shell, ``"#(nop) "`` and the comment with single spaces).
"""

from __future__ import annotations

import posixpath
import signal
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from msgspec.structs import replace

from lamina.build.dockerfile.instructions import (
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Instruction,
    Label,
    Maintainer,
    OnBuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from lamina.build.dockerfile.limits import MAX_CONFIG, human
from lamina.build.dockerfile.shell_words import go_quote
from lamina.errors import BuildError

DEFAULT_SHELL = ("/bin/sh", "-c")
NOP = "#(nop) "


class ImageState(msgspec.Struct, frozen=True):
    """What a stage has built so far: the container config, the author, and whether CMD was set.

    ``cmd_set`` matters because an ENTRYPOINT clears the CMD inherited from the base image but not
    one set earlier in the same stage.
    """

    config: Mapping[str, Any] = msgspec.field(default_factory=dict)
    author: str | None = None
    cmd_set: bool = False


def apply_instruction(state: ImageState, instruction: Instruction) -> ImageState:
    """The state after ``instruction``; FROM, RUN, COPY, ADD and ARG leave the config as it is."""
    # A shallow copy: every branch below replaces the field it changes with a new value and none
    # changes a list or dict in place, so the states before keep theirs (a deep copy per step made
    # long Dockerfiles quadratic: 1,000 ENV/LABEL steps copied 600k values).
    config: dict[str, Any] = dict(state.config)
    if isinstance(instruction, Env):
        config["Env"] = set_env(config.get("Env") or [], instruction.pairs)
        _check_config_size(config)
    elif isinstance(instruction, Label):
        config["Labels"] = {**(config.get("Labels") or {}), **dict(instruction.pairs)}
        _check_config_size(config)
    elif isinstance(instruction, Cmd):
        config["Cmd"] = resolve_command(instruction.command, instruction.json_form, config)
        return replace(state, config=config, cmd_set=state.cmd_set or bool(instruction.command))
    elif isinstance(instruction, Entrypoint):
        command = instruction.command
        config["Entrypoint"] = None if command is None else resolve_command(command, instruction.json_form, config)
        if not state.cmd_set:
            config["Cmd"] = None
    elif isinstance(instruction, Expose):
        config["ExposedPorts"] = {**(config.get("ExposedPorts") or {}), **{p: {} for p in exposed_ports(instruction.ports)}}
    elif isinstance(instruction, Volume):
        volumes = dict(config.get("Volumes") or {})
        for path in instruction.paths:
            if not path:
                raise BuildError("VOLUME specified can not be an empty string")
            volumes[path] = {}
        config["Volumes"] = volumes
    elif isinstance(instruction, User):
        config["User"] = instruction.user
    elif isinstance(instruction, Workdir):
        config["WorkingDir"] = normalize_workdir(config.get("WorkingDir") or "", instruction.path)
    elif isinstance(instruction, StopSignal):
        check_signal(instruction.signal)
        config["StopSignal"] = instruction.signal
    elif isinstance(instruction, Healthcheck):
        config["Healthcheck"] = healthcheck_config(instruction, config.get("Healthcheck"))
    elif isinstance(instruction, OnBuild):
        config["OnBuild"] = [*(config.get("OnBuild") or []), instruction.expression]
    elif isinstance(instruction, Shell):
        config["Shell"] = list(instruction.shell)
    elif isinstance(instruction, Maintainer):
        return replace(state, author=instruction.name)
    else:
        return state
    return replace(state, config=config)


def _check_config_size(config: Mapping[str, Any]) -> None:
    """ENV and LABEL steps may not grow a config past MAX_CONFIG (each step is within its own
    limits; a hundred of them are not)."""
    size = sum(map(len, config.get("Env") or ()))
    size += sum(len(name) + len(value) for name, value in (config.get("Labels") or {}).items())
    if size > MAX_CONFIG:
        raise BuildError(f"the image config's ENV and LABEL values grow past {human(MAX_CONFIG)} (lamina's limit)")


def set_env(env: Sequence[str], pairs: Sequence[tuple[str, str]]) -> list[str]:
    """``KEY=value`` entries: an existing key is replaced where it stands, a new one appended."""
    result = list(env)
    for key, value in pairs:
        entry = f"{key}={value}"
        for index, existing in enumerate(result):
            if existing.partition("=")[0] == key:
                result[index] = entry
                break
        else:
            result.append(entry)
    return result


def shell_of(config: Mapping[str, Any]) -> list[str]:
    """The stage's SHELL, or ``/bin/sh -c``."""
    return list(config.get("Shell") or DEFAULT_SHELL)


def resolve_command(command: Sequence[str], json_form: bool, config: Mapping[str, Any]) -> list[str]:
    """Exec form as written; shell form wrapped in the stage's shell (even a bare ``CMD``)."""
    if json_form:
        return list(command)
    return [*shell_of(config), *command]


def exposed_ports(ports: Sequence[str]) -> list[str]:
    """``80`` → ``80/tcp``, ``8000-8002/udp`` → three ports, ``127.0.0.1:80:8080`` → ``8080/tcp``."""
    result: list[str] = []
    for spec in ports:
        for port in _port_spec(spec):
            if port not in result:
                result.append(port)
    return result


def _port_spec(spec: str) -> list[str]:
    """One port spec as go-connections' ``nat.ParsePortSpec`` reads it: ``[ip:][host:]port[/proto]``,
    the protocol being the second ``/`` part (``80/tcp/udp`` is ``80/tcp``)."""
    parts = spec.split(":")
    container = parts[-1]
    host = parts[-2] if len(parts) >= 2 else ""
    _check_ip(":".join(parts[:-2]))
    port_range, *protos = container.split("/")
    if not port_range:
        raise BuildError(f"no port specified: {spec}<empty>")
    proto = (protos[0] if protos and protos[0] else "tcp").lower()
    start, end = _port_range(port_range, "containerPort")
    if host:
        host_start, host_end = _port_range(host, "hostPort")
        if end - start != host_end - host_start and end != start:
            raise BuildError(f"invalid ranges specified for container and host Ports: {port_range} and {host}")
    if proto not in ("tcp", "udp", "sctp"):
        raise BuildError(f"invalid proto: {proto}")
    return [f"{port}/{proto}" for port in range(start, end + 1)]


def _check_ip(text: str) -> None:
    """The address part of ``ip:host:port`` must be an IP (IPv6 in brackets), as docker checks."""
    address = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if not address:
        return
    import ipaddress  # only an EXPOSE with an address needs it

    try:
        if "%" in address or (":" in address and text == address):
            raise ValueError(address)
        ipaddress.ip_address(address)
    except ValueError:
        raise BuildError(f"invalid ip address: {address}") from None


def _port_range(text: str, what: str) -> tuple[int, int]:
    low, dash, high = text.partition("-")
    try:
        start = _port_number(low)
        end = _port_number(high) if dash else start
    except ValueError:
        raise BuildError(f"invalid {what}: {text}") from None
    if end < start:
        raise BuildError(f"invalid {what}: {text}")
    return start, end


def _port_number(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ValueError(text)
    number = int(text)
    if number > 65535:
        raise ValueError(text)
    return number


def normalize_workdir(current: str, requested: str) -> str:
    """A relative WORKDIR continues from the previous one (``/`` when none), cleaned; an absolute
    one is kept as written (``/app/`` stays ``/app/`` in the config, as docker's classic builder
    keeps it)."""
    if not requested:
        raise BuildError("cannot normalize nothing")
    if requested.startswith("/"):
        return requested
    return "/" + posixpath.normpath(posixpath.join("/", current, requested)).lstrip("/")


def healthcheck_config(health: Healthcheck, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``Healthcheck`` object; zero values are left out of the JSON.

    docker merges each committed config with the one before it, so a zero duration or retry
    count keeps the previous healthcheck's value, even under ``HEALTHCHECK NONE``.
    """
    config: dict[str, Any] = {"Test": list(health.test)}
    for key, value in (
        ("Interval", health.interval),
        ("Timeout", health.timeout),
        ("StartPeriod", health.start_period),
        ("StartInterval", health.start_interval),
        ("Retries", health.retries),
    ):
        if value:
            config[key] = value
        elif previous and previous.get(key):
            config[key] = previous[key]
    return config


_SIGNAL_NAMES = {member.name.removeprefix("SIG") for member in signal.Signals} | {"CLD", "IOT", "POLL", "RTMIN", "RTMAX"}
_SIGNAL_NAMES |= {f"RTMIN+{n}" for n in range(1, 16)} | {f"RTMAX-{n}" for n in range(1, 15)}


def check_signal(raw: str) -> None:
    """Reject what docker's ``signal.ParseSignal`` rejects: ``0``, unknown names."""
    if raw.isascii() and raw.lstrip("+-").isdigit():
        if int(raw) == 0:
            raise BuildError(f"Invalid signal: {raw}")
        return
    if raw.upper().removeprefix("SIG") not in _SIGNAL_NAMES:
        raise BuildError(f"Invalid signal: {raw}")


def created_by(
    instruction: Instruction,
    state: ImageState,
    *,
    build_args: Mapping[str, str] | None = None,
    source_hash: str = "",
) -> str:
    """The history ``created_by`` docker's classic builder records for ``instruction``.

    ``state`` is the state *after* the instruction (WORKDIR reports the resolved directory,
    SHELL the new shell). ``build_args`` are the ARG values in effect for a RUN that docker
    prefixes as ``|N K=V …``; ``source_hash`` is COPY/ADD's ``file:…``/``dir:…``/``multi:…`` digest.
    """
    config = state.config
    shell = shell_of(config)
    if isinstance(instruction, Run):
        return " ".join(run_command(instruction, config, build_args))
    if isinstance(instruction, Copy | Add):
        chown = f"--chown={instruction.chown} " if instruction.chown else ""
        if isinstance(instruction, Add) and len(instruction.sources) == 1 and \
                instruction.sources[0].startswith(("http://", "https://")):
            source_hash = source_hash.removeprefix("file:")  # docker records a download's bare hash
        comment = f"{instruction.keyword.upper()} {chown}{source_hash} in {instruction.dest} "
        return " ".join([*shell, NOP + comment])
    if isinstance(instruction, Workdir):
        return " ".join([*shell, NOP + "WORKDIR " + str(config.get("WorkingDir", ""))])
    return " ".join([*shell, NOP, _commit_message(instruction, state)])


def run_command(instruction: Run, config: Mapping[str, Any], build_args: Mapping[str, str] | None = None,
                argv: Sequence[str] | None = None) -> list[str]:
    """The command docker records for a RUN: ``|N K=V`` build args (sorted) then the argv.

    ``argv`` is what runs when it is not the plain command (heredocs: BuildKit records the
    script, so a changed heredoc body is a different step for the cache too)."""
    argv = list(argv) if argv is not None else resolve_command(instruction.command, instruction.json_form, config)
    if build_args is None:  # no ARG in effect; an empty mapping still gives docker's "|0"
        return argv
    pairs = sorted(f"{key}={value}" for key, value in build_args.items())
    return [f"|{len(pairs)}", *pairs, *argv]


def _commit_message(instruction: Instruction, state: ImageState) -> str:
    config = state.config
    if isinstance(instruction, Env):
        return "ENV" + "".join(f" {key}={value}" for key, value in instruction.pairs)
    if isinstance(instruction, Label):
        return "LABEL" + "".join(f" {key}={value}" for key, value in instruction.pairs)
    if isinstance(instruction, Maintainer):
        return "MAINTAINER " + instruction.name
    if isinstance(instruction, OnBuild):
        return "ONBUILD " + instruction.expression
    if isinstance(instruction, Cmd):
        return "CMD " + go_quoted_list(resolve_command(instruction.command, instruction.json_form, config))
    if isinstance(instruction, Entrypoint):
        return "ENTRYPOINT " + go_quoted_list(config.get("Entrypoint"))
    if isinstance(instruction, Healthcheck):
        return "HEALTHCHECK " + _healthcheck_text(instruction)
    if isinstance(instruction, Expose):
        return "EXPOSE " + " ".join(instruction.ports)
    if isinstance(instruction, User):
        return "USER " + instruction.user
    if isinstance(instruction, Volume):
        return "VOLUME [" + " ".join(instruction.paths) + "]"
    if isinstance(instruction, StopSignal):
        return "STOPSIGNAL " + instruction.signal
    if isinstance(instruction, Arg):
        return "ARG " + " ".join(key if value is None else f"{key}={value}" for key, value in instruction.pairs)
    if isinstance(instruction, Shell):
        return "SHELL [" + " ".join(instruction.shell) + "]"
    raise BuildError(f"{instruction.keyword.upper()} has no commit message")


def _healthcheck_text(health: Healthcheck) -> str:
    """Go's ``%q`` of the healthcheck struct pointer, as released dockers (25–28) print it.

    Durations print quoted, and the retry count as a quoted rune (3 → ``'\\x03'``).
    """
    durations = (health.interval, health.timeout, health.start_period, health.start_interval)
    fields = [go_quoted_list(health.test), *(f'"{go_duration(d)}"' for d in durations), go_quote_rune(health.retries)]
    return "&{" + " ".join(fields) + "}"


def go_quote_rune(code: int) -> str:
    """Go's ``%q`` of an integer: a single-quoted character literal."""
    ch = chr(code)
    if ch in ("'", "\\"):
        return f"'\\{ch}'"
    if ch.isprintable():
        return f"'{ch}'"
    escaped = go_quote(ch)[1:-1]
    return f"'{escaped}'"


def go_quoted_list(items: Sequence[str] | None) -> str:
    """Go's ``%q`` of a string slice: ``["/bin/sh" "-c" "echo hi"]``."""
    return "[" + " ".join(go_quote(item) for item in items or ()) + "]"


def go_duration(nanoseconds: int) -> str:
    """Go's ``time.Duration.String``: ``0s``, ``1.5s``, ``1m30s``, ``100ms``, ``2h0m0s``."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    n = abs(nanoseconds)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                return sign + _decimal(n, size) + unit
    hours, rest = divmod(n, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _decimal(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _decimal(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{fraction:0{digits}d}".rstrip("0")
