"""``lamina -H ssh://… build DIR``: the local build context goes to the other host as a tar on
the remote build's stdin (``lamina build … -``), as docker's client sends it to a daemon.

Only what the build may see is sent: the context walked with lamina's own ``.dockerignore``
rules (``<Dockerfile>.dockerignore`` first), plus the Dockerfile and ``.dockerignore``
themselves, which docker's client always keeps (the builder then drops them from ``COPY .``
when the patterns name them). A ``-f`` Dockerfile outside the context (or ``-f -``) is
folded into the tar under a random name, as docker's client does. Owners are 0:0 and the tar
is streamed while it is written: nothing is staged on disk, memory stays flat.
"""

from __future__ import annotations

import io
import os
import secrets
import stat
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path

from lamina.errors import BuildError, UsageError
from lamina.remote.transport import SshTarget, remote_process

__all__ = ["forward_build", "split_build_args"]


def forward_build(target: SshTarget, global_args: Sequence[str], build_args: Sequence[str]) -> int:
    """Run ``build`` on ``target`` with a local directory context uploaded; its exit status."""
    args, context_index, file_index = split_build_args(build_args)
    context = args[context_index] if context_index is not None else None
    if context is None or context == "-" or context.startswith(("http://", "https://", "git@", "git://")) \
            or not os.path.isdir(context):
        if context is not None and context != "-" and "://" not in context and not os.path.exists(context):
            raise BuildError(f"unable to prepare context: path {context!r} not found")
        from lamina.remote.transport import run_remote

        return run_remote(target, [*global_args, "build", *args])  # stdin (a tar or a Dockerfile) is relayed
    dockerfile = args[file_index] if file_index is not None else None
    extra_name, extra_bytes, dockerfile_in_context = _dockerfile_placement(context, dockerfile)
    if file_index is not None:
        args[file_index] = extra_name or dockerfile_in_context or "Dockerfile"
    args[context_index] = "-"
    with remote_process(target, [*global_args, "build", *args]) as process:
        assert process.stdin is not None
        write_context_tar(process.stdin, context, dockerfile, dockerfile_in_context or "Dockerfile",
                          extra=(extra_name, extra_bytes) if extra_name else None)
    return process.returncode


def split_build_args(args: Sequence[str]) -> tuple[list[str], int | None, int | None]:
    """The build's arguments, the index of its context argument and of ``-f``'s value (read with
    the click command's own option table, so every valued flag is known)."""
    valued, flags = _build_options()
    words = list(args)
    context_index = file_index = None
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            if i + 1 < len(words):
                context_index = i + 1
            break
        if word.startswith("--"):
            name, has_value, _ = word.partition("=")
            if name in valued and not has_value:
                if name == "--file":
                    file_index = i + 1
                i += 2
                continue
            if name == "--file" and has_value:
                words[i:i + 1] = ["--file", word.split("=", 1)[1]]
                file_index = i + 1
                i += 2
                continue
            i += 1
            continue
        if word.startswith("-") and word != "-":
            # a cluster of short flags; a valued one takes the rest of the word or the next word
            letters = word[1:]
            while letters:
                option = "-" + letters[0]
                letters = letters[1:]
                if option in valued:
                    if letters:
                        if option == "-f":
                            words[i:i + 1] = [word[: len(word) - len(letters)], letters]
                            file_index = i + 1
                            i += 1
                    else:
                        if option == "-f":
                            file_index = i + 1
                        i += 1
                    break
                if option not in flags:
                    break
            i += 1
            continue
        if context_index is None:
            context_index = i
        i += 1
    if file_index is not None and file_index >= len(words):
        file_index = None
    return words, context_index, file_index


def _build_options() -> tuple[set[str], set[str]]:
    from lamina.cli.build import build

    valued: set[str] = set()
    flags: set[str] = set()
    for param in build.params:
        names = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
        if getattr(param, "param_type_name", "") != "option":
            continue
        (flags if getattr(param, "is_flag", False) or getattr(param, "count", False) else valued).update(names)
    valued.add("--file")
    return valued, flags


def _dockerfile_placement(context: str, dockerfile: str | None) -> tuple[str | None, bytes, str | None]:
    """(name of a Dockerfile added to the tar, its bytes, or the Dockerfile's path in the context)."""
    if dockerfile is None:
        return None, b"", None
    if dockerfile == "-":
        return _random_name(), sys.stdin.buffer.read(), None
    path = Path(dockerfile)
    base = Path(context).resolve()
    try:
        resolved = path.resolve()
        relative = resolved.relative_to(base)
    except ValueError:
        relative = None
    if relative is not None and resolved.is_file():
        return None, b"", relative.as_posix()
    try:
        return _random_name(), path.read_bytes(), None
    except OSError as exc:
        raise BuildError(f"unable to prepare context: the Dockerfile {dockerfile!r} cannot be read "
                         f"({exc.strerror})") from None


def _random_name() -> str:
    return f".dockerfile.{secrets.token_hex(10)}"


def write_context_tar(out, context: str, dockerfile: str | None, dockerfile_in_context: str,
                      extra: tuple[str, bytes] | None = None) -> int:
    """Stream the context directory as a tar into ``out``; the number of entries sent."""
    from lamina.build.context import walk_context
    from lamina.build.dockerignore import PatternMatcher, load_ignore_patterns

    if not os.path.isdir(context):
        raise UsageError(f"unable to prepare context: path {context!r} not found")
    patterns = load_ignore_patterns(context, dockerfile)
    if patterns:  # docker's client keeps these two whatever the patterns say
        patterns = [*patterns, "!" + dockerfile_in_context, "!.dockerignore"]
    matcher = PatternMatcher(patterns) if patterns else None
    base = Path(context)
    count = 0
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for relative, info in walk_context(base, matcher):
            if extra is not None and relative == ".dockerignore":
                continue  # sent below, naming the added Dockerfile
            full = base / relative
            entry = tar.gettarinfo(str(full), arcname=relative)
            entry.uid = entry.gid = 0
            entry.uname = entry.gname = ""
            if stat.S_ISREG(info.st_mode):
                with open(full, "rb") as source:
                    tar.addfile(entry, source)
            elif stat.S_ISDIR(info.st_mode) or stat.S_ISLNK(info.st_mode):
                tar.addfile(entry)
            else:
                continue  # devices and fifos: docker's client sends them, no build needs them
            count += 1
        if extra is not None:
            # as docker's client does: the added Dockerfile and the .dockerignore itself are
            # ignored by COPY/ADD, so neither lands in the image
            name, data = extra
            try:
                ignore = (base / ".dockerignore").read_bytes()
            except FileNotFoundError:
                ignore = b""
            for member_name, member_data in ((name, data), (".dockerignore", ignore + f"\n{name}\n.dockerignore\n".encode())):
                entry = tarfile.TarInfo(member_name)
                entry.size, entry.mode = len(member_data), 0o644
                tar.addfile(entry, io.BytesIO(member_data))
                count += 1
    return count
