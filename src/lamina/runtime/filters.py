"""``ps --filter``: docker's keys id, name, status, ancestor, label, exited, volume, before,
since, network, publish, expose, health and is-task (lamina has no health checks or swarm
tasks: every container's health is ``none``, none is a task).

Values of one key are ORed, different keys ANDed, as in docker. A ``status`` or ``exited``
filter makes stopped containers eligible without ``-a`` (docker does the same).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lamina.errors import ImageNotFoundError, LaminaError, UsageError
from lamina.runtime.containers import Container

__all__ = ["ContainerFilter"]

_STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
_KEYS = ("id", "name", "status", "ancestor", "label", "exited", "volume", "before", "since", "network", "publish",
         "expose", "health", "is-task")
_HEALTH = ("starting", "healthy", "unhealthy", "none")


@dataclass(slots=True)
class ContainerFilter:
    values: dict[str, list[str]] = field(default_factory=dict)
    ancestors: set[str] = field(default_factory=set)
    created: dict[str, float] = field(default_factory=dict)  # before/since: the named container's time

    @classmethod
    def parse(cls, filters: Sequence[str], client: Any) -> ContainerFilter:
        parsed = cls()
        for item in filters:
            key, sep, value = item.partition("=")
            key = key.strip().lower()
            if not sep:
                raise UsageError(f"bad format of filter (expected name=value): {item}")
            if key not in _KEYS:
                raise LaminaError(f"Invalid filter '{key}'")
            _check_value(key, value)
            parsed.values.setdefault(key, []).append(value)
        for key in ("before", "since"):
            for value in parsed.values.get(key, []):
                parsed.created[value] = client.container(value).created
        for name in parsed.values.get("ancestor", []):
            try:
                image_id = client.store.resolve(name)
            except ImageNotFoundError:
                continue
            parsed.ancestors |= _with_descendants(client.store, image_id)
        return parsed

    @property
    def wants_stopped(self) -> bool:
        return "status" in self.values or "exited" in self.values

    def accepts(self, container: Container) -> bool:
        checks = {
            "id": lambda v: container.id.startswith(v),
            "name": lambda v: re.search(v, "/" + container.name) is not None,
            "status": lambda v: container.status == v,
            "ancestor": lambda v: container.image_id in self.ancestors,
            "label": lambda v: _label_matches(container.config.get("Labels") or {}, v),
            "exited": lambda v: container.status == "exited" and container.exit_code == int(v),
            "volume": lambda v: any(v in (m.get("Name"), m.get("Source"), m.get("Destination"))
                                    for m in container.document.get("Mounts") or []),
            "before": lambda v: container.created < self.created[v],
            "since": lambda v: container.created > self.created[v],
            "network": lambda v: container.host_config.get("NetworkMode") == v,
            "publish": lambda v: _port_matches(v, container.host_config.get("PortBindings") or {}),
            "expose": lambda v: _port_matches(v, container.config.get("ExposedPorts") or {}),
            "health": lambda v: v == "none",
            "is-task": lambda v: v == "false",
        }
        return all(any(checks[key](value) for value in values) for key, values in self.values.items())


def _check_value(key: str, value: str) -> None:
    """Refuse a value docker's daemon refuses, in its words."""
    if key == "status" and value not in _STATUSES:
        raise LaminaError(f"Invalid filter 'status={value}'")
    if key == "exited" and not re.fullmatch(r"[+-]?\d+", value):
        raise LaminaError(f'strconv.Atoi: parsing "{value}": invalid syntax')
    if key == "health" and value not in _HEALTH:
        raise LaminaError(f"Unrecognised filter value for health: {value}")
    if key == "is-task" and value not in ("true", "false"):
        raise LaminaError(f"Invalid filter 'is-task=[{value}]'")
    if key in ("publish", "expose"):
        _port_range(value)


def _port_matches(spec: str, ports: dict[str, Any]) -> bool:
    low, high, protocol = _port_range(spec)
    for key in ports:
        number, _, proto = key.partition("/")
        if (proto or "tcp") == protocol and number.isdigit() and low <= int(number) <= high:
            return True
    return False


def _port_range(spec: str) -> tuple[int, int, str]:
    """``80``, ``80/udp``, ``8000-8080/tcp`` as (first, last, protocol)."""
    ports, _, protocol = spec.partition("/")
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", ports)
    if not match or protocol not in ("", "tcp", "udp", "sctp"):
        raise LaminaError(f"Invalid filter '{spec}'")
    low = int(match.group(1))
    return low, int(match.group(2) or low), protocol or "tcp"


def _label_matches(labels: dict[str, str], spec: str) -> bool:
    key, sep, value = spec.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _with_descendants(store: Any, image_id: str) -> set[str]:
    found, pending = {image_id}, [image_id]
    while pending:
        for child in store.children(pending.pop()):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found
