"""Named and anonymous volumes as objects of their own: ``lamina volume create/ls/inspect/rm/prune``.

A volume is ``<store>/volumes/<name>/_data`` (docker's local-driver layout). ``volume create``
also writes ``<name>/volume.json`` with its creation time, labels and options; volumes that a
``run`` made on the fly (``-v name:/x``, or an image's VOLUME) have no such file and are
described from the directory itself. A volume is *in use* while any container (running or
not) names it in its Mounts, as docker counts it: such volumes are never removed without the
container going first. Anonymous volumes (64 hex digits, made for VOLUME paths) are the ones
``volume prune`` removes unless ``--all``, as in docker 23 and later.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamina.errors import ConflictError, LaminaError, UsageError

__all__ = ["Volume", "VolumeStore", "VolumeNotFoundError"]

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_ANONYMOUS = re.compile(r"^[0-9a-f]{64}$")
_META = "volume.json"


class VolumeNotFoundError(LaminaError):
    """No volume of that name."""


@dataclass(slots=True)
class Volume:
    name: str
    mountpoint: Path
    created: float
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    described: bool = False  # made by ``volume create`` (docker then shows {} rather than null)
    users: list[str] = field(default_factory=list)  # IDs of the containers that mount it

    def document(self) -> dict[str, Any]:
        """``docker volume inspect``'s keys, in its order."""
        return {"CreatedAt": _local_rfc3339(self.created), "Driver": "local",
                "Labels": self.labels if self.described else (self.labels or None), "Mountpoint": os.fspath(self.mountpoint), "Name": self.name,
                "Options": self.options if self.described else (self.options or None), "Scope": "local"}


class VolumeStore:
    """The volumes below one store root, with what uses them read from the containers' Mounts."""

    def __init__(self, root: Path, container_mounts: dict[str, list[dict[str, Any]]]):
        self.root = Path(root) / "volumes"
        self._users: dict[str, list[str]] = {}
        for container_id, mounts in container_mounts.items():
            for point in mounts:
                if point.get("Type") == "volume" and point.get("Name"):
                    self._users.setdefault(point["Name"], []).append(container_id)

    def list(self) -> list[Volume]:
        if not self.root.is_dir():
            return []
        return sorted((self._volume(entry.name) for entry in self.root.iterdir()
                       if (entry / "_data").is_dir()), key=lambda volume: volume.name)

    def get(self, name: str) -> Volume:
        if not _NAME.match(name) or not (self.root / name / "_data").is_dir():
            raise VolumeNotFoundError(f"get {name}: no such volume")
        return self._volume(name)

    def create(self, name: str | None, *, driver: str = "local", labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None) -> Volume:
        """Create (or, like docker, quietly reuse) a volume; a random name when none is given."""
        if driver != "local":
            raise LaminaError(f'create {name or ""}: error looking up volume plugin {driver}: plugin "{driver}" not found')
        if options:
            raise LaminaError(f"create {name or ''}: the local driver's options (-o) are not supported by lamina: "
                             + ", ".join(sorted(options)))
        name = name or secrets.token_hex(32)
        if not _NAME.match(name):
            raise LaminaError(f'create {name}: "{name}" includes invalid characters for a local volume name, '
                             "only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host "
                             "directory, use absolute path")
        base = self.root / name
        if (base / "_data").is_dir():
            return self._volume(name)
        (base / "_data").mkdir(parents=True, exist_ok=True)
        temp = base / f".{_META}.tmp"
        temp.write_text(json.dumps({"CreatedAt": time.time(), "Labels": labels or {}, "Options": options or {},
                                    "Anonymous": False}))
        temp.replace(base / _META)
        return self._volume(name)

    def remove(self, name: str, *, force: bool = False) -> None:
        """``volume rm``: refused while a container uses it, even with ``force`` (as docker)."""
        if not _NAME.match(name) or not (self.root / name).is_dir():
            if force:
                return
            raise VolumeNotFoundError(f"get {name}: no such volume")
        users = self._users.get(name)
        if users:
            raise ConflictError(f"remove {name}: volume is in use - [{', '.join(users)}]")
        _remove_tree(self.root / name)

    def prune(self, *, all: bool = False, labels: list[str] | None = None) -> tuple[list[str], int]:
        """Remove unused volumes (anonymous ones only unless ``all``): (names, bytes freed)."""
        removed, freed = [], 0
        for volume in self.list():
            if volume.users or (volume.anonymous is False and not all):
                continue
            if labels and not _labels_match(volume.labels, labels):
                continue
            freed += directory_size(volume.mountpoint)
            _remove_tree(self.root / volume.name)
            removed.append(volume.name)
        return removed, freed

    def _volume(self, name: str) -> Volume:
        base = self.root / name
        meta: dict[str, Any] = {}
        try:
            meta = json.loads((base / _META).read_text())
        except (OSError, ValueError):
            meta = {}
        created = meta.get("CreatedAt")
        if not isinstance(created, (int, float)):
            created = _mtime(base)
        anonymous = bool(meta.get("Anonymous")) if meta else bool(_ANONYMOUS.match(name))
        return Volume(name, base / "_data", float(created), dict(meta.get("Labels") or {}),
                      dict(meta.get("Options") or {}), anonymous, bool(meta), list(self._users.get(name, [])))


def directory_size(path: Path) -> int:
    """Bytes of the files below ``path``, each inode once (how docker sizes volumes and layers)."""
    total, seen = 0, set()
    for root, dirs, files in os.walk(path):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if info.st_size and (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


def parse_key_values(pairs: list[str], what: str) -> dict[str, str]:
    """``--label k=v`` / ``-o k=v`` lists (a bare key gets an empty value, as docker)."""
    result = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if not key:
            raise UsageError(f"invalid {what} '{pair}': key is empty")
        result[key] = value
    return result


def _labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for spec in wanted:
        negate = spec.startswith("!")
        key, has_value, value = spec.lstrip("!").partition("=")
        present = key in labels and (not has_value or labels[key] == value)
        if present == negate:
            return False
    return True


def _local_rfc3339(timestamp: float) -> str:
    """Go's RFC 3339 in local time, as docker prints a volume's CreatedAt (``Z`` for UTC)."""
    from datetime import datetime

    moment = datetime.fromtimestamp(int(timestamp)).astimezone()
    text = moment.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _remove_tree(path: Path) -> None:
    from lamina.layer.treeremoval import remove_tree  # iterative: a volume's tree may be any depth

    try:
        remove_tree(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise LaminaError(f"remove {path.name}: {exc.strerror}") from None
