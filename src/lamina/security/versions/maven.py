"""Maven's version order, as ``ComparableVersion`` in maven-artifact 3.8 decides it.

A version is a list of items: numbers, qualifiers (strings) and sub-lists (started by ``-`` or
by a switch between digits and letters). Known qualifiers sort ``alpha < beta < milestone <
rc = cr < snapshot < "" = ga = final = release < sp``, unknown ones after ``sp`` in string
order; ``a1``/``b1``/``m1`` are alpha/beta/milestone. Trailing zeros and empty qualifiers do
not count (``1.0.0 == 1``).
"""

from __future__ import annotations

from functools import lru_cache

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_RELEASE_RANK = str(_QUALIFIERS.index(""))


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 comparing two Maven versions."""
    return _compare_lists(_parse(left), _parse(right))


class _Qualifier(str):
    """A string item (a str subclass so that a list holds ints, qualifiers and lists)."""

    @property
    def rank(self) -> str:
        if self in _QUALIFIERS:
            return str(_QUALIFIERS.index(self))
        return f"{len(_QUALIFIERS)}-{self}"


def _qualifier(text: str, followed_by_digit: bool) -> _Qualifier:
    if followed_by_digit and len(text) == 1:
        text = {"a": "alpha", "b": "beta", "m": "milestone"}.get(text, text)
    return _Qualifier(_ALIASES.get(text, text))


Item = int | _Qualifier | list


@lru_cache(maxsize=4096)
def _parse(version: str) -> list:
    version = version.lower()
    root: list = []
    current = root
    stack = [root]
    is_digit = False
    start = 0

    def item(is_number: bool, text: str) -> Item:
        return int(text) if is_number else _qualifier(text, False)

    for index, char in enumerate(version):
        if char in ".-":
            current.append(0 if index == start else item(is_digit, version[start:index]))
            start = index + 1
            if char == "-":
                sub: list = []
                current.append(sub)
                current = sub
                stack.append(sub)
        elif "0" <= char <= "9":
            if not is_digit and index > start:
                if current:  # "1.a1" is "1-alpha-1"
                    sub = []
                    current.append(sub)
                    current = sub
                    stack.append(sub)
                current.append(_qualifier(version[start:index], True))
                start = index
                sub = []
                current.append(sub)
                current = sub
                stack.append(sub)
            is_digit = True
        else:
            if is_digit and index > start:
                current.append(int(version[start:index]))
                start = index
                sub = []
                current.append(sub)
                current = sub
                stack.append(sub)
            is_digit = False
    if len(version) > start:
        if not is_digit and current:  # a trailing ".x" counts as "-x"
            sub = []
            current.append(sub)
            current = sub
            stack.append(sub)
        current.append(item(is_digit, version[start:]))
    for items in reversed(stack):
        _normalize(items)
    return root


def _is_null(item: Item) -> bool:
    if isinstance(item, list):
        return not item
    if isinstance(item, _Qualifier):
        return item.rank == _RELEASE_RANK
    return item == 0


def _normalize(items: list) -> None:
    for index in range(len(items) - 1, -1, -1):
        if _is_null(items[index]):
            del items[index]
        elif not isinstance(items[index], list):
            break


def _compare_item(item: Item, other: Item | None) -> int:
    if isinstance(item, list):
        if other is None:
            return next((result for result in (_compare_item(i, None) for i in item) if result), 0)
        if isinstance(other, list):
            return _compare_lists(item, other)
        return -1 if isinstance(other, int) else 1
    if isinstance(item, _Qualifier):
        if other is None:
            return _cmp(item.rank, _RELEASE_RANK)
        if isinstance(other, _Qualifier):
            return _cmp(item.rank, other.rank)
        return -1
    if other is None:
        return 0 if item == 0 else 1
    if isinstance(other, int):
        return _cmp(item, other)
    return 1


def _compare_lists(items: list, others: list) -> int:
    for index in range(max(len(items), len(others))):
        left = items[index] if index < len(items) else None
        right = others[index] if index < len(others) else None
        if left is None:
            result = 0 if right is None else -_compare_item(right, None)
        else:
            result = _compare_item(left, right)
        if result:
            return result
    return 0


def _cmp(left, right) -> int:  # noqa: ANN001 - ints or rank strings
    return (left > right) - (left < right)


