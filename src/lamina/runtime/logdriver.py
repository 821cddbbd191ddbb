"""``--log-driver`` and ``--log-opt``: docker's ``HostConfig.LogConfig``, checked in docker's
words at create time, and the rotation limits the monitor's log writer honours.

``json-file`` (docker's default) and ``local`` both write lamina's json-file log (docker's
``local`` keeps a protobuf file of its own; lamina keeps one format that ``logs`` and docker's
tools read); ``local`` has docker's default limits (20 MB × 5 files). ``none`` keeps no log.
"""

from __future__ import annotations

from lamina import TYPE_CHECKING
from lamina.errors import UsageError
from lamina.runtime.flagerror import FlagError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["DRIVERS", "log_config", "rotation_limits"]

DRIVERS = ("json-file", "local", "none")
_OPTIONS = {
    "json-file": frozenset({"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"}),
    "local": frozenset({"max-size", "max-file", "compress"}),
    "none": frozenset(),
}
_LOCAL_DEFAULTS = (20 * 1024 * 1024, 5)


def log_config(driver: str | None, options: Sequence[str]) -> dict[str, Any]:
    """``{"Type": driver, "Config": {key: value}}`` as docker's inspect shows it."""
    kind = driver or "json-file"
    config: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            raise FlagError(f'invalid argument "{option}" for "--log-opt" flag: invalid key value pair format')
        config[key] = value
    if kind == "none" and config:
        raise FlagError("invalid logging opts for driver none")
    if kind not in DRIVERS:
        raise UsageError(f'error looking up logging plugin {kind}: plugin "{kind}" not found '
                         f"(lamina offers {', '.join(DRIVERS)})")
    for key in config:
        if key not in _OPTIONS[kind]:
            raise UsageError(f"unknown log opt '{key}' for {kind} log driver")
    rotation_limits({"Type": kind, "Config": config})  # refuse bad sizes now, not at the first start
    return {"Type": kind, "Config": config}


def rotation_limits(log: Mapping[str, Any]) -> tuple[int, int]:
    """(max bytes per file or 0 for no limit, files kept) for a LogConfig."""
    from lamina.runtime.units import parse_bytes

    config = log.get("Config") or {}
    default_size, default_files = _LOCAL_DEFAULTS if log.get("Type") == "local" else (0, 1)
    try:
        size = parse_bytes(config["max-size"]) if "max-size" in config else default_size
    except FlagError as exc:
        raise UsageError(f"failed to initialize logging driver: {exc}") from None
    files_text = config.get("max-file")
    if files_text is None:
        files = default_files
    else:
        try:
            files = int(files_text)
        except ValueError:
            raise UsageError(f"failed to initialize logging driver: strconv.Atoi: parsing {files_text!r}: "
                             "invalid syntax") from None
        if files < 1:
            raise UsageError("failed to initialize logging driver: max-file cannot be less than 1")
        if files > 1 and not size:
            raise UsageError("failed to initialize logging driver: max-file can only be set with max-size")
    return size, files
