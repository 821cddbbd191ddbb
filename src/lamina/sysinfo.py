"""``lamina version`` and ``lamina info``: facts about lamina, its store and this host.

The keys follow ``docker version`` / ``docker info --format '{{json .}}'`` where a fact has a
docker counterpart (``Containers``, ``Images``, ``Driver``, ``KernelVersion``, ``NCPU``,
``MemTotal``, ``DockerRootDir`` …), so scripts written for docker's templates keep working;
facts that have none (the Python version, the store's snapshot count) get keys of their own.
Nothing here needs a daemon: it is read from the store, ``/proc`` and the tools on PATH.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

from lamina.store.store import Store

__all__ = ["lamina_version", "host_info", "version_document"]


def lamina_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lamina")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _tool_version(command: list[str], pattern: str) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    match = re.search(pattern, result.stdout + result.stderr)
    return match.group(1) if match else ""


def _arch() -> str:
    from lamina.oci.platform import host_platform

    return host_platform().architecture


def version_document() -> dict[str, Any]:
    """``docker version``'s shape: a Client section, and the runtime lamina drives instead of a Server."""
    from lamina.runtime.runc import find_runc
    from lamina.runtime.slirp import find_slirp4netns

    try:
        runc = find_runc()
    except Exception:  # noqa: BLE001 - a missing runc is reported as an empty version
        runc = ""
    slirp = find_slirp4netns()
    return {
        "Client": {"Platform": {"Name": "lamina"}, "Version": lamina_version(),
                   "PythonVersion": platform.python_version(), "Os": "linux", "Arch": _arch(),
                   "Experimental": False},
        "Runtime": {"Name": "runc", "Path": runc,
                    "Version": _tool_version([runc, "--version"], r"runc version (\S+)") if runc else "",
                    "Slirp4netns": _tool_version([slirp, "--version"], r"slirp4netns version (\S+)") if slirp else ""},
    }


def host_info(store: Store, container_states: list[str], registry_config) -> dict[str, Any]:
    """``docker info``'s facts for a store: counts, storage, runtime, kernel, CPUs, memory, registries."""
    running = sum(1 for s in container_states if s == "running")
    paused = sum(1 for s in container_states if s == "paused")
    snapshots = Path(store.root) / "snapshots"
    release = _os_release()
    from lamina.runtime.copyroot import snapshotter_for

    snapshotter = snapshotter_for(Path(store.root), announce=False)
    document: dict[str, Any] = {
        "ID": "",
        "Containers": len(container_states),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": len(container_states) - running - paused,
        "Images": len(store.list_images()),
        "Driver": snapshotter.name,  # of RUN steps: "copy" where overlayfs cannot be mounted
        "DriverStatus": [["Backing Filesystem", _filesystem_of(Path(store.root))],
                         ["Snapshots", str(sum(1 for _ in snapshots.iterdir()) if snapshots.is_dir() else 0)],
                         ["Snapshotter", f"{snapshotter.name} ({snapshotter.reason})" if snapshotter.reason
                          else snapshotter.name]],
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1",
        "KernelVersion": platform.release(),
        "OperatingSystem": release.get("PRETTY_NAME", platform.system()),
        "OSVersion": release.get("VERSION_ID", ""),
        "OSType": "linux",
        "Architecture": platform.machine(),
        "NCPU": os.cpu_count() or 1,
        "MemTotal": _mem_total(),
        "DockerRootDir": os.fspath(store.root),
        "Name": platform.node(),
        "ServerVersion": lamina_version(),
        "DefaultRuntime": "runc",
        "Runtimes": {"runc": {"path": "runc"}},
        "SecurityOptions": ["name=seccomp,profile=default"],
        "RegistryConfig": {
            "InsecureRegistryCIDRs": (["127.0.0.0/8", "::1/128"] if registry_config.loopback_insecure else []),
            "IndexConfigs": {},
            "Mirrors": list(registry_config.registry_mirrors),
            "InsecureRegistries": list(registry_config.insecure_registries),
        },
        "LaminaConfig": os.fspath(registry_config.source) if registry_config.source else "",
        "PythonVersion": platform.python_version(),
        "Debug": False,
        "Warnings": None,
    }
    return document


def _os_release() -> dict[str, str]:
    values = {}
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values


def _mem_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _filesystem_of(path: Path) -> str:
    """The filesystem type the store lives on (from /proc/self/mountinfo, longest mount prefix)."""
    from lamina.runtime.mounts import filesystem_type

    return filesystem_type(path)
