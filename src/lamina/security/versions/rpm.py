"""RPM's version order: rpmvercmp on each of epoch, version and release (rpm 4.18).

Versions split into runs of ASCII digits and ASCII letters; everything else only separates.
``~`` sorts before anything (pre-releases), ``^`` after the end but before more segments
(post-release snapshots). A numeric run beats an alphabetic one; numbers compare as numbers.
"""

from __future__ import annotations


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 comparing two ``[epoch:]version[-release]`` strings as rpm does."""
    left_epoch, left_version, left_release = split(left)
    right_epoch, right_version, right_release = split(right)
    if left_epoch != right_epoch:
        return -1 if left_epoch < right_epoch else 1
    result = vercmp(left_version, right_version)
    if result or left_release == right_release:
        return result
    if left_release is None or right_release is None:  # rpm: a stated release beats none
        return -1 if left_release is None else 1
    return vercmp(left_release, right_release)


def split(evr: str) -> tuple[int, str, str | None]:
    """``(epoch, version, release)``; a missing epoch is 0, a missing release None."""
    epoch = 0
    head, colon, tail = evr.partition(":")
    if colon and (head == "" or head.isdigit()):
        epoch, evr = int(head or 0), tail
    version, dash, release = evr.rpartition("-")
    if not dash:
        return epoch, evr, None
    return epoch, version, release


def _isalnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def vercmp(left: str, right: str) -> int:
    """rpmvercmp: the order of two version (or release) strings without epochs."""
    if left == right:
        return 0
    i = j = 0
    while i < len(left) or j < len(right):
        while i < len(left) and not _isalnum(left[i]) and left[i] not in "~^":
            i += 1
        while j < len(right) and not _isalnum(right[j]) and right[j] not in "~^":
            j += 1
        left_char = left[i] if i < len(left) else ""
        right_char = right[j] if j < len(right) else ""
        if left_char == "~" or right_char == "~":
            if left_char != "~":
                return 1
            if right_char != "~":
                return -1
            i += 1
            j += 1
            continue
        if left_char == "^" or right_char == "^":
            if not left_char:
                return -1
            if not right_char:
                return 1
            if left_char != "^":
                return 1
            if right_char != "^":
                return -1
            i += 1
            j += 1
            continue
        if not (left_char and right_char):
            break
        numeric = left_char.isdigit()
        kind = str.isdigit if numeric else (lambda c: c.isascii() and c.isalpha())
        start_i, start_j = i, j
        while i < len(left) and kind(left[i]):
            i += 1
        while j < len(right) and kind(right[j]):
            j += 1
        left_segment, right_segment = left[start_i:i], right[start_j:j]
        if not right_segment:
            return 1 if numeric else -1
        if numeric:
            left_segment, right_segment = left_segment.lstrip("0"), right_segment.lstrip("0")
            if len(left_segment) != len(right_segment):
                return 1 if len(left_segment) > len(right_segment) else -1
        if left_segment != right_segment:
            return 1 if left_segment > right_segment else -1
    if i >= len(left) and j >= len(right):
        return 0
    return 1 if i < len(left) else -1
