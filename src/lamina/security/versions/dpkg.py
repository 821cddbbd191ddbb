"""Debian's version order, as ``dpkg --compare-versions`` decides it (deb-version(7)).

``[epoch:]upstream[-revision]``: epochs compare as numbers, then upstream and revision each by
dpkg's verrevcmp: runs of non-digits compare character by character where ``~`` sorts before
everything (even the end of the string) and letters before other characters, runs of digits
compare as numbers.
"""

from __future__ import annotations


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 as ``left`` is older than, equal to or newer than ``right``."""
    left_epoch, left_upstream, left_revision = split(left)
    right_epoch, right_upstream, right_revision = split(right)
    if left_epoch != right_epoch:
        return -1 if left_epoch < right_epoch else 1
    return _verrevcmp(left_upstream, right_upstream) or _verrevcmp(left_revision, right_revision)


def split(version: str) -> tuple[int, str, str]:
    """``(epoch, upstream, revision)`` of a Debian version; a missing part is 0 or ""."""
    version = version.strip()
    epoch = 0
    head, colon, tail = version.partition(":")
    if colon and head.isdigit():
        epoch, version = int(head), tail
    upstream, dash, revision = version.rpartition("-")
    if not dash:
        return epoch, version, ""
    return epoch, upstream, revision


def _order(char: str) -> int:
    if char == "~":
        return -1
    if char.isdigit():
        return 0
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _verrevcmp(left: str, right: str) -> int:
    i = j = 0
    while i < len(left) or j < len(right):
        first_diff = 0
        while (i < len(left) and not left[i].isdigit()) or (j < len(right) and not right[j].isdigit()):
            left_order = _order(left[i]) if i < len(left) else 0
            right_order = _order(right[j]) if j < len(right) else 0
            if left_order != right_order:
                return -1 if left_order < right_order else 1
            i += 1
            j += 1
        while i < len(left) and left[i] == "0":
            i += 1
        while j < len(right) and right[j] == "0":
            j += 1
        while i < len(left) and left[i].isdigit() and j < len(right) and right[j].isdigit():
            if not first_diff:
                first_diff = ord(left[i]) - ord(right[j])
            i += 1
            j += 1
        if i < len(left) and left[i].isdigit():
            return 1
        if j < len(right) and right[j].isdigit():
            return -1
        if first_diff:
            return -1 if first_diff < 0 else 1
    return 0
