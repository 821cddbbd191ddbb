"""``--change`` instructions of ``import`` and ``commit``: a Dockerfile line applied to a config.

Docker accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and
WORKDIR here; the values follow the Dockerfile's own rules (JSON or shell form, k=v pairs).
"""

from __future__ import annotations

import json
import posixpath
import shlex
from collections.abc import Sequence

from lamina.errors import UsageError

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")


def apply_changes(config: dict, changes: Sequence[str]) -> dict:
    for change in changes:
        keyword, _, value = change.strip().partition(" ")
        keyword = keyword.upper()
        value = value.strip()
        if keyword not in ALLOWED:
            raise UsageError(f"{keyword.lower()} is not a valid change command")  # docker's words
        _apply(config, keyword, value, change)
    return config


def _command(value: str, shell: list[str]) -> list[str]:
    if value.startswith("["):
        try:
            parsed = json.loads(value)
            if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
                return parsed
        except json.JSONDecodeError:
            pass
    return [*shell, value]


def _pairs(value: str, change: str) -> list[tuple[str, str]]:
    words = shlex.split(value)
    if len(words) >= 2 and "=" not in words[0]:
        return [(words[0], value.split(None, 1)[1])]  # legacy "ENV key value"
    pairs = []
    for word in words:
        key, sep, val = word.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid --change {change!r}: expected KEY=VALUE")
        pairs.append((key, val))
    return pairs


def _apply(config: dict, keyword: str, value: str, change: str) -> None:
    shell = config.get("Shell") or ["/bin/sh", "-c"]
    if keyword == "CMD":
        config["Cmd"] = _command(value, shell)
    elif keyword == "ENTRYPOINT":
        config["Entrypoint"] = _command(value, shell)
    elif keyword == "ENV":
        env = list(config.get("Env") or [])
        for key, val in _pairs(value, change):
            env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={val}"]
        config["Env"] = env
    elif keyword == "LABEL":
        labels = dict(config.get("Labels") or {})
        labels.update(_pairs(value, change))
        config["Labels"] = labels
    elif keyword == "EXPOSE":
        ports = dict(config.get("ExposedPorts") or {})
        for port in value.split():
            ports[port if "/" in port else port + "/tcp"] = {}
        config["ExposedPorts"] = ports
    elif keyword == "VOLUME":
        paths = _command(value, []) if value.startswith("[") else value.split()
        volumes = dict(config.get("Volumes") or {})
        for path in paths:
            volumes[path] = {}
        config["Volumes"] = volumes
    elif keyword == "WORKDIR":
        config["WorkingDir"] = posixpath.join(config.get("WorkingDir") or "/", value)
    elif keyword == "USER":
        config["User"] = value
    elif keyword == "STOPSIGNAL":
        config["StopSignal"] = value
    elif keyword == "ONBUILD":
        config["OnBuild"] = [*(config.get("OnBuild") or []), value]
