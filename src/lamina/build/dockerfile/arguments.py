"""How each instruction's argument text is cut into arguments (the parser's second step).

Every instruction has its own rule, and docker users rely on the quirks: ``ENV k v`` takes the
rest of the line as the value, ``CMD ["a", 1]`` is an error but ``CMD [a]`` is a shell command,
``FROM`` splits on blanks only, flags (``--from=x``) come off the front first. These functions
give the same argument lists as BuildKit's parser; nothing is expanded here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable

import msgspec

from lamina.build.dockerfile.shell_words import GO_SPACE, go_quote

# Blanks that separate words in FROM/EXPOSE/legacy ENV; unlike GO_SPACE it excludes newlines.
BLANKS = re.compile(r"[\t\v\f\r ]+")
_GO_STRIP = "".join(sorted(GO_SPACE))
_GO_SPACES = re.compile("[" + re.escape(_GO_STRIP) + "]+")
# A flag word without quotes or escape tokens: the common case, taken without a character loop.
_PLAIN_FLAG = re.compile("--[^" + re.escape(_GO_STRIP) + "'\"\\\\`]*(?=[" + re.escape(_GO_STRIP) + "]|\\Z)")


class ArgumentError(ValueError):
    """Arguments that BuildKit's parser rejects; the parser adds the line number."""


class Arguments(msgspec.Struct):
    """The result of cutting one instruction's text."""

    args: list[str]
    json: bool = False
    #: For ONBUILD: the trigger instruction's own text (parsed again by the caller).
    sub_line: str | None = None


def split_instruction(line: str, escape: str) -> tuple[str, list[str], str]:
    """Split a logical line into (instruction word, ``--flags``, the rest of the text)."""
    parts = BLANKS.split(line.strip(_GO_STRIP), maxsplit=1)
    if len(parts) < 2:
        return parts[0], [], ""
    rest, flags = extract_flags(parts[1], escape)
    return parts[0], flags, rest.strip(_GO_STRIP)


def extract_flags(text: str, escape: str) -> tuple[str, list[str]]:
    """Take leading ``--flag[=value]`` words off ``text``; a lone ``--`` ends the flags.

    Quotes inside a flag are removed and the escape token escapes the next character, so
    ``--chown="a b"`` is the flag ``--chown=a b``.
    """
    flags: list[str] = []
    n = len(text)
    pos = 0
    while True:
        while pos < n and text[pos] in GO_SPACE:
            pos += 1
        if pos >= n:
            return "", flags
        if not text.startswith("--", pos):
            return text[pos:], flags
        plain = _PLAIN_FLAG.match(text, pos)
        if plain is not None:
            pos = plain.end()
            if plain.group() == "--":
                return (text[pos:] if pos < n else ""), flags
            flags.append(plain.group())
            continue
        word: list[str] = []
        quoted = False  # an empty quoted value ("") still makes a word
        quote = ""
        while pos < n:
            ch = text[pos]
            if quote:
                if ch == quote:
                    quote = ""
                    pos += 1
                    continue
            elif ch in GO_SPACE:
                break
            elif ch == "'" or ch == '"':
                quote = ch
                quoted = True
                pos += 1
                continue
            if ch == escape:
                pos += 1
                if pos >= n:
                    break  # an escape token at the very end is dropped
                ch = text[pos]
            word.append(ch)
            pos += 1
        flag = "".join(word)
        if flag == "--":
            return (text[pos:] if pos < n else ""), flags
        if quoted or flag:
            flags.append(flag)


def parse_words(text: str, escape: str) -> list[str]:
    """Split on unquoted blanks, keeping quotes and escapes in the words (ENV/LABEL/ARG)."""
    if "'" not in text and '"' not in text and escape not in text:
        return [word for word in _GO_SPACES.split(text) if word]
    words: list[str] = []
    word: list[str] = []
    keep_empty = False
    quote = ""
    in_word = False
    n = len(text)
    pos = 0
    while pos < n:
        ch = text[pos]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if pos + 1 == n:
                    quote = ""
                    pos += 1
                    continue  # a trailing escape token is dropped
                word.append(ch)
                pos += 1
                ch = text[pos]
            word.append(ch)
            pos += 1
            continue
        if ch in GO_SPACE:
            if in_word and (keep_empty or word):
                words.append("".join(word))
            in_word = False
            word.clear()
            keep_empty = False
            pos += 1
            continue
        in_word = True
        if ch == "'" or ch == '"':
            quote = ch
            keep_empty = True
        elif ch == escape:
            if pos + 1 == n:
                break
            word.append(ch)
            pos += 1
            ch = text[pos]
        word.append(ch)
        pos += 1
    if in_word and (keep_empty or word):
        words.append("".join(word))
    return words


def parse_json_array(text: str) -> list[str] | None:
    """The strings of a JSON array, or None when ``text`` is not valid JSON (shell form then).

    A valid array holding anything but strings is an error, as in docker.
    """
    text = text.lstrip(_GO_STRIP)
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise ArgumentError("when using JSON array syntax, arrays must be comprised of strings only")
    return [_LONE_SURROGATE.sub("\ufffd", item) for item in value]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # Go's decoder refuses NaN and Infinity


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError("number out of range")  # Go fails to decode it into a float64
    return number


def _maybe_json(rest: str, escape: str) -> Arguments:
    """RUN/CMD/ENTRYPOINT/SHELL: a JSON array, else the whole text as one shell command."""
    if not rest:
        return Arguments([])
    array = parse_json_array(rest)
    if array is not None:
        return Arguments(array, json=True)
    return Arguments([rest])


def _maybe_json_to_list(rest: str, escape: str) -> Arguments:
    """ADD/COPY/VOLUME: a JSON array, else blank-separated words."""
    array = parse_json_array(rest)
    if array is not None:
        return Arguments(array, json=True)
    return _blank_separated(rest, escape)


def _blank_separated(rest: str, escape: str) -> Arguments:
    return Arguments(BLANKS.split(rest) if rest else [])


def _single_string(rest: str, escape: str) -> Arguments:
    return Arguments([rest] if rest else [])


def _name_values(rest: str, instruction: str, escape: str) -> Arguments:
    """ENV/LABEL as (key, value, separator) triples; separator "" marks the legacy ``K V`` form."""
    words = parse_words(rest, escape)
    if not words:
        return Arguments([])
    if "=" not in words[0]:
        parts = BLANKS.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise ArgumentError(f"{instruction} must have two arguments")
        return Arguments([parts[0], parts[1], ""])
    args: list[str] = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise ArgumentError(
                f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value"
            )
        args += (key, value, "=")
    return Arguments(args)


def _env(rest: str, escape: str) -> Arguments:
    return _name_values(rest, "ENV", escape)


def _label(rest: str, escape: str) -> Arguments:
    return _name_values(rest, "LABEL", escape)


def _names_or_name_values(rest: str, escape: str) -> Arguments:
    """ARG: each word is ``name`` or ``name=value``; split later."""
    return Arguments(parse_words(rest, escape))


def _healthcheck(rest: str, escape: str) -> Arguments:
    """HEALTHCHECK: a type word (CMD, NONE) then a command like CMD's."""
    if not rest:
        return Arguments([])
    end = 0
    while end < len(rest) and rest[end] not in GO_SPACE:
        end += 1
    start = end
    while start < len(rest) and rest[start] in GO_SPACE:
        start += 1
    command = _maybe_json(rest[start:], escape)
    return Arguments([rest[:end], *command.args], json=command.json)


def _onbuild(rest: str, escape: str) -> Arguments:
    return Arguments([], sub_line=rest or None)


def _unknown(rest: str, escape: str) -> Arguments:
    # BuildKit keeps unknown instructions with one empty argument; instructions.py rejects them.
    return Arguments([""])


ARGUMENT_RULES: dict[str, Callable[[str, str], Arguments]] = {
    "add": _maybe_json_to_list,
    "arg": _names_or_name_values,
    "cmd": _maybe_json,
    "copy": _maybe_json_to_list,
    "entrypoint": _maybe_json,
    "env": _env,
    "expose": _blank_separated,
    "from": _blank_separated,
    "healthcheck": _healthcheck,
    "label": _label,
    "maintainer": _single_string,
    "onbuild": _onbuild,
    "run": _maybe_json,
    "shell": _maybe_json,
    "stopsignal": _single_string,
    "user": _single_string,
    "volume": _maybe_json_to_list,
    "workdir": _single_string,
}

KNOWN_INSTRUCTIONS = frozenset(ARGUMENT_RULES)


def parse_arguments(keyword: str, rest: str, escape: str) -> Arguments:
    """Cut ``rest`` (flags already removed) by the rule of instruction ``keyword``."""
    rule = ARGUMENT_RULES.get(keyword.lower(), _unknown)
    return rule(rest, escape)
