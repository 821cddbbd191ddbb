"""OCI runtime-spec ``config.json`` for a container, shaped like the one docker generates.

What docker's daemon puts in a spec (moby ``oci.DefaultLinuxSpec`` plus the daemon's options),
written down as data: the capability set, masked and read-only ``/proc``/``/sys`` paths, the
``/proc``, ``/dev``, ``/dev/pts``, ``/dev/shm``, ``/dev/mqueue``, ``/sys`` mounts, the device
cgroup rules, namespaces (no network namespace for ``host``), and the environment docker
prepends (``PATH``, ``HOSTNAME``; ``HOME`` from the user's passwd entry when the image sets
none, which runc would otherwise add).

Deliberate differences from docker: no seccomp profile and no AppArmor profile (runc applies
neither unless given one; docker's seccomp profile is data we would have to copy), and
``RLIMIT_NOFILE`` is set to docker's usual 1048576 (capped at the caller's hard limit) instead
of inheriting whatever soft limit the calling shell had.
"""

from __future__ import annotations

import json
import os
import resource
from collections import namedtuple
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from lamina import TYPE_CHECKING
from lamina.runtime.users import ExecUser

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "HOST_FLAG_KEYS",
    "SHM_SIZE_BYTES",
    "DEFAULT_CAPABILITIES",
    "DEFAULT_PATH",
    "Mount",
    "ProcessSpec",
    "Resources",
    "container_env",
    "runtime_spec",
    "uses_host_flags",
    "write_config",
]

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)  # fmt: skip
MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
    "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
)  # fmt: skip
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
NOFILE_LIMIT = 1048576
SHM_SIZE = "65536k"
SHM_SIZE_BYTES = 64 << 20  # the same 64 MiB, as docker's ShmSize default
# HostConfig fields whose non-default value means ``runtime.hostflags`` changes the spec.
HOST_FLAG_KEYS = ("ExtraHosts", "CapAdd", "CapDrop", "Privileged", "Ulimits", "SecurityOpt", "GroupAdd",
                  "Dns", "DnsSearch", "DnsOptions")

# Docker's device cgroup: deny everything, then allow the default nodes (null, zero, urandom,
# random, tty, console), and mknod of any node (m) so images can create device files.
_DEVICE_RULES: tuple[tuple[bool, str | None, int | None, int | None, str], ...] = (
    (False, None, None, None, "rwm"),
    (True, "c", None, None, "m"),
    (True, "b", None, None, "m"),
    (True, "c", 1, 5, "rwm"),
    (True, "c", 1, 3, "rwm"),
    (True, "c", 1, 9, "rwm"),
    (True, "c", 1, 8, "rwm"),
    (True, "c", 5, 0, "rwm"),
    (True, "c", 5, 1, "rwm"),
    (True, "c", 136, None, "rwm"),  # /dev/pts/*
    (True, "c", 5, 2, "rwm"),  # /dev/ptmx
)  # docker's extra "deny c 10:229" (fuse) is left out: cgroup v1 cannot punch it out of "c *:* m",
#    and without an allow rule /dev/fuse is not usable anyway.


class ProcessSpec(namedtuple("ProcessSpec", "args env cwd user terminal", defaults=((), "/", "", False))):
    """What to run: argv, environment (``KEY=VALUE`` in order), working dir, docker ``USER``."""

    # args: Sequence[str]; env: Sequence[str]; cwd: str; user: str; terminal: bool
    __slots__ = ()


class Mount(namedtuple("Mount", "destination source type options", defaults=("", "bind", ()))):
    """One runtime-spec mount (a bind of a host path, a tmpfs, …) added after the defaults."""

    # destination: str; source: str; type: str; options: tuple[str, ...]
    __slots__ = ()

    @classmethod
    def bind(cls, source: str | Path, destination: str, *, read_only: bool = True) -> Mount:
        options = ("rbind", "ro" if read_only else "rw", "nosuid", "nodev")
        return cls(destination=destination, source=os.fspath(source), type="bind", options=options)

    @classmethod
    def tmpfs(cls, destination: str, *, size_bytes: int = 0, mode: int | None = None) -> Mount:
        options = ["nosuid", "nodev"]
        if size_bytes:
            options.append(f"size={size_bytes}")
        if mode is not None:
            options.append(f"mode={mode:o}")
        return cls(destination=destination, source="tmpfs", type="tmpfs", options=tuple(options))


class Resources(namedtuple("Resources", "memory_bytes memory_swap_bytes nano_cpus cpu_shares pids_limit "
                                        "cpuset_cpus cpu_period cpu_quota",
                defaults=(None, None, None, None, None, None, None, None))):
    """Optional cgroup limits (``docker run --memory --cpus --pids-limit --cpu-shares``; ``docker
    build --cpuset-cpus --cpu-period --cpu-quota``)."""

    # memory_bytes: int | None; memory_swap_bytes: int | None; nano_cpus: int | None; cpu_shares: int | None;
    # pids_limit: int | None; cpuset_cpus: str | None; cpu_period: int | None; cpu_quota: int | None
    __slots__ = ()

    def to_spec(self) -> dict[str, Any]:
        resources: dict[str, Any] = {}
        if self.memory_bytes is not None:
            resources["memory"] = {"limit": self.memory_bytes}
            if self.memory_swap_bytes is not None:
                resources["memory"]["swap"] = self.memory_swap_bytes
        cpu: dict[str, Any] = {}
        if self.nano_cpus:
            period = 100_000  # docker's --cpus: quota over a 100 ms period
            cpu.update(period=period, quota=self.nano_cpus * period // 1_000_000_000)
        if self.cpu_shares:
            cpu["shares"] = self.cpu_shares
        if self.cpu_period:
            cpu["period"] = self.cpu_period
        if self.cpu_quota:
            cpu["quota"] = self.cpu_quota
        if self.cpuset_cpus:
            cpu["cpus"] = self.cpuset_cpus
        if cpu:
            resources["cpu"] = cpu
        if self.pids_limit is not None:
            resources["pids"] = {"limit": self.pids_limit}
        return resources


class EtcFiles(namedtuple("EtcFiles", "resolv_conf hosts hostname extra",
               defaults=(None, None, None, MappingProxyType({})))):
    """Generated files bound read-only over ``/etc/resolv.conf``, ``/etc/hosts``, ``/etc/hostname``."""

    # resolv_conf: Path | None; hosts: Path | None; hostname: Path | None; extra: Mapping[str, Path]
    __slots__ = ()

NO_ETC_FILES = EtcFiles()


def container_env(env: Sequence[str], *, hostname: str, home: str, tty: bool = False,
                  exec_env: Sequence[str] = ()) -> list[str]:
    """Docker's process environment: ``PATH``, ``HOSTNAME`` (and ``TERM`` for a terminal)
    overridden by ``env``, then (for an exec) all of that by ``exec_env``; ``HOME`` appended
    from the user's home when nothing set it (runc's rule)."""
    defaults = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}", *(["TERM=xterm"] if tty else [])]
    result = replace_or_append(replace_or_append(defaults, env), exec_env)
    if not any(entry.startswith("HOME=") for entry in result):
        result.append(f"HOME={home}")
    return result


def replace_or_append(defaults: Sequence[str], overrides: Sequence[str]) -> list[str]:
    """moby's ReplaceOrAppendEnvValues: an override replaces the default of its key or is
    appended (a key given twice appears twice, as in docker); a bare ``KEY`` removes the
    default of that key."""
    slots = {entry.partition("=")[0]: index for index, entry in enumerate(defaults)}
    merged: list[str | None] = list(defaults)
    for entry in overrides:
        key, sep, _ = entry.partition("=")
        if key in slots:
            merged[slots[key]] = entry if sep else None
        elif sep:
            merged.append(entry)
    return [entry for entry in merged if entry is not None]


def uses_host_flags(host_config: Mapping[str, Any]) -> bool:
    """Whether a flag of ``runtime.hostflags`` changes this container's spec (it is loaded only then)."""
    return any(host_config.get(key) for key in HOST_FLAG_KEYS) or \
        host_config.get("ShmSize", SHM_SIZE_BYTES) != SHM_SIZE_BYTES


def runtime_spec(
    *,
    rootfs: Path,
    process: ProcessSpec,
    user: ExecUser,
    hostname: str,
    network: str = "none",
    network_namespace: str | None = None,
    etc_files: EtcFiles = NO_ETC_FILES,
    mounts: Sequence[Mount] = (),
    resources: Resources | None = None,
    readonly_rootfs: bool = False,
    no_new_privileges: bool = False,
    cgroups_path: str | None = None,
) -> dict[str, Any]:
    """The ``config.json`` document for running ``process`` in ``rootfs``.

    ``network`` is ``host`` (share the host's network namespace, like ``--network host``) or
    ``none`` (a fresh namespace with only ``lo``, or the one at ``network_namespace``, which the
    caller has set up). ``process.env`` is used as given: build it
    with :func:`container_env`.
    """
    if network not in ("host", "none"):
        raise ValueError(f"unsupported network mode {network!r}")
    namespaces = [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
    if network != "host":
        namespaces.append({"type": "network", **({"path": network_namespace} if network_namespace else {})})
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": process.terminal,
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": list(user.additional_gids)},
            "args": list(process.args),
            "env": list(process.env),
            "cwd": process.cwd or "/",
            "capabilities": {name: list(DEFAULT_CAPABILITIES) for name in ("bounding", "effective", "permitted")},
            "rlimits": [_nofile_limit()],
            "noNewPrivileges": no_new_privileges,
        },
        "root": {"path": os.fspath(rootfs), "readonly": readonly_rootfs},
        "hostname": hostname,
        "mounts": _default_mounts() + _etc_mounts(etc_files, readonly_rootfs=readonly_rootfs)
        + [_mount_spec(m) for m in mounts],
        "linux": {
            "namespaces": namespaces,
            "maskedPaths": list(MASKED_PATHS) + _thermal_throttle_paths(),
            "readonlyPaths": list(READONLY_PATHS),
            "resources": {"devices": [_device_rule(*rule) for rule in _DEVICE_RULES]},
        },
    }
    if resources is not None:
        spec["linux"]["resources"].update(resources.to_spec())
    if cgroups_path:
        spec["linux"]["cgroupsPath"] = cgroups_path
    return spec


def write_config(bundle: Path, spec: Mapping[str, Any]) -> Path:
    """Write ``bundle/config.json`` (the runtime reads it once, at create time)."""
    path = Path(bundle) / "config.json"
    path.write_text(json.dumps(spec, separators=(",", ":")))  # compact: the C encoder, not the indenting one
    return path


def _default_mounts() -> list[dict[str, Any]]:
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={SHM_SIZE}"]},
    ]
    return mounts


def _etc_mounts(etc_files: EtcFiles, *, readonly_rootfs: bool) -> list[dict[str, Any]]:
    """The generated resolv.conf, hosts and hostname, writable as in docker (they are this
    container's own copies: nothing written there reaches the host or a layer) unless the
    root is read-only; any extra file read-only."""
    named = {"/etc/resolv.conf": etc_files.resolv_conf, "/etc/hosts": etc_files.hosts,
             "/etc/hostname": etc_files.hostname}
    own = ["rbind", "rprivate", *(["ro"] if readonly_rootfs else [])]
    return [
        {"destination": destination, "type": "bind", "source": os.fspath(source), "options": list(own)}
        for destination, source in named.items() if source is not None
    ] + [
        {"destination": destination, "type": "bind", "source": os.fspath(source),
         "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]}
        for destination, source in etc_files.extra.items() if source is not None
    ]


def _mount_spec(mount: Mount) -> dict[str, Any]:
    return {"destination": mount.destination, "type": mount.type, "source": mount.source,
            "options": list(mount.options)}


def _device_rule(allow: bool, kind: str | None, major: int | None, minor: int | None, access: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"allow": allow, "access": access}
    if kind is not None:
        rule["type"] = kind
    if major is not None:
        rule["major"] = major
    if minor is not None:
        rule["minor"] = minor
    return rule


def _nofile_limit() -> dict[str, Any]:
    """Docker's containers usually get 1048576 open files; without CAP_SYS_RESOURCE the hard
    limit cannot be raised, so it is capped at ours (soft raised to hard, as docker does)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = NOFILE_LIMIT if hard == resource.RLIM_INFINITY else min(NOFILE_LIMIT, hard)
    return {"type": "RLIMIT_NOFILE", "hard": limit, "soft": limit}


def _thermal_throttle_paths() -> list[str]:
    """Per-CPU thermal_throttle dirs leak host activity; docker masks the ones that exist."""
    base = "/sys/devices/system/cpu"
    try:
        names = os.listdir(base)
    except OSError:
        return []
    paths = (f"{base}/{name}/thermal_throttle" for name in names if name[3:].isdigit() and name.startswith("cpu"))
    return sorted(path for path in paths if os.path.isdir(path))
