"""``ps --filter``: docker's keys id, name, status, ancestor, label, exited, volume.

Values of one key are ORed, different keys ANDed, as in docker. A ``status`` or ``exited``
filter makes stopped containers eligible without ``-a`` (docker does the same).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lamina.errors import ImageNotFoundError, UsageError
from lamina.runtime.containers import Container

__all__ = ["ContainerFilter"]

_STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
_KEYS = ("id", "name", "status", "ancestor", "label", "exited", "volume")


@dataclass(slots=True)
class ContainerFilter:
    values: dict[str, list[str]] = field(default_factory=dict)
    ancestors: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, filters: Sequence[str], client: Any) -> ContainerFilter:
        parsed = cls()
        for item in filters:
            key, sep, value = item.partition("=")
            key = key.strip().lower()
            if not sep:
                raise UsageError(f"bad format of filter (expected name=value): {item}")
            if key not in _KEYS:
                raise UsageError(f"invalid filter '{key}'")
            if key == "status" and value not in _STATUSES:
                raise UsageError(f"invalid filter 'status={value}'")
            parsed.values.setdefault(key, []).append(value)
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
            "exited": lambda v: container.status == "exited" and str(container.exit_code) == v,
            "volume": lambda v: any(v in (m.get("Name"), m.get("Source"), m.get("Destination"))
                                    for m in container.document.get("Mounts") or []),
        }
        return all(any(checks[key](value) for value in values) for key, values in self.values.items())


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
