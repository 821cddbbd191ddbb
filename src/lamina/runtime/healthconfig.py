"""``--health-*`` and ``--no-healthcheck``: docker's ``Config.Healthcheck`` for a new container,
merged with the image's HEALTHCHECK the way docker's daemon merges them.

Durations are Go's (``1m30s``, ``500ms``) and kept in nanoseconds, as docker's API keeps them;
a zero field means "the image's value, else docker's default" (30 s interval and timeout, no
start period, 3 retries: :data:`DEFAULTS`).
"""

from __future__ import annotations

import re

from lamina import TYPE_CHECKING
from lamina.errors import UsageError
from lamina.runtime.flagerror import FlagError

if TYPE_CHECKING:
    from typing import Any

__all__ = ["DEFAULTS", "effective", "health_config", "parse_go_duration"]

DEFAULTS = {"Interval": 30_000_000_000, "Timeout": 30_000_000_000, "StartPeriod": 0, "Retries": 3}
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([a-zµμ]*)")
_FLAGS = (("health_interval", "Interval", "--health-interval"), ("health_timeout", "Timeout", "--health-timeout"),
          ("health_start_period", "StartPeriod", "--health-start-period"))


def health_config(options: Any, image_health: dict[str, Any] | None) -> dict[str, Any] | None:
    """The container's Config.Healthcheck (None: none at all), refusals in docker's words."""
    given = options.health_cmd is not None or options.health_retries is not None or \
        any(getattr(options, name) is not None for name, _field, _flag in _FLAGS)
    if options.no_healthcheck:
        if given:
            raise FlagError("--no-healthcheck conflicts with --health-* options")
        return {**(image_health or {}), "Test": ["NONE"]}  # docker merges the image's other fields still
    if not given:
        return dict(image_health) if image_health else None
    user: dict[str, Any] = {}
    if options.health_cmd:
        user["Test"] = ["CMD-SHELL", options.health_cmd]
    for name, field, flag in _FLAGS:
        text = getattr(options, name)
        if text is None:
            continue
        nanoseconds = parse_go_duration(text, flag)
        if nanoseconds < 0:
            raise FlagError(f"{flag} cannot be negative")
        if 0 < nanoseconds < 1_000_000:
            raise UsageError(f"{field} in Healthcheck cannot be less than 1ms")
        if nanoseconds:
            user[field] = nanoseconds
    if options.health_retries is not None:
        if options.health_retries < 0:
            raise FlagError("--health-retries cannot be negative")
        if options.health_retries:
            user["Retries"] = options.health_retries
    merged = dict(image_health or {})
    merged.update(user)  # docker: each field the user left at zero keeps the image's
    return merged


def effective(health: dict[str, Any]) -> dict[str, Any]:
    """The values a health monitor runs with: the config's, docker's defaults for zeros."""
    return {key: health.get(key) or default for key, default in DEFAULTS.items()}


def parse_go_duration(text: str, flag: str) -> int:
    """Go's time.ParseDuration in nanoseconds (``1h2m3.5s``, ``-5s``, ``0``)."""
    def refuse(reason: str) -> FlagError:
        return FlagError(f'invalid argument "{text}" for "{flag}" flag: time: {reason}')

    body, sign = text, 1
    if body[:1] in "+-" and body:
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    if body == "0":
        return 0
    if not body:
        raise refuse(f'invalid duration "{text}"')
    total, position = 0.0, 0
    while position < len(body):
        match = _PART.match(body, position)
        if not match:
            raise refuse(f'invalid duration "{text}"')
        number, unit = match.groups()
        if not unit:
            raise refuse(f'missing unit in duration "{text}"')
        if unit not in _UNITS:
            raise refuse(f'unknown unit "{unit}" in duration "{text}"')
        total += float(number) * _UNITS[unit]
        position = match.end()
    return sign * int(total)
