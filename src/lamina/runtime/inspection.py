"""``docker container inspect`` of a lamina container: the stored document under docker's keys,
with the fields lamina has no use for filled in with docker's defaults, so templates and
tools that read them find what they would find in docker."""

from __future__ import annotations

import os

from lamina import TYPE_CHECKING
from lamina.runtime.containers import Container, ContainerStore
from lamina.runtime.logs import format_nano
from lamina.runtime.spec import MASKED_PATHS, READONLY_PATHS

if TYPE_CHECKING:
    from typing import Any

__all__ = ["inspect_document"]

_ZERO_TIME = "0001-01-01T00:00:00Z"
_PRIVATE_ADDRESS, _PRIVATE_GATEWAY = "10.0.2.100", "10.0.2.2"
_HOST_CONFIG_DEFAULTS: dict[str, Any] = {
    "ConsoleSize": [0, 0], "Cgroup": "", "CgroupnsMode": "host", "GroupAdd": None, "Links": None,
    "OomScoreAdj": 0, "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [],
    "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0,
    "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
    "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None, "KernelMemory": 0, "KernelMemoryTCP": 0,
    "MemoryReservation": 0, "MemorySwappiness": None, "OomKillDisable": False, "Ulimits": [], "CpuCount": 0,
    "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
}
_ENDPOINT_DEFAULTS: dict[str, Any] = {
    "IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "", "EndpointID": "", "Gateway": "",
    "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
    "MacAddress": "", "DriverOpts": None,
}


def inspect_document(containers: ContainerStore, container: Container) -> dict[str, Any]:
    """``docker container inspect``: docker's keys and shapes."""
    document = container.document
    running = container.running
    base = os.fspath(container.base)
    started = bool(container.started_at)
    return {
        "Id": container.id,
        "Created": _time(container.created),
        "Path": document["Path"],
        "Args": document["Args"],
        "State": {
            "Status": container.status, "Running": running, "Paused": container.status == "paused",
            "Restarting": container.status == "restarting", "OOMKilled": container.oom_killed,
            "Dead": container.status == "dead", "Pid": container.pid if running else 0,
            "ExitCode": container.exit_code, "Error": container.error,
            "StartedAt": _time(container.started_at), "FinishedAt": _time(container.finished_at),
            **_health(container),
        },
        "Image": container.image_id,
        "ResolvConfPath": f"{base}/etc/resolv.conf" if started else "",
        "HostnamePath": f"{base}/etc/hostname" if started else "",
        "HostsPath": f"{base}/etc/hosts" if started else "",
        "LogPath": os.fspath(container.log_path) if started else "",
        "Name": "/" + container.name,
        "RestartCount": int(document.get("RestartCount") or 0),
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": _host_config(container.host_config),
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": _lower_dirs(container), "UpperDir": f"{base}/upper",
                                                    "WorkDir": f"{base}/work", "MergedDir": f"{base}/rootfs"}},
        "Mounts": _mounts(document, container.host_config),
        "Config": container.config,
        "NetworkSettings": _network_settings(container),
    }


def _time(timestamp: float) -> str:
    return format_nano(int(timestamp * 1_000_000_000)) if timestamp else _ZERO_TIME


def _host_config(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored HostConfig plus docker's defaults for what lamina does not set; ``Init``
    only when given (docker omits it otherwise)."""
    host_config = {**_HOST_CONFIG_DEFAULTS, **stored}
    if host_config.get("Init") is None:
        host_config.pop("Init", None)
    host_config.setdefault("MaskedPaths", list(MASKED_PATHS))
    host_config.setdefault("ReadonlyPaths", list(READONLY_PATHS))
    return host_config


def _mounts(document: dict[str, Any], host_config: dict[str, Any]) -> list[dict[str, Any]]:
    """docker's Mounts: lamina's bookkeeping keys dropped, and no ``--tmpfs`` mounts (docker
    lists those under HostConfig.Tmpfs only)."""
    flag_mounts = {view["Target"] for view in host_config.get("Mounts") or []}
    tmpfs_flags = set(host_config.get("Tmpfs") or {}) - flag_mounts
    return [{k: v for k, v in point.items() if k not in ("Anonymous", "NoCopy", "Options")}
            for point in document.get("Mounts") or []
            if not (point["Type"] == "tmpfs" and point["Destination"] in tmpfs_flags)]


def _lower_dirs(container: Container) -> str:
    """The overlay's lower dirs as docker lists them (init layer first), when they exist."""
    links = container.base / "l"
    try:
        count = len(os.listdir(links))
    except OSError:
        return ""
    return ":".join(os.path.realpath(links / str(index)) for index in range(count))


def _network_settings(container: Container) -> dict[str, Any]:
    running = container.running
    network = container.host_config.get("NetworkMode", "")
    address = _PRIVATE_ADDRESS if network == "private" and running else ""
    endpoint = {**_ENDPOINT_DEFAULTS, "IPAddress": address, "Gateway": _PRIVATE_GATEWAY if address else "",
                "IPPrefixLen": 24 if address else 0}
    return {
        "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "Ports": _ports(container),
        "SandboxKey": f"/proc/{container.pid}/ns/net" if running and network != "host" else "",
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": "",
        "Gateway": endpoint["Gateway"], "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "IPAddress": address, "IPPrefixLen": endpoint["IPPrefixLen"], "IPv6Gateway": "", "MacAddress": "",
        "Networks": {network: endpoint},
    }


def _ports(container: Container) -> dict[str, Any]:
    """docker's NetworkSettings.Ports: exposed ports (null when unpublished) and their host
    bindings, while the container runs; empty otherwise."""
    if not (container.running or container.status == "paused"):
        return {}
    ports: dict[str, Any] = dict.fromkeys(container.config.get("ExposedPorts") or {})
    for container_port, protocol, host_ip, host_port in container.document.get("Ports") or []:
        key = f"{container_port}/{protocol}"
        ports[key] = (ports.get(key) or []) + [{"HostIp": host_ip or "0.0.0.0", "HostPort": str(host_port)}]
    return ports


def _health(container: Container) -> dict[str, Any]:
    """``State.Health`` once a health check has run (docker omits it for containers without one)."""
    if not container.config.get("Healthcheck"):
        return {}
    from lamina.runtime.health import read_health

    state = read_health(container.base)
    return {"Health": state} if state else {}
