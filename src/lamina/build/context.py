"""The build context on disk: walking it and resolving COPY/ADD sources inside it.

A Dockerfile must not reach outside its context, whatever its paths or the context's symlinks
say: ``COPY ../secret``, ``COPY /etc/passwd`` and a symlink to ``/`` all stay inside. Symlinks
are never followed while walking; the source named by COPY is followed (once per path
component, resolved as if the context were ``/``), the way BuildKit does.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from pathlib import Path

from lamina.build.dockerignore import PatternMatcher, go_match
from lamina.errors import BuildError

_MAX_SYMLINKS = 255
_GLOB_CHARS = frozenset("*?[")


class ContextError(BuildError):
    """A COPY/ADD source is missing from the build context (or excluded by .dockerignore)."""


def walk_context(root: str | os.PathLike[str], matcher: PatternMatcher | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """Yield ``(relative_path, lstat)`` for every entry of the context not excluded, in lexical order.

    Paths use ``/``. An excluded directory is not yielded; its children are visited only when a
    ``!`` exception could re-include one of them, so consumers create parent directories as needed.
    """
    base = Path(root).resolve()
    yield from _walk(base, "", matcher, None)


def _walk(
    directory: Path, prefix: str, matcher: PatternMatcher | None, parent: list[bool] | None
) -> Iterator[tuple[str, os.stat_result]]:
    """Depth first in lexical order, with a stack of open directories instead of recursion:
    a context thousands of directories deep is walked like any other (docker's is)."""
    stack = [(_sorted_entries(directory), prefix, parent)]
    while stack:
        entries, prefix, parent = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        relative = prefix + entry.name
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISSOCK(info.st_mode):
            continue  # docker's client leaves sockets out of the context it sends
        results = None
        if matcher is not None and matcher.patterns:
            excluded, results = matcher.matches_with_parents(relative, parent)
            if excluded:
                if stat.S_ISDIR(info.st_mode) and matcher.exclusions and matcher.may_include_below(relative):
                    stack.append((_sorted_entries(Path(entry.path)), relative + "/", results))
                continue
        yield relative, info
        if stat.S_ISDIR(info.st_mode):
            stack.append((_sorted_entries(Path(entry.path)), relative + "/", results))


def _sorted_entries(directory: Path) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as scan:
            return iter(sorted(scan, key=lambda entry: entry.name))
    except FileNotFoundError:
        return iter(())


def resolve_sources(root: str | os.PathLike[str], source: str, matcher: PatternMatcher | None = None) -> list[str]:
    """The context paths a COPY/ADD source names, relative to the context (``.`` for the root).

    ``source`` is cleaned as if the context were ``/`` (so ``..`` cannot climb out); wildcards
    match per path component with Go ``filepath.Match`` rules; the matched path itself is
    followed if it is a symlink, without leaving the context. Raises :class:`ContextError` when
    nothing matches.
    """
    return [resolved for _, resolved in match_sources(root, source, matcher)]


def match_sources(
    root: str | os.PathLike[str], source: str, matcher: PatternMatcher | None = None
) -> list[tuple[str, str]]:
    """Like :func:`resolve_sources`, as ``(matched, resolved)`` pairs.

    ``matched`` is the path as named (before following symlinks): a copied file keeps the name
    of the symlink that pointed at it.
    """
    base = Path(root).resolve()
    cleaned = _rooted(source)
    if not has_wildcards(cleaned):
        candidates = [cleaned]
    else:
        candidates = _glob(base, cleaned)
    found = []
    for candidate in candidates:
        resolved = resolve_in_context(base, candidate)  # two matches may reach one file: both are copied
        if _in_context(_host(base, resolved)) and not _excluded(matcher, candidate, resolved):
            found.append((candidate, resolved))
        elif candidate != cleaned and _dangling_match(base, candidate) and not _excluded(matcher, candidate):
            # docker stats every wildcard match: a symlink to nothing in the context fails the COPY
            raise ContextError(f'"{candidate}": not found in build context (or excluded by .dockerignore)')
    if not found:
        if candidates and cleaned == candidates[0]:
            raise ContextError(f'"{source}": not found in build context (or excluded by .dockerignore)')
        raise ContextError(f'no source files were specified for "{source}"')
    return found


def resolve_in_context(root: str | os.PathLike[str], path: str) -> str:
    """Resolve every symlink in ``path`` as if ``root`` were ``/``; return the path relative to root."""
    base = Path(root)
    pending = [part for part in _rooted(path).split("/") if part not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = base.joinpath(*resolved, part)
        try:
            is_link = candidate.is_symlink()
        except OSError:
            is_link = False
        if not is_link:
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_SYMLINKS:
            raise ContextError(f"too many levels of symbolic links in {path!r}")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending = [p for p in target.split("/") if p not in ("", ".")] + pending
    return "/".join(resolved) or "."


def has_wildcards(path: str) -> bool:
    """Whether ``path`` is a pattern: a ``*``, ``?`` or ``[`` no backslash escapes (docker's
    containsWildcards). Without one the path names a file literally: under a backtick escape
    directive ``COPY dir\\file`` finds the file called ``dir\\file``."""
    escaped = False
    for char in path:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _GLOB_CHARS:
            return True
    return False


def _rooted(path: str) -> str:
    """Clean ``path`` relative to the context root; ``/a/../../b`` → ``b``, ``/`` → ``.``."""
    cleaned = posixpath.normpath("/" + path).lstrip("/")
    return cleaned or "."


def _glob(base: Path, pattern: str) -> list[str]:
    """Expand a wildcard path one component at a time, as docker's walk of the context matches it
    (symlinked directories are not entered; a matched symlink itself is followed later)."""
    matches = [""]
    for component in pattern.split("/"):
        expanded = []
        for prefix in matches:
            if not has_wildcards(component):
                expanded.append(prefix + component)
                continue
            if not _walkable(base, prefix):
                continue
            try:
                names = sorted(os.listdir(_host(base, prefix.rstrip("/") or ".")))
            except (NotADirectoryError, FileNotFoundError):
                continue
            try:
                expanded.extend(prefix + name for name in names
                                if go_match(component, name) and _in_context(_host(base, prefix + name)))
            except ValueError:
                raise ContextError(f"invalid pattern {pattern!r}: syntax error in pattern") from None
        matches = [match + "/" for match in expanded]
    return [match.rstrip("/") for match in matches]


def _walkable(base: Path, prefix: str) -> bool:
    """Whether docker's wildcard walk reaches inside ``prefix``: it never enters a symlink."""
    current = base
    for part in prefix.strip("/").split("/"):
        if part:
            current = current / part
            if current.is_symlink():
                return False
    return True


def _dangling_match(base: Path, candidate: str) -> bool:
    """Whether a wildcard match is an entry of the context (a symlink) whose target is not."""
    parent, _, name = candidate.rpartition("/")
    return os.path.lexists(_host(base, resolve_in_context(base, parent or ".")) / name)


def _in_context(path: Path) -> bool:
    """Whether ``path`` is something docker's context holds: it exists and is no socket."""
    try:
        return not stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def _excluded(matcher: PatternMatcher | None, *paths: str) -> bool:
    if matcher is None:
        return False
    return any(path != "." and matcher.matches(path) for path in paths)


def _host(base: Path, relative: str) -> Path:
    return base if relative == "." else base / relative
