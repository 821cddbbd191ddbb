"""``--pid``, ``--ipc``, ``--sysctl`` and ``--device``: which kernel namespaces and nodes a
container shares with the host.

Two halves keyed by docker's HostConfig names (``PidMode``, ``IpcMode``, ``Sysctls``,
``Devices``), so ``inspect`` shows what docker shows: parsing the flags in docker's words
before anything exists, and changing the runtime spec at each start. Loaded only when one of
them is given, so a plain ``lamina run`` never imports it.
"""

from __future__ import annotations

import os
import stat

from lamina import TYPE_CHECKING
from lamina.errors import RuntimeError_, UsageError
from lamina.runtime.flagerror import FlagError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["apply_isolation", "isolation_fields", "parse_device"]

# docker's opts.ValidateSysctl: the sysctls a container may set in its own namespaces.
_SYSCTLS = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                      "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"})
_SYSCTL_PREFIXES = ("net.", "fs.mqueue.")
_IPC_MODES = ("", "none", "private", "shareable", "host")


def isolation_fields(options: Any) -> dict[str, Any]:
    """HostConfig fields for ``--pid``/``--ipc``/``--sysctl``/``--device`` (``options`` is
    RunOptions); refusals in docker's words."""
    fields: dict[str, Any] = {}
    if options.pid is not None:
        if options.pid not in ("", "host"):
            if options.pid.startswith("container:"):
                raise UsageError(f"--pid {options.pid}: joining another container's PID namespace is not "
                                 "supported (lamina offers host)")
            raise FlagError("--pid: invalid PID mode")
        fields["PidMode"] = options.pid
    if options.ipc is not None:
        if options.ipc not in _IPC_MODES:
            if options.ipc.startswith("container:"):
                raise UsageError(f"--ipc {options.ipc}: joining another container's IPC namespace is not "
                                 "supported (lamina offers host, private, shareable, none)")
            raise UsageError(f"Invalid IPC mode: {options.ipc}")
        fields["IpcMode"] = options.ipc or "private"
    if options.sysctls:
        fields["Sysctls"] = dict(_parse_sysctl(value) for value in options.sysctls)
    if options.devices:
        fields["Devices"] = [parse_device(value) for value in options.devices]
    return fields


def _parse_sysctl(value: str) -> tuple[str, str]:
    key, _, setting = value.partition("=")
    if key not in _SYSCTLS and not key.startswith(_SYSCTL_PREFIXES):
        raise FlagError(f'invalid argument "{value}" for "--sysctl" flag: sysctl \'{value}\' is not allowed')
    return key, setting


def parse_device(value: str) -> dict[str, str]:
    """docker's ``--device HOST[:CONTAINER][:PERMISSIONS]`` (a second field made only of r, w, m
    is the permissions)."""
    parts = value.split(":")
    if not 1 <= len(parts) <= 3:
        raise FlagError(f"invalid device specification: {value}")
    source, target, permissions = parts[0], "", "rwm"
    if len(parts) == 3:
        permissions = parts[2]
    if len(parts) >= 2:
        if _is_device_mode(parts[1]):
            permissions = parts[1]
        else:
            target = parts[1]
    target = target or source
    if not target.startswith("/"):
        raise FlagError(f"{target} is not an absolute path")
    if not _is_device_mode(permissions):
        raise FlagError(f"invalid device mode: {permissions}")
    return {"PathOnHost": source, "PathInContainer": target, "CgroupPermissions": permissions}


def _is_device_mode(text: str) -> bool:
    return bool(text) and len(text) <= 3 and all(c in "rwm" for c in text) and len(set(text)) == len(text)


def apply_isolation(spec: dict[str, Any], host_config: Mapping[str, Any]) -> None:
    """Change a docker-shaped runtime spec for the container's namespaces, sysctls and devices."""
    linux = spec["linux"]
    if host_config.get("PidMode") == "host":
        _leave_namespace(linux, "pid")
    ipc = host_config.get("IpcMode")
    if ipc == "host":
        _leave_namespace(linux, "ipc")
        _replace_shm(spec, {"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
                            "options": ["rbind", "nosuid", "nodev", "noexec"]})
    elif ipc == "none":
        _replace_shm(spec, None)
    if host_config.get("Sysctls"):
        linux.setdefault("sysctl", {}).update(host_config["Sysctls"])
    _add_devices(linux, host_config.get("Devices") or ())


def _leave_namespace(linux: dict[str, Any], kind: str) -> None:
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != kind]


def _replace_shm(spec: dict[str, Any], mount: dict[str, Any] | None) -> None:
    mounts = [m for m in spec["mounts"] if m["destination"] != "/dev/shm"]
    spec["mounts"] = mounts + ([mount] if mount else [])


def _add_devices(linux: dict[str, Any], devices: Sequence[Mapping[str, str]]) -> None:
    """Each device node made in the container (same type, numbers, mode and owner as the host's)
    and allowed by the device cgroup with its permissions."""
    rules = linux.setdefault("resources", {}).setdefault("devices", [])
    nodes = linux.setdefault("devices", [])
    for device in devices:
        host_path = device["PathOnHost"]
        try:
            st = os.stat(host_path)
        except OSError as exc:
            raise RuntimeError_(f'error gathering device information while adding custom device "{host_path}": '
                                f"{(exc.strerror or str(exc)).lower()}") from None
        if stat.S_ISCHR(st.st_mode):
            kind = "c"
        elif stat.S_ISBLK(st.st_mode):
            kind = "b"
        else:
            raise RuntimeError_(f'error gathering device information while adding custom device "{host_path}": '
                                "not a device node")
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
        nodes[:] = [n for n in nodes if n["path"] != device["PathInContainer"]]
        nodes.append({"path": device["PathInContainer"], "type": kind, "major": major, "minor": minor,
                      "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
        rules.append({"allow": True, "type": kind, "major": major, "minor": minor,
                      "access": device["CgroupPermissions"]})
