"""The commands the user docs show: extracted from README.md and docs/*.md, and checked.

Each ```sh block line (continuations joined, heredoc bodies and comments dropped), each ``$ ``
line of a ```console block, and each inline code span that starts with ``lamina `` is split into
simple commands (at ``&&``, ``||``, ``|``, ``;``, ``&``). A ``lamina`` command is checked
against the CLI itself: every subcommand on its path must exist and every flag must be one that
command has (click's own parser, without running anything). Other programs must be on PATH,
shell builtins, or files of the repository (``.venv/bin/python bench/x.py``: the script too).
Synopsis lines (``[-t TAG] [-f FILE | -f -]``) are read for their subcommands and flags only.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import click

REPO = Path(__file__).resolve().parents[2]
OPERATORS = {"&&", "||", "|", ";", "&", ";;", "|&"}
REDIRECTIONS = {">", ">>", "<", "<<", "<<<", ">&", "<&", "&>", "&>>", ">|", "2>", "2>>"}
BUILTINS = {"cd", "export", "echo", "set", "source", ".", "exit", "true", "false", "test", "[", "read", "wait",
            "kill", "time", "for", "do", "done", "if", "then", "else", "fi", "while", "unset", "eval", "exec", "trap"}
_HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")
_INLINE = re.compile(r"(?<!`)`(lamina [^`\n]+)`(?!`)")
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class DocCommand:
    """One simple command of a doc, with where it is (``docs/x.md:LINE``) and how it was found."""

    where: str
    words: tuple[str, ...]
    synopsis: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {' '.join(self.words)}"


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _lines_of_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, command text) of the file's sh and console blocks, continuations joined."""
    commands: list[tuple[int, str]] = []
    kind, pending, start, heredoc = None, "", 0, None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fence = _FENCE.match(line)
        if kind is None:
            if fence and fence.group(1) in ("sh", "console", "bash", "shell"):
                kind = fence.group(1)
            elif fence:
                kind = "other"
            continue
        if fence and not fence.group(1) and heredoc is None:
            kind, pending = None, ""
            continue
        if kind == "other":
            continue
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        if kind == "console":
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text, pending = pending + line, ""
        opened = _HEREDOC.search(text)
        if opened:
            heredoc, text = opened.group(1), text[:opened.start()]
        if text.strip():
            commands.append((start, text))
    return commands


def _split(text: str) -> list[list[str]]:
    """Simple commands of one shell line: words without redirections and leading assignments."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    simple: list[list[str]] = [[]]
    skip_next = False
    for token in lexer:
        if skip_next:
            skip_next = False
            continue
        if token in OPERATORS:
            simple.append([])
        elif token in REDIRECTIONS or re.fullmatch(r"\d?[<>]+&?", token):
            skip_next = True
        elif token in ("(", ")", "{", "}"):
            continue
        elif not simple[-1] and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", token):
            continue  # VAR=value before the program
        else:
            simple[-1].append(token)
    return [words for words in simple if words]


def doc_commands() -> list[DocCommand]:
    found: list[DocCommand] = []
    for path in doc_files():
        relative = path.relative_to(REPO).as_posix()
        for number, text in _lines_of_blocks(path):
            synopsis = bool(re.search(r"\[-", text))
            if synopsis:
                found.append(DocCommand(f"{relative}:{number}", tuple(shlex.split(text, comments=True)), True))
                continue
            found += [DocCommand(f"{relative}:{number}", tuple(words)) for words in _split(text)]
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for span in _INLINE.findall(line):
                try:
                    words = shlex.split(span)
                except ValueError:
                    words = span.split()
                found.append(DocCommand(f"{relative}:{number}", tuple(words), True))
    return found


def _synopsis_words(words: tuple[str, ...]) -> list[str]:
    """A synopsis's words as a command line: brackets, alternatives' bars and ellipses dropped."""
    cleaned = []
    for word in words:
        word = word.strip("[]").removesuffix("...").removesuffix("…").strip("[]")
        if word and word != "|":
            cleaned.append(word)
    return cleaned


def check_lamina(words: list[str]) -> str | None:
    """Why a ``lamina`` command line does not parse (an unknown subcommand or flag, a flag without
    its value), or None. click's parser only: no value is converted, no callback runs."""
    import warnings

    from lamina.cli.main import cli

    command: click.Command = cli
    path, rest = ["lamina"], list(words)
    parent: click.Context | None = None
    while True:
        ctx = click.Context(command, info_name=path[-1], parent=parent, **command.context_settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # make_parser: click 9 moves it
            parser = command.make_parser(ctx)
        try:
            _, remaining, _ = parser.parse_args(list(rest))
        except click.UsageError as exc:
            return f"{' '.join(path)}: {exc.format_message()}"
        if not isinstance(command, click.Group) or not remaining:
            return None
        sub = command.get_command(ctx, remaining[0])
        if sub is None:
            return f"{' '.join(path)}: no such command {remaining[0]!r}"
        parent, command, rest = ctx, sub, remaining[1:]
        path.append(remaining[0])


def check_program(words: list[str]) -> str | None:
    """Why a non-lamina program of a doc cannot be found here, or None."""
    program = words[0]
    if program in BUILTINS:
        return None
    if "/" in program:
        path = Path(os.path.expanduser(program))
        if not path.is_absolute():
            path = REPO / path
        if not path.exists():
            return f"{program}: no such file (relative to the repository)"
    elif shutil.which(program) is None:
        return f"{program}: not on PATH"
    if Path(program).name.startswith("python") and len(words) > 1 and words[1].endswith(".py"):
        if not (REPO / words[1]).exists():
            return f"{words[1]}: no such script in the repository"
    return None


def problem(command: DocCommand) -> str | None:
    words = _synopsis_words(command.words) if command.synopsis else list(command.words)
    if not words:
        return None
    if Path(words[0]).name == "lamina":
        return check_lamina(words[1:])
    if command.synopsis:
        return None  # an inline span naming another program is prose, not a command to run
    return check_program(words)
