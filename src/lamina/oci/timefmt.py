"""RFC 3339 timestamps as docker writes and reads them."""

from __future__ import annotations

import re

_FRACTION = re.compile(r"\.(\d+)")


def parse_rfc3339(text: str | None) -> float:
    """Unix seconds for an RFC 3339 string (nanoseconds allowed); 0.0 when empty or invalid."""
    if not text:
        return 0.0
    from datetime import datetime

    normalized = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    normalized = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), normalized, count=1)
    try:
        return datetime.fromisoformat(normalized).timestamp()
    except ValueError:
        return 0.0


def format_rfc3339(timestamp: float | None = None) -> str:
    """UTC, nanosecond precision, ``Z`` suffix — the form docker writes in configs."""
    from datetime import UTC, datetime

    moment = datetime.now(UTC) if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"
