"""Alpine's version order, as ``apk version -t`` decides it (apk-tools' version.c).

A version is a token stream: numbers separated by ``.``, one optional letter, ``_suffix[N]``
parts (``alpha``, ``beta``, ``pre``, ``rc`` sort before the release; ``cvs``, ``svn``, ``git``,
``hg``, ``p`` after it) and ``-rN``. A number after a dot with leading zeros compares as a
decimal fraction would (``1.01 < 1.1``). The token kinds may only appear in that order.
"""

from __future__ import annotations

_PRE_SUFFIXES = ("alpha", "beta", "pre", "rc")
_POST_SUFFIXES = ("cvs", "svn", "git", "hg", "p")

# token kinds in the order they may follow each other
_INVALID, _DIGIT_OR_ZERO, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _REVISION_NO, _END = range(-1, 7)


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 comparing two Alpine package versions."""
    left_tokens, right_tokens = _Tokens(left), _Tokens(right)
    left_value = right_value = 0
    while (
        left_tokens.kind == right_tokens.kind
        and left_tokens.kind not in (_END, _INVALID)
        and left_value == right_value
    ):
        left_value = left_tokens.next_value()
        right_value = right_tokens.next_value()
    if left_value != right_value:
        return -1 if left_value < right_value else 1
    if left_tokens.kind == right_tokens.kind:
        return 0
    # equal so far: the longer version is newer unless what follows is a pre-release suffix
    if left_tokens.kind == _SUFFIX and left_tokens.next_value() < 0:
        return -1
    if right_tokens.kind == _SUFFIX and right_tokens.next_value() < 0:
        return 1
    if left_tokens.kind > right_tokens.kind:
        return -1
    if right_tokens.kind > left_tokens.kind:
        return 1
    return 0


class _Tokens:
    """A cursor over one version string: ``kind`` is the kind of the token ``next_value`` reads."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.kind = _DIGIT

    def next_value(self) -> int:
        text, start = self.text, self.pos
        if start >= len(text):
            self.kind = _END
            return 0
        value, end, forced_next = 0, start, None
        kind = self.kind
        if kind == _DIGIT_OR_ZERO and text[start] == "0":
            while end < len(text) and text[end] == "0":
                end += 1
            value, forced_next = -(end - start), _DIGIT
        elif kind in (_DIGIT_OR_ZERO, _DIGIT, _SUFFIX_NO, _REVISION_NO):
            while end < len(text) and text[end].isascii() and text[end].isdigit():
                end += 1
            value = int(text[start:end]) if end > start else 0
        elif kind == _LETTER:
            value, end = ord(text[start]), start + 1
        elif kind == _SUFFIX:
            for index, suffix in enumerate(_PRE_SUFFIXES):
                if text.startswith(suffix, start):
                    value, end = index - len(_PRE_SUFFIXES), start + len(suffix)
                    break
            else:
                for index, suffix in enumerate(_POST_SUFFIXES):
                    if text.startswith(suffix, start):
                        value, end = index, start + len(suffix)
                        break
                else:
                    self.kind = _INVALID
                    return -1
        else:
            self.kind = _INVALID
            return -1
        self.pos = end
        if end >= len(text):
            self.kind = _END
        elif forced_next is not None:
            self.kind = forced_next
        else:
            self._advance_kind()
        return value

    def _advance_kind(self) -> None:
        text, pos, current = self.text, self.pos, self.kind
        char = text[pos]
        if current in (_DIGIT, _DIGIT_OR_ZERO) and "a" <= char <= "z":
            following = _LETTER
        elif current == _LETTER and char.isascii() and char.isdigit():
            following = _DIGIT
        elif current == _SUFFIX and char.isascii() and char.isdigit():
            following = _SUFFIX_NO
        else:
            following = _INVALID
            if char == ".":
                following = _DIGIT_OR_ZERO
            elif char == "_":
                following = _SUFFIX
            elif char == "-" and text[pos + 1 : pos + 2] == "r":
                following = _REVISION_NO
                pos += 1
            pos += 1
        if following < current and not (
            (following == _DIGIT_OR_ZERO and current == _DIGIT)
            or (following == _SUFFIX and current == _SUFFIX_NO)
            or (following == _DIGIT and current == _LETTER)
        ):
            following = _INVALID
        self.pos = pos
        self.kind = following
