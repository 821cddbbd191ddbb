"""What runs in a container and what it uses: ``top`` (the host's ``ps``, kept to the
container's processes, as docker does) and ``stats`` (the cgroup counters runc reports, plus
the network counters of the container's namespace)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass

from lamina.errors import ConflictError, RuntimeError_
from lamina.runtime.containers import Container, ContainerStore, container_runc

__all__ = ["ResourceUsage", "container_pids", "resource_usage", "sample_twice", "top"]


def container_pids(containers: ContainerStore, container: Container) -> list[int]:
    """The host pids of every process in the container (``runc ps``)."""
    container = containers.refresh(container)
    if not container.running:
        raise ConflictError(f"Container {container.id} is not running")
    result = _runc(containers, "ps", "--format", "json", container.id)
    if result.returncode != 0:
        raise RuntimeError_(f"cannot list the processes of {container.id[:12]}: {_last_line(result.stderr)}")
    return [int(pid) for pid in json.loads(result.stdout or "[]")]


def top(containers: ContainerStore, container: Container, ps_args: list[str]) -> tuple[list[str], list[list[str]]]:
    """``docker top``: the titles and rows of ``ps ARGS`` (default ``-ef``) for the container's
    processes; the last column (the command) keeps its spaces."""
    pids = set(container_pids(containers, container))
    try:
        # without COLUMNS, as a daemon runs it: ps then never cuts the command short
        env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
        result = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True, env=env)
    except FileNotFoundError:
        raise RuntimeError_("ps is not installed (needed by top): apt-get install procps") from None
    if result.returncode != 0:
        raise RuntimeError_(f"ps: {_last_line(result.stderr) or f'exit status {result.returncode}'}")
    lines = result.stdout.splitlines()
    if not lines:
        return [], []
    titles = lines[0].split()
    if "PID" not in titles:
        raise RuntimeError_("Couldn't find PID field in ps output")
    column = titles.index("PID")
    rows = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in pids:
            rows.append(fields)
    return titles, rows


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    """One container's counters at one moment (bytes, nanoseconds)."""

    container_id: str
    name: str
    cpu_ns: int             # CPU time used by the container's cgroup
    system_ns: int          # CPU time of the whole host (all CPUs), for the percentage
    online_cpus: int
    memory_usage: int       # without the page cache, as docker shows it
    memory_limit: int
    network_rx: int
    network_tx: int
    block_read: int
    block_write: int
    pids: int

    def cpu_percent(self, before: ResourceUsage) -> float:
        """docker's formula: the container's share of the host's CPU time, times the CPUs."""
        cpu, system = self.cpu_ns - before.cpu_ns, self.system_ns - before.system_ns
        return cpu / system * self.online_cpus * 100.0 if cpu > 0 and system > 0 else 0.0

    @property
    def memory_percent(self) -> float:
        return self.memory_usage / self.memory_limit * 100.0 if self.memory_limit else 0.0


def resource_usage(containers: ContainerStore, container: Container) -> ResourceUsage:
    """The container's counters now (``runc events --stats``); a stopped one reads as zeros."""
    container = containers.refresh(container)
    system_ns, cpus = _host_cpu()
    if not container.running:
        return ResourceUsage(container.id, container.name, 0, system_ns, cpus, 0, 0, 0, 0, 0, 0, 0)
    result = _runc(containers, "events", "--stats", container.id)
    if result.returncode != 0:
        raise RuntimeError_(f"cannot read the counters of {container.id[:12]}: {_last_line(result.stderr)}")
    data = json.loads(result.stdout).get("data") or {}
    memory = data.get("memory") or {}
    raw = memory.get("raw") or memory.get("stats") or {}
    usage = (memory.get("usage") or {}).get("usage", 0)
    cache = raw.get("total_inactive_file", raw.get("inactive_file", 0))
    limit = (memory.get("usage") or {}).get("limit", 0)
    host_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    read, write = _block_io(data.get("blkio") or {})
    rx, tx = _network_io(container)
    return ResourceUsage(
        container.id, container.name, ((data.get("cpu") or {}).get("usage") or {}).get("total", 0), system_ns, cpus,
        max(0, usage - cache), min(limit, host_memory) if limit else host_memory, rx, tx, read, write,
        (data.get("pids") or {}).get("current", 0))


def sample_twice(containers: ContainerStore, targets: list[Container],
                 interval: float = 0.5) -> list[tuple[ResourceUsage, ResourceUsage]]:
    """Two readings ``interval`` apart for each container (the CPU share needs a difference)."""
    first = [resource_usage(containers, container) for container in targets]
    time.sleep(interval)
    return [(before, resource_usage(containers, container)) for before, container in zip(first, targets, strict=True)]


# -- helpers -------------------------------------------------------------------------------


def _runc(containers: ContainerStore, *args: str) -> subprocess.CompletedProcess:
    runc = container_runc(containers.store.root)
    return subprocess.run([runc.binary, "--root", os.fspath(runc.state_root), *args], capture_output=True, text=True)


def _host_cpu() -> tuple[int, int]:
    """CPU time of the host since boot (ns, all CPUs), and the number of CPUs online."""
    with open("/proc/stat") as stat:
        first = stat.readline().split()
        cpus = sum(1 for line in stat if line.startswith("cpu"))
    ticks = sum(int(value) for value in first[1:8])
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK"), max(cpus, 1)


def _block_io(blkio: dict) -> tuple[int, int]:
    read = write = 0
    for entry in blkio.get("ioServiceBytesRecursive") or []:
        operation = str(entry.get("op", "")).lower()
        if operation == "read":
            read += entry.get("value", 0)
        elif operation == "write":
            write += entry.get("value", 0)
    return read, write


def _network_io(container: Container) -> tuple[int, int]:
    """Bytes received and sent by the container's interfaces (not ``lo``); none with host
    networking, where the counters would be the host's."""
    if container.host_config.get("NetworkMode") == "host" or not container.pid:
        return 0, 0
    try:
        with open(f"/proc/{container.pid}/net/dev") as dev:
            lines = dev.read().splitlines()[2:]
    except OSError:
        return 0, 0
    rx = tx = 0
    for line in lines:
        name, _, counters = line.partition(":")
        if name.strip() == "lo":
            continue
        fields = counters.split()
        rx, tx = rx + int(fields[0]), tx + int(fields[8])
    return rx, tx


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"

