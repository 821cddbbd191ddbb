"""RubyGems' version order, as ``Gem::Version#<=>`` decides it.

A version splits into runs of digits (numbers) and letters (strings); a ``-`` means
``.pre.``. Trailing zeros of the release part and of the pre-release part do not count. A
string segment makes a pre-release: at the first difference a string sorts before a number,
strings compare as byte strings.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SEGMENT = re.compile(r"[0-9]+|[a-z]+", re.IGNORECASE)


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 comparing two gem versions."""
    left_segments, right_segments = _canonical(left), _canonical(right)
    if left_segments == right_segments:
        return 0
    for index in range(max(len(left_segments), len(right_segments))):
        left_part = left_segments[index] if index < len(left_segments) else 0
        right_part = right_segments[index] if index < len(right_segments) else 0
        if left_part == right_part:
            continue
        if isinstance(left_part, str) and isinstance(right_part, int):
            return -1
        if isinstance(left_part, int) and isinstance(right_part, str):
            return 1
        return -1 if left_part < right_part else 1  # type: ignore[operator]
    return 0


@lru_cache(maxsize=4096)
def _canonical(version: str) -> tuple[int | str, ...]:
    text = version.strip().replace("-", ".pre.")
    segments: list[int | str] = [int(s) if s.isdigit() else s for s in _SEGMENT.findall(text)]
    first_string = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    release, prerelease = segments[:first_string], segments[first_string:]
    return (*_drop_trailing_zeros(release), *_drop_trailing_zeros(prerelease))


def _drop_trailing_zeros(segments: list[int | str]) -> list[int | str]:
    end = len(segments)
    while end and segments[end - 1] == 0:
        end -= 1
    return segments[:end]
