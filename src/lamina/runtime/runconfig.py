"""What ``lamina run``/``create`` asked for, merged with the image's config the way docker does.

The result is the container's document: docker's ``Config`` and ``HostConfig`` (what
``inspect`` shows), ``Path``/``Args``, the resolved mount points, and the port bindings. It is
stored once at create time; every start builds the runtime spec from it.
"""

from __future__ import annotations

import os
from pathlib import Path

from lamina import TYPE_CHECKING
from lamina.errors import UsageError
from lamina.runtime.flagerror import FlagError
from lamina.runtime.ports import PortBinding, allocate_host_ports, parse_expose, parse_publish
from lamina.runtime.restart import parse_restart_policy
from lamina.runtime.units import parse_bytes
from lamina.runtime.volumes import MountRequest, resolve_mounts

if TYPE_CHECKING:
    from typing import Any

__all__ = ["NETWORK_MODES", "RunOptions", "container_document", "parse_bytes", "parse_env_file"]

NETWORK_MODES = ("private", "host", "none")
_MIN_MEMORY = 6 * 1024 * 1024


def _run_defaults() -> dict[str, Any]:
    """RunOptions' fields: the command and ``detach`` (positional / run-only), then one per flag
    of the table in ``runflags`` (repeatable flags as lists)."""
    from lamina.runtime.runflags import CLI_ONLY, RUN_FLAGS, default_of

    fields: dict[str, Any] = {"command": [], "detach": False}
    for _names, dest, kind, _help in RUN_FLAGS:
        if dest not in CLI_ONLY:
            fields[dest] = [] if kind == "multi" else default_of(dest, kind)
    return fields


_RUN_DEFAULTS: dict[str, Any] = _run_defaults()
_SECURITY_OPTIONS = ("add_host", "cap_add", "cap_drop", "privileged", "ulimits", "shm_size", "security_opt",
                     "group_add", "dns", "dns_search", "dns_option", "cidfile")


class RunOptions:
    """The flags of ``docker run``/``create`` that lamina supports, as given (keywords only;
    ``entrypoint`` None: not given, "": reset). A plain class: ``lamina run`` loads this module,
    and a dataclass costs a millisecond to make at import."""

    __slots__ = tuple(_RUN_DEFAULTS)

    def __init__(self, **given: Any):
        unknown = given.keys() - _RUN_DEFAULTS.keys()
        if unknown:
            raise TypeError(f"RunOptions got unexpected options: {', '.join(sorted(unknown))}")
        for name, default in _RUN_DEFAULTS.items():
            setattr(self, name, given[name] if name in given else list(default) if isinstance(default, list)
                    else default)

    def __eq__(self, other: object) -> bool:
        return type(other) is RunOptions and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "RunOptions(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"


def container_document(options: RunOptions, image: str, image_id: str, image_config: dict[str, Any],
                       volumes_root: Path, *, default_network: str) -> dict[str, Any]:
    """Config, HostConfig, Path, Args, Mounts and port bindings for a new container.

    Raises UsageError for flags docker would refuse (the CLI exits 125 before anything exists);
    creates volumes and missing ``-v`` host dirs only once everything else checked out.
    """
    network = options.network or default_network
    if network in ("bridge", "default"):
        network = default_network
    if network not in NETWORK_MODES:
        raise UsageError(f"network {network} not found (lamina offers: private, host, none)")
    bindings = [binding for spec in options.publish for binding in parse_publish(spec)]
    exposed = dict.fromkeys(image_config.get("ExposedPorts") or {}, {})
    for spec in options.expose:
        exposed.update(dict.fromkeys(parse_expose(spec), {}))
    for binding in bindings:
        exposed.setdefault(binding.key, {})
    if options.publish_all:
        taken = {b.key for b in bindings}
        for key in exposed:
            number, _, protocol = key.partition("/")
            if key not in taken:
                bindings.append(PortBinding(int(number), protocol or "tcp"))
    if bindings and network != "private":
        if network == "host":
            bindings = []  # docker: published ports are discarded in host mode
        else:
            raise UsageError(f"published ports need --network private (not {network})")
    path, args = _command(options, image_config)
    workdir = options.workdir or image_config.get("WorkingDir") or ""  # docker: an empty -w keeps the image's
    if workdir and not workdir.startswith("/"):
        raise UsageError(f"the working directory '{workdir}' is invalid, it needs to be an absolute path")
    env = _environment(image_config.get("Env") or [], options)
    labels = dict(image_config.get("Labels") or {})
    for label in options.labels:
        key, _, value = label.partition("=")
        labels[key] = value
    memory = parse_bytes(options.memory) if options.memory else 0
    if memory and memory < _MIN_MEMORY:
        raise UsageError("Minimum memory limit allowed is 6MB")
    memory_swap = _swap(options.memory_swap, memory)
    nano_cpus = _nano_cpus(options.cpus) if options.cpus else 0
    requests = _mount_requests(options)
    security = _security_fields(options)
    if options.stop_signal:
        from lamina.runtime.signals import parse_signal

        parse_signal(options.stop_signal)
    restart_policy = parse_restart_policy(options.restart, auto_remove=options.auto_remove)
    bindings = allocate_host_ports(bindings)
    mounts = resolve_mounts(requests, image_config.get("Volumes"), volumes_root)

    config: dict[str, Any] = {
        "Hostname": options.hostname or "", "Domainname": "", "User": options.user or image_config.get("User") or "",
        "AttachStdin": options.interactive and not options.detach, "AttachStdout": not options.detach,
        "AttachStderr": not options.detach,
        **({"ExposedPorts": exposed} if exposed else {}),
        "Tty": options.tty, "OpenStdin": options.interactive, "StdinOnce": options.interactive and not options.detach,
        "Env": env or None, "Cmd": _cmd_field(options, image_config), "Image": image,
        "Volumes": image_config.get("Volumes") or None,
        "WorkingDir": workdir,
        "Entrypoint": _entrypoint_field(options, image_config), "OnBuild": image_config.get("OnBuild") or None,
        "Labels": labels,
    }
    health = _healthcheck(options, image_config)
    if health is not None:
        config["Healthcheck"] = health
    stop_signal = options.stop_signal or image_config.get("StopSignal")
    if stop_signal:
        config["StopSignal"] = stop_signal
    if options.stop_timeout is not None:
        config["StopTimeout"] = options.stop_timeout
    port_bindings: dict[str, list[dict[str, str]]] = {}
    for binding in bindings:
        port_bindings.setdefault(binding.key, []).append({"HostIp": binding.host_ip,
                                                          "HostPort": str(binding.host_port)})
    host_config = {
        "Binds": [r.spec for r in requests if r.spec in options.volumes] or None,
        "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": network, "PortBindings": port_bindings,
        "RestartPolicy": restart_policy, "AutoRemove": options.auto_remove,
        "VolumeDriver": "", "VolumesFrom": None, "CapAdd": None, "CapDrop": None, "Dns": [], "DnsOptions": [],
        "DnsSearch": [], "ExtraHosts": None, "IpcMode": "private", "PidMode": "", "Privileged": False,
        "PublishAllPorts": options.publish_all, "ReadonlyRootfs": options.read_only,
        "SecurityOpt": None, "Tmpfs": {t.partition(":")[0]: t.partition(":")[2] for t in options.tmpfs} or None,
        "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864, "Runtime": "runc", "Isolation": "",
        "CpuShares": 0, "Memory": memory, "NanoCpus": nano_cpus, "CgroupParent": "",
        "MemorySwap": memory_swap, "PidsLimit": options.pids_limit, "Init": options.init or None,
        "Mounts": [_mount_flag_view(r) for r in requests if r.spec in options.mounts] or None,
    }
    host_config.update(security)
    host_config.update(_isolation_fields(options))
    if options.log_driver is not None or options.log_opts:
        from lamina.runtime.logdriver import log_config

        host_config["LogConfig"] = log_config(options.log_driver, options.log_opts)
    return {"Path": path, "Args": args, "Config": config, "HostConfig": host_config, "Mounts": mounts,
            "Ports": [[b.container_port, b.protocol, b.host_ip, b.host_port] for b in bindings]}


def _security_fields(options: RunOptions) -> dict[str, Any]:
    """HostConfig fields of --add-host, --cap-add, --ulimit, --security-opt … (their parser is
    loaded only when one is given)."""
    if not any(getattr(options, name) for name in _SECURITY_OPTIONS):
        return {}
    from lamina.runtime.hostflags import security_flags

    return security_flags(options)


def _isolation_fields(options: RunOptions) -> dict[str, Any]:
    """HostConfig fields of --pid, --ipc, --sysctl, --device (parsed only when one is given)."""
    if options.pid is None and options.ipc is None and not options.sysctls and not options.devices:
        return {}
    from lamina.runtime.isolation import isolation_fields

    return isolation_fields(options)


def _healthcheck(options: RunOptions, image_config: dict[str, Any]) -> dict[str, Any] | None:
    """Config.Healthcheck: the --health-* flags over the image's HEALTHCHECK (their parser is
    loaded only when a flag is given)."""
    if not (options.no_healthcheck or options.health_cmd is not None or options.health_retries is not None
            or options.health_interval is not None or options.health_timeout is not None
            or options.health_start_period is not None):
        return image_config.get("Healthcheck") or None
    from lamina.runtime.healthconfig import health_config

    return health_config(options, image_config.get("Healthcheck"))


def _mount_requests(options: RunOptions) -> list[MountRequest]:
    """-v, --mount and --tmpfs in order (their parser is loaded only when one is given)."""
    if not (options.volumes or options.mounts or options.tmpfs):
        return []
    from lamina.runtime.mountflags import parse_mount_flag, parse_tmpfs_flag, parse_volume_flag

    requests = [parse_volume_flag(v) for v in dict.fromkeys(options.volumes)]  # docker: a repeated -v is one
    return requests + [parse_mount_flag(m) for m in options.mounts] + [parse_tmpfs_flag(t) for t in options.tmpfs]


def parse_env_file(path: str) -> list[str]:
    """docker's --env-file: ``KEY=VALUE`` lines, ``KEY`` alone takes the value from our
    environment (dropped when unset), ``#`` comments and blank lines skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise FlagError(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}") from None
    entries = []
    for line in lines:
        line = line.lstrip().removeprefix("\ufeff")
        if not line or line.startswith("#"):
            continue
        key, sep, _ = line.partition("=")
        if not key:
            raise FlagError(f"invalid env file ({path}): no variable name on line '{line}'")
        if any(c.isspace() for c in key):
            raise FlagError(f"invalid env file ({path}): variable '{key}' contains whitespaces")
        if sep:
            entries.append(line)
        elif key in os.environ:
            entries.append(f"{key}={os.environ[key]}")
    return entries


def _environment(image_env: list[str], options: RunOptions) -> list[str]:
    """docker's Config.Env: --env-file entries, then -e (one per key, the last wins; ``KEY``
    unset here stays bare, which unsets it in the container), then the image's variables that
    nothing given names."""
    given: list[str] = []
    for path in options.env_files:
        given += parse_env_file(path)
    flags: dict[str, str] = {}
    for entry in options.env:
        key, sep, _ = entry.partition("=")
        if not key:
            raise FlagError(f"invalid environment variable: {entry}")
        flags[key] = entry if sep or key not in os.environ else f"{key}={os.environ[key]}"
    given += flags.values()
    named = {entry.partition("=")[0] for entry in given}
    return given + [entry for entry in image_env if entry.partition("=")[0] not in named]


def _entrypoint_field(options: RunOptions, image_config: dict[str, Any]) -> list[str] | None:
    if options.entrypoint is None:
        return image_config.get("Entrypoint") or None
    return [options.entrypoint] if options.entrypoint else None


def _cmd_field(options: RunOptions, image_config: dict[str, Any]) -> list[str] | None:
    if options.command:
        return list(options.command)
    if options.entrypoint is not None:
        return None  # docker: a new entrypoint drops the image's CMD
    return image_config.get("Cmd") or None


def _command(options: RunOptions, image_config: dict[str, Any]) -> tuple[str, list[str]]:
    argv = (_entrypoint_field(options, image_config) or []) + (_cmd_field(options, image_config) or [])
    if not argv:
        raise UsageError("No command specified")
    return argv[0], argv[1:]


def _swap(value: str | None, memory: int) -> int:
    if value is None:
        return memory * 2 if memory else 0
    if value.strip() == "-1":
        return -1
    swap = parse_bytes(value)
    if memory and swap < memory:
        raise UsageError("Minimum memoryswap limit should be larger than memory limit, see usage")
    if not memory:
        raise UsageError("You should always set the Memory limit when using Memoryswap limit, see usage")
    return swap


def _nano_cpus(value: str) -> int:
    try:
        cpus = float(value)
    except ValueError:
        raise FlagError(f"invalid argument {value!r} for \"--cpus\" flag") from None
    if cpus <= 0:
        raise UsageError("Range of CPUs is from 0.01 to the number of CPUs available on the system")
    available = os.cpu_count() or 1
    if cpus > available:
        raise UsageError(f"Range of CPUs is from 0.01 to {available}.00, as there are only {available} CPUs "
                         "available")
    return int(cpus * 1_000_000_000)


def _mount_flag_view(request: MountRequest) -> dict[str, Any]:
    """One ``--mount`` as docker's HostConfig.Mounts shows it."""
    view: dict[str, Any] = {"Type": request.type}
    if request.source:
        view["Source"] = request.source
    view["Target"] = request.target
    if request.read_only:
        view["ReadOnly"] = True
    if request.propagation:
        view["BindOptions"] = {"Propagation": request.propagation}
    if request.no_copy:
        view["VolumeOptions"] = {"NoCopy": True, "DriverConfig": {}}
    tmpfs = {("SizeBytes" if key == "size" else "Mode"): int(value, 10 if key == "size" else 8)
             for key, _, value in (option.partition("=") for option in request.options)}
    if tmpfs:
        view["TmpfsOptions"] = tmpfs
    return view
