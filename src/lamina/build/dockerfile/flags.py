"""Instruction flags (``COPY --from=x``), validated the way BuildKit does.

Each instruction declares the flags it knows; anything else is an error that names the flag and,
when one is close, suggests the right spelling (``unknown flag: --chwon (did you mean chown?)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

import msgspec


class FlagError(ValueError):
    """A flag is unknown, repeated, or has a bad value; the caller adds the line number."""


class FlagKind(Enum):
    BOOL = "bool"
    STRING = "string"
    STRINGS = "strings"  # may repeat: --mount, --exclude


class FlagSpec(msgspec.Struct, frozen=True):
    name: str
    kind: FlagKind
    default: str | bool | None = None


def parse_flags(flags: Iterable[str], specs: Iterable[FlagSpec]) -> dict[str, str | bool | list[str] | None]:
    """Validate ``flags`` against ``specs``; return every declared flag with its value or default.

    Bool flags are ``True``/``False``, string flags ``str`` (or the default), repeatable flags a
    list. A ``--`` stops flag processing, as the POSIX utility guidelines say.
    """
    known = {spec.name: spec for spec in specs}
    values: dict[str, str | bool | list[str] | None] = {
        spec.name: [] if spec.kind is FlagKind.STRINGS else spec.default for spec in known.values()
    }
    seen: set[str] = set()
    for flag in flags:
        if flag == "--":
            break
        if not flag.startswith("--"):
            raise FlagError(f"arg should start with -- : {flag}")
        written, has_value, value = flag.partition("=")
        name = written[2:]
        spec = known.get(name)
        if spec is None:
            raise FlagError(with_suggestion(f"unknown flag: {written}", name, known))
        if name in seen and spec.kind is not FlagKind.STRINGS:
            raise FlagError(f"duplicate flag specified: {written}")
        seen.add(name)
        if spec.kind is FlagKind.BOOL:
            if has_value and value == "":
                raise FlagError(f"missing a value on flag: {written}")
            if value.lower() not in ("", "true", "false"):
                raise FlagError(f"expecting boolean value for flag {written}, not: {value}")
            values[name] = value.lower() != "false"
        elif not has_value:
            raise FlagError(f"missing a value on flag: {written}")
        elif spec.kind is FlagKind.STRING:
            values[name] = value
        else:
            listed = values[name]
            assert isinstance(listed, list)
            listed.append(value)
    return values


def used_flags(flags: Iterable[str]) -> list[str]:
    """Names of the flags actually written, in order, up to a ``--``."""
    names = []
    for flag in flags:
        if flag == "--":
            break
        names.append(flag.partition("=")[0][2:])
    return names


def with_suggestion(message: str, value: str, options: Iterable[str], case_sensitive: bool = True) -> str:
    """Append ``(did you mean X?)`` when an option is within two edits of ``value``."""
    match = closest(value, options, case_sensitive)
    return f"{message} (did you mean {match}?)" if match else message


def closest(value: str, options: Iterable[str], case_sensitive: bool = True) -> str | None:
    """The option nearest to ``value`` by edit distance (< 3), matching ``value``'s case."""
    probe = value if case_sensitive else value.lower()
    best: str | None = None
    best_distance = 3
    for option in options:
        candidate = option if case_sensitive else option.lower()
        if candidate == probe:
            return None  # the value is fine; the error is about something else
        distance = _edit_distance(probe, candidate)
        if distance < best_distance:
            best, best_distance = candidate, distance
    if best is None or case_sensitive:
        return best
    if value == value.lower():
        return best.lower()
    if value == value.upper():
        return best.upper()
    return best


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]
