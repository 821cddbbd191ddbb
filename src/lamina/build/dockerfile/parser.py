"""Dockerfile text → a list of instruction nodes (the syntax tree), as BuildKit's parser makes it.

This step knows lines, not meaning: parser directives at the top (``# syntax=``, ``# escape=``,
``# check=``), comments, the escape token and line continuations (comment and blank lines inside
a continuation are skipped), heredocs (``RUN <<EOF`` … ``EOF``), ``--flags`` and each
instruction's argument rule (arguments.py). It accepts unknown instructions, as BuildKit does;
instructions.py gives them meaning and rejects what docker rejects.
"""

from __future__ import annotations

import re

import msgspec

from lamina.build.dockerfile.arguments import ArgumentError, parse_arguments, split_instruction
from lamina.build.dockerfile.limits import MAX_DOCKERFILE, MiB, human
from lamina.build.dockerfile.shell_words import GO_SPACE, ShellLex, ShellWordError, go_quote
from lamina.errors import DockerfileError

DEFAULT_ESCAPE = "\\"
DIRECTIVE_NAMES = frozenset({"syntax", "escape", "check"})
HEREDOC_INSTRUCTIONS = frozenset({"run", "copy", "add"})

_BOM = "\ufeff"
_GO_STRIP = "".join(sorted(GO_SPACE))
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z", re.S)
_HEREDOC_WORD = re.compile(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)\Z")
_NO_ENV: dict[str, str] = {}


class Heredoc(msgspec.Struct):
    """An inline file: ``<<EOF`` up to the line ``EOF``.

    ``expand`` is False when the delimiter was quoted (``<<"EOF"``); ``chomp`` (``<<-EOF``) strips
    leading tabs from the content and the terminator.
    """

    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False
    file_descriptor: int = 0

    def text(self) -> str:
        """The content as the build sees it (leading tabs gone for ``<<-``)."""
        return re.sub(r"(?m)^\t+", "", self.content) if self.chomp else self.content


class Directive(msgspec.Struct):
    """A parser directive such as ``# syntax=docker/dockerfile:1``."""

    name: str
    value: str
    line: int


class Node(msgspec.Struct):
    """One instruction as written.

    ``args`` follow BuildKit's AST: for ENV and LABEL they come in (key, value, separator)
    triples where the separator is "=" or "" for the legacy ``ENV key value`` form; for
    HEALTHCHECK the first argument is the type (CMD, NONE). ``trigger`` holds ONBUILD's
    instruction.
    """

    instruction: str  # as written: "RUN", "run", "Run"
    args: list[str]
    flags: list[str] = msgspec.field(default_factory=list)
    json: bool = False
    original: str = ""
    start_line: int = 0
    end_line: int = 0
    heredocs: list[Heredoc] = msgspec.field(default_factory=list)
    trigger: Node | None = None
    comments: list[str] = msgspec.field(default_factory=list)

    @property
    def keyword(self) -> str:
        """The instruction name in lower case, e.g. ``"copy"``."""
        return self.instruction.lower()

    def dump(self) -> str:
        """The s-expression BuildKit's tests use, e.g. ``(copy ["--from=a"] "x" "/y")``."""
        parts = [self.keyword]
        if self.flags:
            parts.append("[" + " ".join(go_quote(flag) for flag in self.flags) + "]")
        if self.trigger is not None:
            parts.append(self.trigger.dump())
        parts.extend(go_quote(arg) for arg in self.args)
        return "(" + " ".join(parts) + ")"


class ParsedDockerfile(msgspec.Struct):
    """The whole file: its directives, the escape token in force and the instructions in order."""

    nodes: list[Node]
    directives: list[Directive]
    escape: str = DEFAULT_ESCAPE
    filename: str = "Dockerfile"
    warnings: list[str] = msgspec.field(default_factory=list)

    @property
    def syntax(self) -> str | None:
        """The ``# syntax=`` frontend image, reported but not used: lamina is its own frontend."""
        for directive in self.directives:
            if directive.name == "syntax":
                return directive.value
        return None

    def dump(self) -> str:
        return "".join(node.dump() + "\n" for node in self.nodes)


def parse(source: str | bytes, filename: str = "Dockerfile") -> ParsedDockerfile:
    """Parse Dockerfile text; raise :class:`DockerfileError` naming the line on bad input."""
    if len(source) > MAX_DOCKERFILE:
        raise DockerfileError(f"is {len(source) / MiB:.1f} MiB; lamina reads Dockerfiles of up to {human(MAX_DOCKERFILE)}",
                              filename=filename)
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    return _Parser(source, filename).run()


class _Parser:
    """Reads physical lines (keeping their endings, which heredoc content needs) one at a time."""

    def __init__(self, text: str, filename: str) -> None:
        if text.startswith(_BOM):
            text = text[1:]
        pieces = text.split("\n")
        self.lines = [piece + "\n" for piece in pieces[:-1]]
        if pieces[-1]:
            self.lines.append(pieces[-1])
        self.index = 0  # lines consumed so far == 1-based number of the last line read
        self.filename = filename
        self.escape = DEFAULT_ESCAPE
        self.continuation = _continuation_regex(DEFAULT_ESCAPE)
        self.directives: list[Directive] = []
        self.directives_done = False
        self.warnings: list[str] = []

    def error(self, message: str, line: int) -> DockerfileError:
        return DockerfileError(message, filename=self.filename, line=line)

    def run(self) -> ParsedDockerfile:
        nodes: list[Node] = []
        comments: list[str] = []
        lines = self.lines
        while self.index < len(lines):
            raw = lines[self.index]
            self.index += 1
            start = self.index
            stripped = raw.rstrip("\r\n").lstrip(_GO_STRIP)
            if not self.directives_done and self.directive(stripped, start):
                continue
            if stripped.startswith("#"):
                comment = stripped[1:].strip(_GO_STRIP)
                if comment:
                    comments.append(comment)
                else:
                    comments = []
                continue
            text, complete = self.trim_continuation(stripped)
            if complete and not text:
                continue
            logical = [text]
            skipped_empty = False
            while not complete and self.index < len(lines):
                raw = lines[self.index]
                self.index += 1
                body = raw.rstrip("\r\n")
                left = body.lstrip(_GO_STRIP)
                if left.startswith("#"):
                    continue
                if not left:
                    skipped_empty = True
                    continue
                text, complete = self.trim_continuation(body)
                logical.append(text)
            line = "".join(logical)
            if skipped_empty:
                self.warnings.append(f"Empty continuation line found in: {line}")
            node = self.node(line, start)
            node.comments = comments
            comments = []
            if _may_have_heredocs(node) and "<<" in line:
                node.heredocs = self.read_heredocs(line, start)
            node.start_line = start
            node.end_line = self.index
            if node.trigger is not None:
                node.trigger.start_line, node.trigger.end_line = start, self.index
            nodes.append(node)
        if not nodes:
            raise self.error("file with no instructions", max(self.index, 1))
        return ParsedDockerfile(nodes, self.directives, self.escape, self.filename, self.warnings)

    def directive(self, line: str, number: int) -> bool:
        """Record ``line`` if it is a parser directive; the first line that is not one ends them."""
        match = _DIRECTIVE.match(line[1:].lstrip(_GO_STRIP)) if line.startswith("#") else None
        name = match.group(1).lower() if match else ""
        if name not in DIRECTIVE_NAMES:
            self.directives_done = True
            return False
        if any(d.name == name for d in self.directives):
            raise self.error(f"only one {name} parser directive can be used", number)
        value = match.group(2) if match else ""
        if name == "escape":
            if value not in ("\\", "`"):
                raise self.error(f"invalid escape token '{value}' does not match ` or \\", number)
            self.escape = value
            self.continuation = _continuation_regex(value)
        self.directives.append(Directive(name, value, number))
        return True

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        """Drop a trailing escape token; the bool says whether the logical line is complete."""
        if self.escape not in line:
            return line, True
        match = self.continuation.search(line)
        if match is None:
            return line, True
        return line[: match.start()] + (match.group(1) or ""), False

    def node(self, line: str, number: int) -> Node:
        try:
            instruction, flags, rest = split_instruction(line, self.escape)
            arguments = parse_arguments(instruction, rest, self.escape)
            trigger = None
            if arguments.sub_line is not None:
                trigger = self.node(arguments.sub_line, number)
        except ArgumentError as exc:
            raise self.error(str(exc), number) from None
        return Node(instruction, arguments.args, flags, arguments.json, line, trigger=trigger)

    def read_heredocs(self, line: str, start: int) -> list[Heredoc]:
        """Read the bodies of the heredocs named on ``line``, in order, from the following lines."""
        heredocs = heredocs_in_line(line)
        for heredoc in heredocs:
            body: list[str] = []
            while True:
                if self.index >= len(self.lines):
                    raise self.error("unterminated heredoc", start)
                raw = self.lines[self.index]
                self.index += 1
                candidate = raw.rstrip("\r\n")
                if heredoc.chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == heredoc.name:
                    break
                body.append(raw)
            heredoc.content += "".join(body)
        return heredocs


def _continuation_regex(escape: str) -> re.Pattern[str]:
    token = re.escape(escape)
    return re.compile(rf"([^{token}]){token}[ \t]*\Z|^{token}[ \t]*\Z")


def _may_have_heredocs(node: Node) -> bool:
    """RUN, COPY and ADD in shell form take heredocs, also as an ONBUILD trigger."""
    target = node.trigger if node.keyword == "onbuild" and node.trigger is not None else node
    return target.keyword in HEREDOC_INSTRUCTIONS and not target.json


def heredocs_in_line(line: str) -> list[Heredoc]:
    """The heredocs a line opens, e.g. ``RUN cat <<A <<-"B"`` → A (expanded), B (not, chomped)."""
    lex = ShellLex(raw_quotes=True, raw_escapes=True, skip_unset=True)
    try:
        words = lex.expand(line, _NO_ENV).words
    except ShellWordError:
        return []
    return [heredoc for word in words if (heredoc := parse_heredoc_word(word)) is not None]


def parse_heredoc_word(word: str) -> Heredoc | None:
    """Parse one word like ``<<EOF``, ``<<-'EOF'`` or ``3<<EOF``; None when it is not a heredoc."""
    match = _HEREDOC_WORD.match(word)
    if match is None or not match.group(3):
        return None
    rest = match.group(3)
    try:
        plain = ShellLex(skip_unset=True).expand(rest, _NO_ENV).words
        if len(plain) != 1:
            return None
        raw = ShellLex(skip_unset=True, raw_quotes=True).expand(rest, _NO_ENV).words
    except ShellWordError:
        return None
    name = plain[0]
    # Quotes anywhere in the delimiter word turn expansion of the body off.
    expand = _quote_count(name) == _quote_count(raw[0])
    return Heredoc(name, expand=expand, chomp=match.group(2) == "-", file_descriptor=int(match.group(1) or 0))


def _quote_count(word: str) -> int:
    return word.count("'") + word.count('"')
