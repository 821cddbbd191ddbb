""".dockerignore: which files of the build context the builder never sees.

Same rules as docker (moby/patternmatcher and its ignorefile reader): Go ``filepath.Match``
globs plus ``**``; the last matching pattern wins; ``!pattern`` re-includes; a pattern that matches
a directory excludes everything below it, yet a later ``!`` exception can still bring back a
child. ``<Dockerfile>.dockerignore`` beside the Dockerfile wins over the context's ``.dockerignore``.

Matching takes time linear in the path, as docker's Go regexps do: a pattern with more than one
unbounded wildcard (``**/*.pyc``, ``a*a*a*b``) runs on RE2, which never backtracks; Python's ``re``,
four times faster per call, keeps the patterns that cannot backtrack more than linearly (see
``linear_regex``; bench/dockerignore_bench.py has the numbers).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec

from lamina.errors import BuildError

_GO_TRIM = "\t\n\v\f\r \x85\xa0"
_REGEX_ESCAPED = frozenset(".+()|{}$")


class IgnorePatternError(BuildError):
    """A .dockerignore pattern is not valid Go glob syntax."""


def read_ignore_file(content: str | bytes) -> list[str]:
    """The patterns of an ignore file: ``#`` comments at column 0, blanks skipped, paths cleaned."""
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    if content.startswith("\ufeff"):
        content = content[1:]
    patterns = []
    for raw in content.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.startswith("#"):
            continue
        pattern = line.strip(_GO_TRIM)
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip(_GO_TRIM)
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def load_ignore_patterns(context_dir: str | os.PathLike[str], dockerfile: str | os.PathLike[str] | None = None) -> list[str]:
    """Patterns for a build: ``<dockerfile>.dockerignore`` if it exists, else ``<context>/.dockerignore``."""
    candidates = []
    if dockerfile is not None:
        candidates.append(Path(str(dockerfile) + ".dockerignore"))
    candidates.append(Path(context_dir) / ".dockerignore")
    for candidate in candidates:
        try:
            return read_ignore_file(candidate.read_bytes())
        except FileNotFoundError:
            continue
    return []


def literal_pattern(path: str) -> str:
    """A pattern matching exactly ``path`` (its wildcard characters escaped)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", path)


def go_clean(path: str) -> str:
    """Go's ``path.Clean``: like ``posixpath.normpath`` but ``//x`` becomes ``/x`` and "" becomes "."."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


class _Pattern(msgspec.Struct):
    text: str  # cleaned, without the "!"
    exclusion: bool
    kind: str = ""  # exact, prefix, suffix or regex; compiled on first use
    regex: LinearRegex | None = None
    error: bool = False

    def match(self, path: str) -> bool:
        if not self.kind and not self.error:
            self._compile()
        if self.error:
            raise IgnorePatternError(f"invalid .dockerignore pattern {self.text!r}: syntax error in pattern")
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "basename":
            assert self.regex is not None
            return self.regex.fullmatch(path[path.rfind("/") + 1 :])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regex is not None
        return self.regex.fullmatch(path)

    def _compile(self) -> None:
        """Translate to a regex, noting the cheap cases (exact, ``dir/**``, ``**/name``) as patternmatcher does."""
        pattern = self.text
        if pattern.startswith("**/") and "/" not in pattern[3:] and "**" not in pattern[3:]:
            # ``**/*.pyc``: ``(.*/)?`` then a glob that cannot match "/" can only start after the
            # last "/", so the glob alone runs on the last name (one wildcard fewer: Python's re)
            name = _Pattern(pattern[3:], self.exclusion)
            name._compile()
            if name.kind == "regex":
                self.kind, self.regex = "basename", name.regex
                return
        out = ["^"]
        kind = "exact"
        unbounded = 0  # wildcards that repeat without bound: what makes a backtracking engine slow
        i = 0
        iteration = 0
        n = len(pattern)
        while i < n:
            ch = pattern[i]
            i += 1
            if ch == "*":
                if i < n and pattern[i] == "*":
                    i += 1
                    if i < n and pattern[i] == "/":
                        i += 1
                    unbounded += 1
                    if i >= n:
                        if kind == "exact":
                            kind = "prefix"
                        else:
                            out.append(".*")
                            kind = "regex"
                    else:
                        out.append("(.*/)?")
                        kind = "regex"
                    if iteration == 0:
                        kind = "suffix"
                else:
                    out.append("[^/]*")
                    kind = "regex"
                    unbounded += 1
            elif ch == "?":
                out.append("[^/]")
                kind = "regex"
            elif ch in _REGEX_ESCAPED:
                out.append("\\" + ch)
            elif ch == "\\":
                if i < n:
                    out.append("\\" + pattern[i])
                    i += 1
                    kind = "regex"
                else:
                    out.append("\\\\")
            elif ch in "[]":
                out.append(ch)
                kind = "regex"
            else:
                out.append(ch)
            iteration += 1
        self.kind = kind
        if kind == "regex":
            try:
                self.regex = linear_regex("".join(out), unbounded)
            except ValueError:
                self.error = True


class PatternMatcher:
    """Decides whether a context path is excluded; build it once per build, query per path."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            text = raw.strip(_GO_TRIM)
            if not text:
                continue
            text = go_clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise IgnorePatternError('illegal exclusion pattern: "!"')
                text = text[1:]
            try:
                go_match(text, ".")
            except ValueError:
                raise IgnorePatternError(f"invalid .dockerignore pattern {raw!r}: syntax error in pattern") from None
            self.patterns.append(_Pattern(text, exclusion))
        self.exclusions = any(p.exclusion for p in self.patterns)

    def matches(self, path: str) -> bool:
        """True when ``path`` (slash-separated, relative to the context) is excluded."""
        if go_clean(path) == ".":
            return False  # the context root itself is never excluded
        excluded, _ = self.matches_with_parents(path, None)
        return excluded

    def matches_with_parents(self, path: str, parent: Sequence[bool] | None) -> tuple[bool, list[bool]]:
        """Like :meth:`matches`, reusing the per-pattern results of the parent directory.

        Returns the verdict and this path's per-pattern results, to pass for its children.
        A pattern that matched a parent directory matches everything below it.
        """
        path = go_clean(path)
        excluded = False
        results = [False] * len(self.patterns)
        for index, pattern in enumerate(self.patterns):
            matched = bool(parent) and parent[index]  # type: ignore[index]
            if not matched:
                if pattern.exclusion != excluded:
                    continue
                matched = pattern.match(path)
                if not matched and not parent:
                    matched = any(pattern.match(ancestor) for ancestor in _ancestors(path))
            results[index] = matched
            if matched:
                excluded = not pattern.exclusion
        return excluded, results

    def may_include_below(self, directory: str) -> bool:
        """Could an exception pattern re-include something inside an excluded ``directory``?"""
        prefix = directory.rstrip("/") + "/"
        for pattern in self.patterns:
            if not pattern.exclusion:
                continue
            literal = _literal_prefix(pattern.text)
            if literal == pattern.text:
                if (pattern.text + "/").startswith(prefix):
                    return True
            elif literal.startswith(prefix) or prefix.startswith(literal):
                return True
        return False


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _literal_prefix(pattern: str) -> str:
    """The part of a pattern before its first wildcard or escape."""
    for index, ch in enumerate(pattern):
        if ch in "*?[\\":
            return pattern[:index]
    return pattern


def go_match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match`` on Linux: ``*``/``?`` never match ``/``; raise ValueError on bad syntax."""
    return _glob_regex(pattern).fullmatch(name)


class LinearRegex:
    """A compiled pattern whose ``fullmatch`` takes time linear in the text, whatever the pattern."""

    __slots__ = ("_fullmatch", "_re2")

    def __init__(self, source: str, *, use_re2: bool) -> None:
        self._re2 = use_re2
        if use_re2:
            import re2  # google-re2: loaded only for a pattern that needs it (~20 ms)

            options = re2.Options()
            options.dot_nl = True
            options.log_errors = False  # a bad pattern is our error to report, not a line on stderr
            try:
                self._fullmatch = re2.compile(_go_runes(source), options).fullmatch
            except re2.error as exc:
                raise ValueError(f"syntax error in pattern: {exc}") from None
        else:
            try:
                self._fullmatch = re.compile(source, re.S).fullmatch
            except re.error as exc:
                raise ValueError(f"syntax error in pattern: {exc}") from None

    def fullmatch(self, text: str) -> bool:
        try:
            return self._fullmatch(text) is not None
        except UnicodeEncodeError:
            return self._fullmatch(_go_runes(text)) is not None


def _go_runes(text: str) -> str:
    """RE2 reads UTF-8: a byte that is not (a surrogate escape) reads as Go reads it, as U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def linear_regex(source: str, unbounded: int) -> LinearRegex:
    """Compile a translated glob so that matching never backtracks more than linearly.

    With at most one unbounded repeat (``[^/]*`` or ``.*``) Python's ``re`` tries each split
    point once, and is four times faster per call than RE2's binding; with two or more, a
    backtracking engine can take time exponential in their number (``a*a*a*…b`` over a long
    name), so RE2 runs those, in linear time like docker's Go regexps.
    """
    return LinearRegex(source, use_re2=unbounded > 1)


_GLOB_CACHE: dict[str, LinearRegex] = {}


def _glob_regex(pattern: str) -> LinearRegex:
    cached = _GLOB_CACHE.get(pattern)
    if cached is not None:
        return cached
    out: list[str] = []
    unbounded = 0
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append("[^/]*")
            unbounded += 1
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i >= n:
                raise ValueError("syntax error in pattern")
            out.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[":
            klass, i = _glob_class(pattern, i)
            out.append(klass)
        else:
            out.append(re.escape(ch))
    compiled = linear_regex("".join(out), unbounded)
    if len(_GLOB_CACHE) < 4096:
        _GLOB_CACHE[pattern] = compiled
    return compiled


def _glob_class(pattern: str, i: int) -> tuple[str, int]:
    """Translate a ``[...]`` class starting after ``[``; Go rejects ``[]``, ``[-x]``, ``[x-]``."""
    n = len(pattern)
    negate = i < n and pattern[i] == "^"
    if negate:
        i += 1
    ranges: list[str] = []
    count = 0
    while True:
        if i >= n:
            raise ValueError("syntax error in pattern")
        if pattern[i] == "]" and count > 0:
            i += 1
            break
        low, i = _class_char(pattern, i)
        high = low
        if i < n and pattern[i] == "-":
            high, i = _class_char(pattern, i + 1)
        count += 1
        if low <= high:  # Go accepts an inverted range; it just matches nothing
            ranges.append(re.escape(low) if low == high else f"{re.escape(low)}-{re.escape(high)}")
    if not ranges:
        return ("[\\s\\S]" if negate else "[^\\s\\S]"), i  # any char / none (RE2 has no lookahead)
    return "[" + ("^" if negate else "") + "".join(ranges) + "]", i


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise ValueError("syntax error in pattern")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise ValueError("syntax error in pattern")
    return pattern[i], i + 1
