"""A RUN line's shell script → the simple commands in it, as hadolint sees them through ShellCheck.

The lint rules ask questions like "is there an ``apt-get`` command with ``install`` and no ``-y``",
so they need each simple command's name and words, wherever it sits: after ``&&``, in a pipeline,
inside ``$(…)``, in an ``if`` or a ``for`` body. This is a small POSIX-shell reader for that job,
not an interpreter: quotes are removed, ``$VAR``/``${VAR}`` stay as ``${VAR}``, ``$(cmd)`` becomes
``${cmd}`` and its inner commands are listed too (after the outer one, in source order: a
pre-order walk, as ShellCheck's ``doAnalysis`` does), redirections and assignments are dropped
from the words. Input is bounded by the Dockerfile size; every loop consumes a character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_METACHARS = frozenset(" \t\n;&|<>()")
_RESERVED = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "{", "}", "!", "in", "esac", "time"}
)
_WRAPPERS = frozenset({"busybox", "builtin", "command", "run"})
_MAX_NESTING = 64  # $( … ) inside $( … ): deeper than any real script, shallow for Python's stack
_FD_REDIRECT = re.compile(r"[0-9]+[<>]")
_REDIRECT_OPERATOR = re.compile(r"<<<|<<-|<<|<>|<&|>&|>>|>\||&>>|&>|<|>")
_VARIABLE_CHARS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-]")


@dataclass
class Word:
    """One shell word: ``text`` with quotes removed; ``literal`` when no expansion was in it."""

    text: str
    literal: bool = True


@dataclass
class Command:
    """A simple command: its name (the effective one for ``exec x``/``command x``) and its words."""

    name: str
    arguments: list[str]
    flags: list[tuple[str, int]] = field(default_factory=list)  # (flag name, index of its word)

    def __post_init__(self) -> None:
        self.flags = _flags_of(self.arguments)

    def has_args(self, names: tuple[str, ...] | str, args: tuple[str, ...]) -> bool:
        """hadolint's ``cmdHasArgs``: the name is one of ``names`` and any word is in ``args``."""
        names = (names,) if isinstance(names, str) else names
        return self.name in names and any(word in args for word in self.arguments)

    def has_flag(self, flag: str) -> bool:
        return any(name == flag for name, _ in self.flags)

    def has_any_flag(self, flags: tuple[str, ...]) -> bool:
        return any(name in flags for name, _ in self.flags)

    def count_flag(self, flag: str) -> int:
        return sum(1 for name, _ in self.flags if name == flag)

    def args_no_flags(self, drop_values_of: tuple[str, ...] = ()) -> list[str]:
        """Words that are not flags; with ``drop_values_of``, the word after such a flag goes too.

        As hadolint's ``dropFlagArg``: a flag written ``--name=value`` keeps its value inside.
        """
        flag_positions = {index for _, index in self.flags}
        dropped = {
            index + 1
            for name, index in self.flags
            if name in drop_values_of and "=" not in self.arguments[index]
        }
        return [
            word
            for index, word in enumerate(self.arguments)
            if index not in flag_positions and index not in dropped
        ]

    def flag_values(self, flag: str) -> list[str]:
        """hadolint's ``getFlagArg``: the word after each occurrence of ``flag``."""
        wanted = {index + 1 for name, index in self.flags if name == flag}
        return [word for index, word in enumerate(self.arguments) if index in wanted]


@dataclass
class ParsedShell:
    """What the rules ask of a script: its text, its commands in order and whether it pipes."""

    original: str
    commands: list[Command]
    has_pipes: bool = False

    def names(self) -> list[str]:
        return [command.name for command in self.commands]

    def using(self, program: str) -> bool:
        return program in self.names()


def _flags_of(arguments: list[str]) -> list[tuple[str, int]]:
    """``--name=value`` → name; ``-abc`` → a, b, c; ``-``/``--`` are not flags (hadolint's ``getAllFlags``)."""
    found: list[tuple[str, int]] = []
    for index, word in enumerate(arguments):
        if word in ("-", "--"):
            continue
        if word.startswith("--"):
            found.append((word[2:].split("=", 1)[0], index))
        elif word.startswith("-"):
            found.extend((letter, index) for letter in word[1:])
    return found


def parse_shell(script: str) -> ParsedShell:
    """Read ``script``; text the reader cannot follow ends the list early, it never raises."""
    reader = _Reader(script)
    try:
        reader.read_list(stop="")
    except _Unreadable:
        pass
    return ParsedShell(script, reader.commands, reader.pipes > 0)


class _Unreadable(Exception):
    """The script is not shell this reader follows (unbalanced quotes, …)."""


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text.replace("\\\r\n", "").replace("\\\n", "")
        self.pos = 0
        self.commands: list[Command] = []
        self.pipes = 0
        self.pending_heredocs: list[tuple[str, bool]] = []
        self.depth = 0
        self.in_backticks = False

    # ---- structure -------------------------------------------------------------------------
    def read_list(self, stop: str) -> None:
        """Read commands up to the closing ``stop`` (")" or "`") or the end; consume the closer."""
        self.depth += 1
        if self.depth > _MAX_NESTING:
            raise _Unreadable("nesting")
        try:
            self._read_list(stop)
        finally:
            self.depth -= 1

    def _read_list(self, stop: str) -> None:
        words: list[Word] = []
        slot = len(self.commands)
        case_depth = 0
        in_case_patterns = False
        skip_for = 0  # after "for"/"select": skip the variable and the "in" words up to ; or newline
        text = self.text
        while True:
            if self.pos >= len(text):
                if stop:
                    raise _Unreadable(stop)
                self.finish(words, slot)
                return
            char = text[self.pos]
            if stop and text.startswith(stop, self.pos) and not (stop == ")" and in_case_patterns):
                self.pos += len(stop)
                self.finish(words, slot)
                return
            if char in " \t":
                self.pos += 1
                continue
            if char == "#" and not words:
                while self.pos < len(text) and text[self.pos] != "\n":
                    self.pos += 1
                continue
            if (
                char == "("
                and not words
                and not in_case_patterns
                and text.startswith("((", self.pos)
                and not _commands_in_double_parens(text, self.pos + 2)
            ):
                self.skip_until("))")  # an arithmetic command: no simple command in it
                continue
            if char == "\n" or char == ";" or char == "&" or char == "|" or char == "(" or char == ")":
                operator = self.operator()
                if operator == "(" and len(words) == 1 and text.startswith(")", self._skip_blank(self.pos)):
                    # "name() { …; }" defines a function: not a command.
                    self.pos = self._skip_blank(self.pos) + 1
                    words = []
                    continue
                if in_case_patterns and operator in (")", "|", "("):
                    words = []
                    in_case_patterns = operator != ")"
                    continue
                self.finish(words, slot)
                words = []
                slot = len(self.commands)
                if operator in ("|", "|&"):
                    self.pipes += 1
                if operator == "\n":
                    self.read_pending_heredocs()
                if operator in ("\n", ";"):
                    skip_for = 0
                if operator == ";;" or operator == ";&" or operator == ";;&":
                    in_case_patterns = case_depth > 0
                continue
            if char in "<>" or (char.isdigit() and self._fd_redirect()):
                self.redirection(words)
                continue
            word = self.read_word()
            if not words:
                if skip_for:
                    if word.text in ("do",):
                        skip_for = 0
                    continue
                if word.text in ("for", "select") and word.literal:
                    skip_for = 1
                    continue
                if word.text == "case" and word.literal:
                    self.read_word_after_blank()  # the subject
                    self.read_word_after_blank()  # "in"
                    case_depth += 1
                    in_case_patterns = True
                    continue
                if word.text == "esac" and word.literal:
                    case_depth = max(0, case_depth - 1)
                    in_case_patterns = False
                    continue
                if in_case_patterns:
                    continue
                if word.text in _RESERVED and word.literal:
                    continue
                if word.text == "function" and word.literal:
                    self.read_word_after_blank()
                    continue
                if word.text == "[[" and word.literal:
                    self.skip_until(" ]]")
                    continue
                if _ASSIGNMENT.match(word.text):
                    continue
            words.append(word)

    def finish(self, words: list[Word], slot: int) -> None:
        """Record the simple command made of ``words`` before the commands nested in its words."""
        if not words:
            return
        name: str | None = words[0].text if words[0].literal else None
        # ShellCheck names the command run by a wrapper; without one, the wrapper itself.
        if name in _WRAPPERS and len(words) > 1 and not words[1].text.startswith("-"):
            name = words[1].text if words[1].literal else None
        elif name == "exec":
            name = _exec_target(words[1:])
        if name is None:
            return
        self.commands.insert(slot, Command(name, [word.text for word in words[1:]]))

    def operator(self) -> str:
        text = self.text
        for operator in (";;&", ";;", ";&", "&&", "||", "|&", "\n", ";", "&", "|", "(", ")"):
            if text.startswith(operator, self.pos):
                self.pos += len(operator)
                return operator
        self.pos += 1
        return text[self.pos - 1]

    def _fd_redirect(self) -> bool:
        match = _FD_REDIRECT.match(self.text, self.pos)
        return match is not None

    def _skip_blank(self, position: int) -> int:
        while position < len(self.text) and self.text[position] in " \t":
            position += 1
        return position

    def redirection(self, words: list[Word]) -> None:
        """Consume ``[n]>file``, ``2>&1``, ``<<EOF``, ``<(cmd)``; only nested commands are kept."""
        text = self.text
        while self.pos < len(text) and text[self.pos].isdigit():
            self.pos += 1
        if text.startswith(("<(", ">("), self.pos):
            self.pos += 2
            self.read_list(stop=")")
            words.append(Word("", literal=False))  # ShellCheck's simplified text of <(…) is empty
            return
        match = _REDIRECT_OPERATOR.match(text, self.pos)
        operator = match.group(0) if match else text[self.pos]
        self.pos += len(operator)
        self.pos = self._skip_blank(self.pos)
        if self.pos >= len(text) or text[self.pos] in "\n;|&()":
            return
        target = self.read_word()
        if operator in ("<<", "<<-"):
            self.pending_heredocs.append((target.text, operator == "<<-"))

    def read_pending_heredocs(self) -> None:
        """After the newline that follows ``<<EOF``: skip the body up to its terminator line."""
        text = self.text
        for delimiter, strip_tabs in self.pending_heredocs:
            while self.pos < len(text):
                end = text.find("\n", self.pos)
                end = len(text) if end < 0 else end
                line = text[self.pos : end]
                self.pos = min(end + 1, len(text))
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
        self.pending_heredocs = []

    def read_word_after_blank(self) -> Word:
        self.pos = self._skip_blank(self.pos)
        return self.read_word()

    def skip_until(self, closer: str) -> None:
        end = self.text.find(closer, self.pos)
        self.pos = len(self.text) if end < 0 else end + len(closer)

    # ---- words -----------------------------------------------------------------------------
    def read_word(self) -> Word:
        text = self.text
        pieces: list[str] = []
        literal = True
        start = self.pos
        while self.pos < len(text):
            char = text[self.pos]
            if char in _METACHARS:
                if self.pos == start:  # a lone metachar we do not treat as an operator
                    self.pos += 1
                    pieces.append(char)
                break
            if char == "\\":
                pieces.append(text[self.pos + 1 : self.pos + 2])
                self.pos += 2
            elif char == "'":
                end = text.find("'", self.pos + 1)
                if end < 0:
                    raise _Unreadable("'")
                pieces.append(text[self.pos + 1 : end])
                self.pos = end + 1
            elif char == '"':
                piece, expanded = self.read_double_quoted()
                pieces.append(piece)
                literal = literal and not expanded
            elif char == "`":
                if self.in_backticks:  # the closing backtick of the substitution being read
                    break
                self.read_backticks()
                pieces.append("${VAR}")
                literal = False
            elif char == "$":
                piece, expanded = self.read_dollar()
                pieces.append(piece)
                literal = literal and not expanded
            else:
                if char in "*?[":
                    literal = False
                pieces.append(char)
                self.pos += 1
        return Word("".join(pieces), literal)

    def read_double_quoted(self) -> tuple[str, bool]:
        text = self.text
        self.pos += 1
        pieces: list[str] = []
        expanded = False
        while True:
            if self.pos >= len(text):
                raise _Unreadable('"')
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(pieces), expanded
            if char == "\\" and text[self.pos + 1 : self.pos + 2] in ('"', "\\", "$", "`"):
                pieces.append(text[self.pos + 1])
                self.pos += 2
            elif char == "$":
                piece, was_expansion = self.read_dollar()
                pieces.append(piece)
                expanded = expanded or was_expansion
            elif char == "`":
                if self.in_backticks:
                    raise _Unreadable("`")
                self.read_backticks()
                pieces.append("${VAR}")
                expanded = True
            else:
                pieces.append(char)
                self.pos += 1

    def read_backticks(self) -> None:
        """`` `cmd` ``: the commands inside (backticks do not nest without escapes)."""
        self.pos += 1
        self.in_backticks = True
        try:
            self.read_list(stop="`")
        finally:
            self.in_backticks = False

    def read_dollar(self) -> tuple[str, bool]:
        """``$…`` at ``pos`` → (its simplified text, whether it expands)."""
        text = self.text
        following = text[self.pos + 1 : self.pos + 2]
        if text.startswith("$((", self.pos) and not _commands_in_double_parens(text, self.pos + 3):
            self.pos += 3
            self.skip_balanced("(", ")", depth=2)
            return "${VAR}", True
        if following == "(":
            self.pos += 2
            first = len(self.commands)
            self.read_list(stop=")")
            inner = self.commands[first:]
            simplified = "".join([inner[0].name, *inner[0].arguments]) if len(inner) == 1 else ""
            return "${" + simplified + "}", True
        if following == "{":
            end = self._matching_brace(self.pos + 2)
            body = text[self.pos + 2 : end]
            self.pos = end + 1
            return "${" + body + "}", True
        if following == "'":
            end = self.pos + 2
            pieces: list[str] = []
            while end < len(text) and text[end] != "'":
                if text[end] == "\\":
                    pieces.append(text[end : end + 2])
                    end += 2
                else:
                    pieces.append(text[end])
                    end += 1
            self.pos = end + 1
            return "".join(pieces), False
        if following == '"':
            self.pos += 1
            return self.read_double_quoted()
        match = _VARIABLE_CHARS.match(text, self.pos + 1)
        if match is None:
            self.pos += 1
            return "$", False
        self.pos = match.end()
        return "${" + match.group(0) + "}", True

    def _matching_brace(self, position: int) -> int:
        depth = 1
        text = self.text
        while position < len(text):
            char = text[position]
            if char == "\\":
                position += 2
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    return position
            position += 1
        raise _Unreadable("${")

    def skip_balanced(self, opener: str, closer: str, depth: int) -> None:
        text = self.text
        while self.pos < len(text) and depth:
            char = text[self.pos]
            if char == opener:
                depth += 1
            elif char == closer:
                depth -= 1
            self.pos += 1
        if depth:
            raise _Unreadable(closer)


_ARITHMETIC_TOKEN = re.compile(
    r"\s*(?:(\d+|[A-Za-z_]\w*|\$\{[^}]*\}|\$\w+)|(\*\*|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%<>&|^!~?:,;=()]))"
)


def _commands_in_double_parens(text: str, start: int) -> bool:
    """``$((cmd args))`` is no arithmetic: ShellCheck, as bash, reads it as ``$( (cmd args) )``.

    The text up to ``))`` is arithmetic when it is operands and operators in turn; anything else
    (two operands side by side, quotes, backslashes, redirections) makes it commands.
    """
    end = text.find("))", start)
    content = text[start : len(text) if end < 0 else end]
    position, after_operand = 0, False
    while content[position:].strip():
        match = _ARITHMETIC_TOKEN.match(content, position)
        if match is None:
            return True
        if match.group(1):
            if after_operand:
                return True
            after_operand = True
        else:
            after_operand = match.group(2) == ")"
        position = match.end()
    return False


def _exec_target(words: list[Word]) -> str | None:
    """``exec [-cl] [-a name] cmd …`` → cmd (ShellCheck's effective command of exec)."""
    index = 0
    while index < len(words) and words[index].text.startswith("-"):
        index += 2 if "a" in words[index].text else 1
    if index >= len(words):
        return "exec"
    return words[index].text if words[index].literal else None
