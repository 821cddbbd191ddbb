"""Rules about putting files into the image: COPY, ADD, WORKDIR and unpacking archives."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lamina.build.dockerfile.instructions import Add, Copy
from lamina.security.lint.model import Step
from lamina.security.lint.registry import LintSettings, rule, simple_rule
from lamina.security.lint.shell import Command

ARCHIVE_EXTENSIONS = (
    ".tar", ".Z", ".bz2", ".gz", ".lz", ".lzma", ".tZ", ".tb2", ".tbz", ".tbz2", ".tgz", ".tlz", ".tpz",
    ".txz", ".xz",
)  # fmt: skip
_UNZIP_COMMANDS = ("unzip", "gunzip", "bunzip2", "unlzma", "unxz", "zgz", "uncompress", "zcat", "gzcat")


def drop_quotes(text: str) -> str:
    return text.strip("\"'")


def _is_archive(path: str) -> bool:
    return drop_quotes(path).endswith(ARCHIVE_EXTENSIONS)


def _is_windows_absolute(path: str) -> bool:
    return len(path) >= 2 and path[0].isalpha() and path[1] == ":"


def _basename(path: str) -> str:
    return re.split(r"[/\\]", drop_quotes(path))[-1]


@simple_rule("DL3000", "error", "Use absolute WORKDIR")
def relative_workdir(step: Step) -> bool:
    if step.keyword != "workdir" or step.node is None:
        return True
    path = drop_quotes(" ".join(step.node.args))
    return path.startswith(("$", "/")) or _is_windows_absolute(path)


@rule("DL3010", "info", "Use `ADD` for extracting archives into an image")
def copy_then_extract(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    archives: set[tuple[int, str]] | None = None
    extracted: set[tuple[int, str]] = set()
    for step in steps:
        if step.keyword == "from":  # hadolint starts over at every FROM, failures included
            archives, extracted = None, set()
        elif step.keyword == "copy" and isinstance(step.instruction, Copy) and step.copy_from is None:
            archives = archives or set()
            copy = step.instruction
            if _is_archive(copy.dest):
                archives.add((step.line, _basename(copy.dest)))
            else:
                archives.update((step.line, _basename(s)) for s in copy.sources if _is_archive(_basename(s)))
        elif step.keyword == "run" and archives is not None:
            for archive in archives:
                if any(_extracts(command, archive[1]) for command in step.shell.commands):
                    extracted.add(archive)
    yield from sorted(line for line, _ in extracted)


def _extracts(command: Command, archive: str) -> bool:
    is_tar = command.name == "tar" and any(
        word in ("--extract", "--get") or (word.startswith("-") and "x" in word) for word in command.arguments
    )
    if not (is_tar or command.name in _UNZIP_COMMANDS):
        return False
    return archive in (_basename(word) for word in command.args_no_flags())


@simple_rule("DL3020", "error", "Use COPY instead of ADD for files and folders")
def add_for_files(step: Step) -> bool:
    if step.keyword != "add" or not isinstance(step.instruction, Add):
        return True
    return all(
        _is_archive(source) or drop_quotes(source).startswith(("https://", "http://"))
        for source in step.instruction.sources
    )


@simple_rule("DL3021", "error", "COPY with more than 2 arguments requires the last argument to end with /")
def copy_many_to_file(step: Step) -> bool:
    if step.keyword != "copy" or not isinstance(step.instruction, Copy):
        return True
    copy = step.instruction
    if len(copy.sources) + len(copy.heredocs) <= 1:
        return True
    return drop_quotes(copy.dest).endswith("/")


@rule("DL3022", "warning", "`COPY --from` should reference a previously defined `FROM` alias")
def copy_from_unknown_stage(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    count = 0
    names: set[str] = set()
    for step in steps:
        if step.keyword == "from":
            count += 1
            if step.base_image.alias:
                names.add(step.base_image.alias)
        elif step.keyword == "copy" and step.copy_from is not None:
            source = step.copy_from
            if ":" in drop_quotes(source) or source in names:
                continue
            digits = re.match(r"[0-9]+", source)
            if digits and int(digits.group(0)) < count:
                continue
            yield step.line


@rule("DL3023", "error", "`COPY --from` cannot reference its own `FROM` alias")
def copy_from_own_stage(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    current_alias: str | None = None
    for step in steps:
        if step.keyword == "from":
            current_alias = step.base_image.alias
        elif step.keyword == "copy" and step.copy_from is not None and current_alias is not None:
            if step.copy_from == current_alias:
                yield step.line


@rule("DL3045", "warning", "`COPY` to a relative destination without `WORKDIR` set.")
def copy_relative_without_workdir(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    current: str | None = None
    workdir_set: dict[str | None, bool] = {}
    for step in steps:
        if step.keyword == "from":
            image = step.base_image
            stage = image.alias or image.name
            # A stage built FROM an earlier stage inherits whether that one set a WORKDIR.
            workdir_set[stage] = workdir_set.get(image.name, False)
            current = stage
        elif step.keyword == "workdir":
            workdir_set[current] = True
        elif step.keyword == "copy" and isinstance(step.instruction, Copy):
            if workdir_set.get(current):
                continue
            dest = drop_quotes(step.instruction.dest)
            if dest.startswith(("/", "$")) or _is_windows_absolute(dest):
                continue
            yield step.line


@simple_rule("DL3067", "warning", "Do not copy an entire filesystem from another stage")
def copy_whole_filesystem(step: Step) -> bool:
    if step.keyword != "copy" or step.copy_from is None or not isinstance(step.instruction, Copy):
        return True
    copy = step.instruction
    return not (any(drop_quotes(s) == "/" for s in copy.sources) and drop_quotes(copy.dest) == "/")
