"""The mount flags of ``run``/``create`` (``-v``, ``--mount``, ``--tmpfs``) parsed into
``MountRequest``s, refusing what docker refuses with docker's words.

Two layers of checks, as in docker: the CLI's (``--mount`` CSV keys and values, empty
``-v`` sections: ``invalid argument "…" for "--mount" flag: …``) and the daemon's (mount
types, paths, modes: ``invalid mount config for type "…": …``).
"""

from __future__ import annotations

import os
import re

from lamina.errors import UsageError
from lamina.runtime.flagerror import FlagError
from lamina.runtime.volumes import MountRequest

__all__ = ["parse_mount_flag", "parse_tmpfs_flag", "parse_volume_flag"]

VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_MODE_CLASSES = (("rw", "ro"), ("z", "Z"), _PROPAGATIONS, ("nocopy",), ("consistent", "cached", "delegated"))
_BOOLEAN_KEYS = ("readonly", "ro", "volume-nocopy", "bind-nonrecursive")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_TMPFS_OPTIONS = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol", "rw", "ro", "exec", "noexec",
                  "suid", "nosuid", "dev", "nodev", "atime", "noatime", "diratime", "nodiratime", "relatime",
                  "norelatime", "strictatime", "nostrictatime", "sync", "async", "dirsync", "tmpcopyup")


def parse_volume_flag(spec: str) -> MountRequest:
    """``-v SRC:DST[:OPTS]``, ``-v NAME:DST``, ``-v DST`` (anonymous)."""
    parts = spec.split(":")
    if len(parts) > 1 and "" in parts:
        raise FlagError(f"invalid spec: {spec}: empty section between colons")
    if len(parts) == 1:
        return MountRequest("volume", _target(parts[0], "volume", spec), spec=spec)
    if len(parts) > 3:
        raise UsageError(f"invalid volume specification: '{spec}'")
    source, target, mode = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
    options = mode.split(",") if mode else []
    if not _valid_mode(options):
        raise UsageError(f"invalid mode: {mode}")
    kind = "bind" if source.startswith("/") else "volume"
    target = _target(target, kind, spec)
    if kind == "bind":
        if "nocopy" in options:
            raise UsageError(f"invalid volume specification: '{spec}': invalid mount config for type \"bind\": "
                             "field VolumeOptions must not be specified")
        propagation = next((option for option in options if option in _PROPAGATIONS), "")
        return MountRequest("bind", target, os.path.normpath(source), "ro" in options, create_source=True,
                            spec=spec, mode=mode, propagation=propagation)
    _check_volume_name(source)
    return MountRequest("volume", target, source, "ro" in options, no_copy="nocopy" in options, spec=spec,
                        mode=mode)


def parse_mount_flag(spec: str) -> MountRequest:
    """``--mount type=bind|volume|tmpfs,source=…,target=…,readonly,…`` (CSV, docker's keys)."""
    fields = _mount_fields(spec)
    kind = fields.get("type", "volume")
    for prefix in ("volume", "bind", "tmpfs"):
        if kind != prefix and any(key.startswith(prefix + "-") for key in fields):
            raise _mount_flag_error(spec, f"cannot mix '{prefix}-*' options with mount type '{kind}'")
    if "target" not in fields:
        raise _mount_flag_error(spec, "target is required")
    if kind not in ("bind", "volume", "tmpfs"):
        raise UsageError(f'invalid mount config for type "{kind}": mount type unknown')
    source, read_only = fields.get("source", ""), fields.get("readonly") == "true"
    if kind == "tmpfs":
        if source:
            raise UsageError('invalid mount config for type "tmpfs": field Source must not be specified')
        options = [f"size={fields['tmpfs-size']}"] if "tmpfs-size" in fields else []
        options += [f"mode={fields['tmpfs-mode']}"] if "tmpfs-mode" in fields else []
        return MountRequest("tmpfs", _target(fields["target"], kind), "", read_only, tuple(options), spec=spec)
    if kind == "bind":
        if not source:
            raise UsageError('invalid mount config for type "bind": field Source must not be empty')
        if not source.startswith("/"):
            raise UsageError(f'invalid mount config for type "bind": invalid mount path: \'{source}\' '
                             "mount path must be absolute")
        propagation = fields.get("bind-propagation", "")
        if propagation and propagation not in _PROPAGATIONS:
            raise UsageError(f'invalid mount config for type "bind": invalid propagation mode: {propagation}')
        return MountRequest("bind", _target(fields["target"], kind), os.path.normpath(source), read_only, spec=spec,
                            propagation=propagation)
    if source:
        _check_volume_name(source)
    return MountRequest("volume", _target(fields["target"], kind), source, read_only,
                        no_copy=fields.get("volume-nocopy") == "true", spec=spec)


def parse_tmpfs_flag(spec: str) -> MountRequest:
    """``--tmpfs /run[:size=64m,mode=1777]``."""
    target, _, options = spec.partition(":")
    if not target.startswith("/"):
        raise UsageError(f"invalid mount path: '{target}' mount path must be absolute")
    if target.rstrip("/") == "":
        raise UsageError("invalid specification: destination can't be '/'")
    given = tuple(option for option in options.split(",") if option)
    unknown = [option for option in given if option.partition("=")[0] not in _TMPFS_OPTIONS]
    if unknown:
        raise UsageError(f"invalid tmpfs option {_go_list(unknown)}")
    return MountRequest("tmpfs", target, "", "ro" in given, given, spec=spec)


def _mount_fields(spec: str) -> dict[str, str]:
    """The CSV fields under docker's canonical key names, values checked as docker's CLI does."""
    if not spec:
        raise _mount_flag_error(spec, "EOF")
    aliases = {"src": "source", "dst": "target", "destination": "target", "ro": "readonly"}
    fields: dict[str, str] = {}
    for field in spec.split(","):
        key, sep, value = field.partition("=")
        key = key.strip().lower()
        if not sep:
            if key not in _BOOLEAN_KEYS:
                raise _mount_flag_error(spec, f"invalid field '{field}' must be a key=value pair")
            value = "true"
        canonical = aliases.get(key, key)
        if canonical in ("readonly", "volume-nocopy", "bind-nonrecursive"):
            value = _boolean(spec, key, value)
        elif canonical == "tmpfs-size":
            value = str(_tmpfs_size(spec, key, value))
        elif canonical == "tmpfs-mode":
            if not re.fullmatch(r"[0-7]+", value):
                raise _mount_flag_error(spec, f"invalid value for {key}: {value}")
        elif canonical == "type":
            value = value.lower()
        elif canonical not in ("source", "target", "consistency", "bind-propagation", "volume-driver",
                               "volume-label", "volume-opt", "volume-subpath"):
            raise _mount_flag_error(spec, f"unexpected key '{key}' in '{field}'")
        fields[canonical] = value
    return fields


def _boolean(spec: str, key: str, value: str) -> str:
    if value in _TRUE:
        return "true"
    if value in _FALSE:
        return "false"
    raise _mount_flag_error(spec, f"invalid value for {key}: {value}")


def _tmpfs_size(spec: str, key: str, value: str) -> int:
    from lamina.runtime.units import parse_bytes

    try:
        return parse_bytes(value)
    except UsageError:
        raise _mount_flag_error(spec, f"invalid value for {key}: {value}") from None


def _mount_flag_error(spec: str, message: str) -> FlagError:
    return FlagError(f'invalid argument "{spec}" for "--mount" flag: {message}')


def _target(target: str, kind: str, volume_spec: str = "") -> str:
    """An absolute container path other than ``/`` (the daemon's check)."""
    problem = ""
    if not target.startswith("/"):
        problem = f"invalid mount path: '{target}' mount path must be absolute"
    elif target.rstrip("/") == "":
        problem = "invalid specification: destination can't be '/'"
    if not problem:
        return target
    message = f'invalid mount config for type "{kind}": {problem}'
    if volume_spec:
        message = f"invalid volume specification: '{volume_spec}': {message}"
    raise UsageError(message)


def _valid_mode(options: list[str]) -> bool:
    """docker's rule for ``-v`` modes: known words, at most one of each kind."""
    counts = [0] * len(_MODE_CLASSES)
    for option in options:
        kind = next((i for i, words in enumerate(_MODE_CLASSES) if option in words), None)
        if kind is None:
            return False
        counts[kind] += 1
    return max(counts, default=0) <= 1


def _check_volume_name(name: str) -> None:
    if not VOLUME_NAME.match(name):
        raise UsageError(f'create {name}: "{name}" includes invalid characters for a local volume name, '
                         f'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
                         'use absolute path')


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(f'"{item}"' for item in items) + "]"
