"""The Dockerfile as the lint rules see it: steps in file order, comments included.

Built from lamina's own parser (the syntax tree plus the typed instructions the build uses), so
lint and build agree on heredocs, escapes and continuation lines. Comments are not instructions
to the parser, but hadolint's rules and pragmas see them, so they are read from the source text
beside the parse: a line starting with ``#`` that lies outside every instruction's lines.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cached_property

from lamina.build.dockerfile import Instruction, Node, from_node, parse
from lamina.build.dockerfile.instructions import Copy, From
from lamina.security.lint.shell import ParsedShell, parse_shell


@dataclass(frozen=True)
class BaseImage:
    """A FROM image split as hadolint splits it: registry, name, tag, digest, stage alias."""

    registry: str | None
    name: str
    tag: str | None
    digest: str | None
    alias: str | None
    platform: str | None


@dataclass(frozen=True)
class RunMount:
    type: str
    target: str
    from_: str | None


@dataclass
class Step:
    """One instruction (or comment) at ``line``; ``keyword`` is lower case, "comment" for comments."""

    keyword: str
    line: int
    node: Node | None = None
    instruction: Instruction | None = None
    comment: str = ""
    shell_form_script: str | None = field(default=None, repr=False)
    parsed_length: int | None = None  # set by the ShellCheck bridge when its parser stopped early
    _shell: ParsedShell | None = field(default=None, repr=False)
    _shell_length: int | None = field(default=None, repr=False)

    # ---- RUN ---------------------------------------------------------------------------
    @property
    def script(self) -> str:
        """The shell text hadolint lints: the command line, or a leading heredoc's body."""
        if self.shell_form_script is not None:
            return self.shell_form_script
        assert self.node is not None
        return " ".join(self.node.args)

    @property
    def shell(self) -> ParsedShell:
        """The commands of the script, up to where ShellCheck's parser stopped (when it ran)."""
        if self._shell is None or self._shell_length != self.parsed_length:
            script = self.script if self.parsed_length is None else self.script[: self.parsed_length]
            self._shell, self._shell_length = parse_shell(script), self.parsed_length
        return self._shell

    @property
    def is_exec_form(self) -> bool:
        return self.node is not None and self.node.json

    @cached_property
    def mounts(self) -> list[RunMount]:
        found = []
        for flag in self.flags:
            if flag.startswith("--mount="):
                fields = dict(
                    part.partition("=")[::2] for part in next(csv.reader([flag[len("--mount=") :]]), [])
                )
                target = fields.get("target") or fields.get("dst") or fields.get("destination") or ""
                found.append(RunMount(fields.get("type", "bind"), target, fields.get("from")))
        return found

    def has_cache_or_tmpfs_mount_with(self, fragment: str) -> bool:
        return any(m.type in ("cache", "tmpfs") and fragment in m.target for m in self.mounts)

    @property
    def flags(self) -> list[str]:
        return list(self.node.flags) if self.node is not None else []

    # ---- FROM --------------------------------------------------------------------------
    @cached_property
    def base_image(self) -> BaseImage:
        assert isinstance(self.instruction, From) and self.node is not None
        args = self.node.args
        alias = args[2] if len(args) >= 3 and args[1].lower() == "as" else None
        return split_image(args[0], alias, self.instruction.platform)

    # ---- COPY --------------------------------------------------------------------------
    @property
    def copy_from(self) -> str | None:
        return self.instruction.from_ if isinstance(self.instruction, Copy) else None


def declared_names(step: Step) -> list[str]:
    """The variable names an ARG or ENV declares, as hadolint's model holds them.

    hadolint's parser keeps one name per ARG line (``ARG a b`` declares ``a`` only), and every
    name of an ENV line.
    """
    pairs = getattr(step.instruction, "pairs", ())
    names = [name for name, _ in pairs]
    return names[:1] if step.keyword == "arg" else names


def split_image(reference: str, alias: str | None, platform: str | None) -> BaseImage:
    """``registry/name:tag@digest`` split the way hadolint's parser splits it.

    A registry is whatever comes before the first "/" that follows a ".", so
    ``localhost:5000/app`` has no registry: its name is ``localhost`` and its tag
    ``5000/app`` (hadolint's reading, kept for equal findings). ``${…}`` hides its ":".
    """
    registry = None
    rest = reference
    dot = reference.find(".")
    slash = reference.find("/", dot + 1) if dot >= 0 else -1
    if slash >= 0:
        registry, rest = reference[:slash], reference[slash + 1 :]
    name_end = _separator(rest, 0, ":@")
    name, tag, digest = rest[:name_end], None, None
    position = name_end
    if rest.startswith(":", position):
        tag_end = _separator(rest, position + 1, ":@")
        tag = rest[position + 1 : tag_end]
        position = tag_end
    if rest.startswith("@", position):
        digest = rest[position + 1 :]
    return BaseImage(registry, name, tag or None, digest or None, alias, platform)


def _separator(text: str, start: int, separators: str) -> int:
    """Index of the first separator at or after ``start`` outside ``${…}`` (or the length)."""
    depth = 0
    index = start
    while index < len(text):
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        char = text[index]
        if char == "}" and depth:
            depth -= 1
        elif char in separators and not depth:
            return index
        index += 1
    return len(text)


def unquote(text: str) -> str:
    """A value without one pair of surrounding quotes, as hadolint's parser reads pairs."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def pairs_of(step: Step) -> list[tuple[str, str]]:
    """ENV/LABEL/ARG (name, value) pairs with quotes removed; a missing ARG value is ""."""
    return [(unquote(name), unquote(value or "")) for name, value in getattr(step.instruction, "pairs", ())]


@dataclass
class LintDockerfile:
    """The steps of one file; ``onbuild`` are the ONBUILD triggers unwrapped, at their line."""

    filename: str
    steps: list[Step]
    onbuild: list[Step]


def read_dockerfile(text: str, filename: str = "Dockerfile") -> LintDockerfile:
    """Parse ``text`` with the build's parser; a DockerfileError names the file and line."""
    parsed = parse(text, filename)
    source = _Source(text, parsed.escape)
    steps: list[Step] = []
    onbuild: list[Step] = []
    for node in parsed.nodes:
        instruction = from_node(node, filename)
        steps.append(_step(node, instruction, node.start_line, source))
        if node.keyword == "onbuild" and node.trigger is not None:
            trigger = node.trigger
            trigger_instruction = from_node(trigger, filename)
            onbuild.append(_step(trigger, trigger_instruction, node.start_line, source))
    steps.extend(_comments(text, parsed.nodes))
    steps.sort(key=lambda step: step.line)
    return LintDockerfile(filename, steps, onbuild)


def _step(node: Node, instruction: Instruction | None, line: int, source: _Source) -> Step:
    step = Step(node.keyword, line, node, instruction)
    if node.keyword == "run" and not node.json:
        step.shell_form_script = _run_script(node, source)
    return step


class _Source:
    """The file's lines, to re-read an instruction's text the way hadolint's parser joins it."""

    def __init__(self, text: str, escape: str) -> None:
        self.lines = text.split("\n")
        token = re.escape(escape)
        # An escaped line break, the comment lines after it, and the next line's indentation
        # become one space when there was indentation, nothing otherwise (hadolint's parser);
        # BuildKit keeps the indentation, which changes what ShellCheck says about spacing.
        self.continuation = re.compile(rf"{token}[ \t]*\r?\n+(?:[ \t]*#[^\n]*\n+)*([ \t]+)?")

    def joined(self, node: Node) -> str:
        raw = "\n".join(self.lines[node.start_line - 1 : node.end_line])
        return self.continuation.sub(lambda m: " " if m.group(1) else "", raw)


_LEADING_WORDS = re.compile(r"[ \t]*(?:onbuild[ \t]+)?run[ \t]*((?:--\S+[ \t]*)*)", re.IGNORECASE)


def _run_script(node: Node, source: _Source) -> str:
    """RUN's shell text as hadolint reads it.

    A RUN whose arguments start with a heredoc runs the heredoc's body (stripped, as hadolint
    does); a heredoc later on the line leaves only the text before it; otherwise the logical
    line with hadolint's joining of continuation lines.
    """
    text = node.args[0] if node.args else ""
    if node.heredocs:
        if text.lstrip().startswith("<<"):
            return node.heredocs[0].content.strip()
        return text.split("<<", 1)[0].strip()
    if node.start_line == node.end_line:
        return text
    joined = source.joined(node).split("\n", 1)[0]
    match = _LEADING_WORDS.match(joined)
    return joined[match.end() :].strip() if match else text


def _comments(text: str, nodes: list[Node]) -> list[Step]:
    covered: set[int] = set()
    for node in nodes:
        covered.update(range(node.start_line, node.end_line + 1))
    comments = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#") and number not in covered:
            comments.append(Step("comment", number, comment=stripped[1:]))
    return comments
