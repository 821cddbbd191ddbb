"""``RUN --mount=type=cache,target=/root/.cache`` and its siblings, parsed as BuildKit does.

The value is one CSV record of ``key=value`` fields (a few keys may stand alone: ``ro``,
``readonly``, ``rw``, ``readwrite``, ``required``). Values may hold ``$VARS``; they are expanded
per field at build time, so :func:`parse_mount` takes the expander as an argument.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable

import msgspec

from lamina.build.dockerfile.flags import with_suggestion

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING_MODES = ("shared", "private", "locked")
_KEYS = (
    "type", "from", "source", "target", "readonly", "id", "sharing", "required", "size", "mode",
    "uid", "gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env",
)  # fmt: skip
_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_FALSE = ("0", "f", "F", "false", "FALSE", "False")


class MountError(ValueError):
    """A ``--mount`` value docker would reject; the caller adds the line number."""


class Mount(msgspec.Struct, frozen=True):
    """One ``RUN --mount``; ``read_only`` defaults to True except for cache and tmpfs mounts."""

    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""
    read_only: bool = True
    cache_id: str = ""
    sharing: str = ""  # cache mounts: shared (docker's default when empty), private, locked
    required: bool = False
    size_limit: int = 0  # tmpfs, bytes; 0 = no limit
    env: str | None = None  # secret mounts: also expose the secret in this variable
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


def parse_mount(spec: str, expand: Callable[[str], str] | None = None) -> Mount:
    """Parse one ``--mount`` value; ``expand`` expands each field value (identity when None)."""
    try:
        fields = next(csv.reader([spec], skipinitialspace=False), [])
    except csv.Error as exc:
        raise MountError(f"failed to parse csv mounts: {exc}") from None
    values: dict[str, object] = {"type": "bind"}
    read_only_set = False
    for field in fields:
        key, has_value, value = field.partition("=")
        key = key.lower()
        if not has_value:
            if key in ("readonly", "ro"):
                values["read_only"], read_only_set = True, True
            elif key in ("readwrite", "rw"):
                values["read_only"], read_only_set = False, True
            elif key == "required":
                _require_type(values, key, ("secret", "ssh"))
                values["required"] = True
            else:
                raise MountError(f"invalid field '{field}' must be a key=value pair")
            continue
        if expand is not None:
            value = expand(value)
        if key == "type":
            if value.lower() not in MOUNT_TYPES:
                raise MountError(with_suggestion(f"unsupported mount type {_q(value)}", value, MOUNT_TYPES))
            values["type"] = value.lower()
        elif key == "from":
            values["from_"] = value
        elif key in ("source", "src"):
            values["source"] = value
        elif key in ("target", "dst", "destination"):
            values["target"] = value
        elif key in ("readonly", "ro"):
            values["read_only"], read_only_set = _parse_bool(key, value), True
        elif key in ("readwrite", "rw"):
            values["read_only"], read_only_set = not _parse_bool(key, value), True
        elif key == "required":
            _require_type(values, key, ("secret", "ssh"))
            values["required"] = _parse_bool(key, value)
        elif key == "size":
            _require_type(values, key, ("tmpfs",))
            values["size_limit"] = ram_in_bytes(value, key)
        elif key == "id":
            values["cache_id"] = value
        elif key == "sharing":
            if value.lower() not in SHARING_MODES:
                raise MountError(with_suggestion(f"unsupported sharing value {_q(value)}", value, SHARING_MODES))
            values["sharing"] = value.lower()
        elif key == "mode":
            values["mode"] = _parse_uint(value, 8, key)
        elif key in ("uid", "gid"):
            values[key] = _parse_uint(value, 10, key)
        elif key == "env":
            values["env"] = value
        else:
            raise MountError(with_suggestion(f"unexpected key '{key}' in '{field}'", key, _KEYS))
    mount_type = values["type"]
    if mount_type not in ("secret", "ssh", "cache"):
        for key in ("mode", "uid", "gid"):
            if values.get(key) is not None:
                raise MountError(f"{key} not allowed for {_q(str(mount_type))} type mounts")
    if not read_only_set:
        values["read_only"] = mount_type not in ("cache", "tmpfs")
    mount = Mount(**values)  # type: ignore[arg-type]
    _check_combinations(mount)
    return mount


def _check_combinations(mount: Mount) -> None:
    if mount.type == "secret":
        if mount.from_:
            raise MountError("secret mount should not have a from")
        if mount.sharing:
            raise MountError("secret mount should not define sharing")
        if not (mount.source or mount.target or mount.cache_id):
            raise MountError("invalid secret mount. one of source, target required")
        if mount.source and mount.cache_id:
            raise MountError("both source and id can't be set")
    if mount.sharing and mount.type != "cache":
        raise MountError(f"invalid cache sharing set for {mount.type} mount")


def _require_type(values: dict[str, object], key: str, allowed: tuple[str, ...]) -> None:
    # Like BuildKit, this depends on field order: "type" must come before the key.
    if values["type"] not in allowed:
        raise MountError(f"unexpected key '{key}' for mount type '{values['type']}'")


def _parse_bool(key: str, value: str) -> bool:
    """Go's strconv.ParseBool."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise MountError(f"invalid value for {key}: {value}")


def _parse_uint(value: str, base: int, key: str) -> int:
    try:
        number = int(value, base) if value.isascii() and value.isdigit() else -1
    except ValueError:
        number = -1
    if not 0 <= number < 1 << 32:
        raise MountError(f"invalid value {value} for {key}")
    return number


_RAM_SIZE = re.compile(r"(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?\Z")
_BINARY_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(text: str, key: str = "size") -> int:
    """docker's ``units.RAMInBytes``: ``512``, ``64m``, ``1.5GiB`` (binary multiples)."""
    match = _RAM_SIZE.match(text)
    if match is None:
        raise MountError(f"invalid value for {key}: {text}")
    try:
        number = float(match.group(1))
    except ValueError:
        raise MountError(f"invalid value for {key}: {text}") from None
    unit = (match.group(2) or "").lower()
    return int(number * _BINARY_UNITS.get(unit, 1))


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
