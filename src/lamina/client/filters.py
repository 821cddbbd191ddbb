"""``--filter`` for ``images`` and ``image prune``, with docker's keys and semantics.

Different keys are ANDed; repeated ``label=``/``reference=`` values are ORed (docker's rule).
"""

from __future__ import annotations

import fnmatch
import re
import time

from lamina import TYPE_CHECKING
from lamina.errors import UsageError
from lamina.oci.timefmt import parse_rfc3339

if TYPE_CHECKING:
    from typing import Any

    from lamina.client.client import Client
    from lamina.client.records import ImageSummary


def _split(filters) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for item in filters:
        key, sep, value = item.partition("=")
        if key.endswith("!") and sep:
            key, value = key[:-1] + "!", value
        if not sep:
            raise UsageError(f"bad format of filter (expected name=value): {item}")
        parsed.setdefault(key.strip().lower(), []).append(value)
    return parsed


def _label_matches(labels: dict[str, str], selector: str) -> bool:
    key, sep, value = selector.partition("=")
    if key not in labels:
        return False
    return not sep or labels[key] == value


class ImageFilter:
    """What ``images --filter`` lets through (a plain class: ``lamina images`` makes one)."""

    __slots__ = ("dangling", "labels", "before_ts", "since_ts", "references")

    def __init__(self) -> None:
        self.dangling: bool | None = None
        self.labels: list[str] = []
        self.before_ts: float | None = None
        self.since_ts: float | None = None
        self.references: list[str] = []

    @classmethod
    def parse(cls, filters, client: Client) -> ImageFilter:
        result = cls()
        for key, values in _split(filters).items():
            if key == "dangling":
                value = values[-1].lower()
                if value not in ("true", "false", "1", "0"):
                    raise UsageError(f"invalid filter 'dangling={values[-1]}'")
                result.dangling = value in ("true", "1")
            elif key == "label":
                result.labels += values
            elif key in ("before", "since"):
                image_id = client.store.resolve(values[-1])
                created = client.store.image(image_id).created_ts
                setattr(result, f"{key}_ts", created)
            elif key == "reference":
                result.references += values
            else:
                raise UsageError(f"invalid filter '{key}'")
        return result

    def accepts(self, row: ImageSummary) -> bool:
        if self.dangling is not None and row.dangling != self.dangling:
            return False
        if self.labels and not any(_label_matches(row.labels, s) for s in self.labels):
            return False
        if self.before_ts is not None and not row.created_ts < self.before_ts:
            return False
        if self.since_ts is not None and not row.created_ts > self.since_ts:
            return False
        if self.references:
            name = f"{row.repository}:{row.tag}"
            if not any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(row.repository, p) for p in self.references):
                return False
        return True


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_until(value: str) -> float:
    """``until=`` takes a Unix timestamp, an RFC 3339 date, or a Go duration (``24h``, ``1h30m``)."""
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    parts = _DURATION.findall(value)
    if parts and "".join(n + u for n, u in parts) == value:
        return time.time() - sum(float(n) * _UNITS[u] for n, u in parts)
    moment = parse_rfc3339(value if "T" in value else value + "T00:00:00Z")
    if moment == 0.0:
        raise UsageError(f"invalid until filter {value!r}: use a timestamp, a date or a duration such as 24h")
    return moment


class PruneFilter:
    """What ``image prune --filter`` lets through."""

    __slots__ = ("until", "labels", "not_labels")

    def __init__(self) -> None:
        self.until: float | None = None
        self.labels: list[str] = []
        self.not_labels: list[str] = []

    @classmethod
    def parse(cls, filters) -> PruneFilter:
        result = cls()
        for key, values in _split(filters).items():
            if key == "until":
                result.until = parse_until(values[-1])
            elif key == "label":
                result.labels += values
            elif key == "label!":
                result.not_labels += values
            else:
                raise UsageError(f"invalid filter '{key}'")
        return result

    def accepts(self, record: Any) -> bool:
        if self.until is not None and not record.created_ts < self.until:
            return False
        if self.labels and not all(_label_matches(record.labels, s) for s in self.labels):
            return False
        return not any(_label_matches(record.labels, s) for s in self.not_labels)
