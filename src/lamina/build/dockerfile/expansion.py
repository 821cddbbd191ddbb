"""Apply ARG/ENV values to an instruction's words, as docker does at build time.

Only some instructions and flags expand (see ``EXPANDING_INSTRUCTIONS``); RUN, CMD, ENTRYPOINT
and SHELL text goes to the shell untouched. The variables each expansion used are collected for
the build cache and for "unused build-arg" warnings.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import msgspec.structs

from lamina.build.dockerfile.instructions import (
    Add,
    Arg,
    Copy,
    Env,
    Expose,
    From,
    Instruction,
    Label,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from lamina.build.dockerfile.limits import MAX_CONFIG, MAX_INSTRUCTION, human
from lamina.build.dockerfile.parser import Heredoc
from lamina.build.dockerfile.shell_words import ShellLex, ShellWordError
from lamina.errors import DockerfileError


class Expanded(msgspec.Struct):
    instruction: Instruction
    used: set[str] = msgspec.field(default_factory=set)
    unset: set[str] = msgspec.field(default_factory=set)


def expand_instruction(
    instruction: Instruction, env: Mapping[str, str], escape: str = "\\", filename: str = "Dockerfile"
) -> Expanded:
    """Return ``instruction`` with its expandable words expanded in ``env``.

    For FROM pass the global ARGs (those before the first FROM) as ``env``. Instructions that do
    not expand come back unchanged. Errors (``${V:?}``, bad syntax) name the instruction's line.
    """
    if sum(len(name) + len(value) for name, value in env.items()) > MAX_CONFIG:
        raise DockerfileError(f"the build's variables (ARG and ENV values) come to more than {human(MAX_CONFIG)} "
                              "(lamina's limit)", filename=filename, line=instruction.line)
    expander = _Expander(ShellLex(escape), env)
    try:
        expanded = _expand(instruction, expander)
    except ShellWordError as exc:
        raise DockerfileError(str(exc), filename=filename, line=instruction.line) from None
    return Expanded(expanded, expander.used, expander.unset)


class _Expander:
    def __init__(self, lex: ShellLex, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.env = env
        self.used: set[str] = set()
        self.unset: set[str] = set()
        self.size = 0  # of every word expanded so far: an instruction may not grow past MAX_INSTRUCTION

    def grown(self, text: str) -> str:
        self.size += len(text)
        if self.size > MAX_INSTRUCTION:
            raise ShellWordError(f"the expanded instruction grows past {human(MAX_INSTRUCTION)} (lamina's limit)")
        return text

    def word(self, text: str) -> str:
        expansion = self.lex.expand(text, self.env)
        self.used |= expansion.used
        self.unset |= expansion.unset
        return self.grown(expansion.result)

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self.word(text) or None

    def words(self, text: str) -> list[str]:
        expansion = self.lex.expand(text, self.env)
        self.used |= expansion.used
        self.unset |= expansion.unset
        self.grown(expansion.result)
        return expansion.words

    def heredoc(self, heredoc: Heredoc) -> Heredoc:
        """Inline files expand ``$VARS`` but keep quotes, unless the delimiter was quoted."""
        if not heredoc.expand:
            return heredoc
        raw = ShellLex("\\", skip_quotes=True).expand(heredoc.content, self.env)
        self.used |= raw.used
        self.unset |= raw.unset
        return msgspec.structs.replace(heredoc, content=self.grown(raw.result))


def _expand(instruction: Instruction, x: _Expander) -> Instruction:
    replace = msgspec.structs.replace
    if isinstance(instruction, Env | Label):
        return replace(instruction, pairs=tuple((x.word(k), x.word(v)) for k, v in instruction.pairs))
    if isinstance(instruction, Arg):
        pairs = tuple((x.word(k), None if v is None else x.word(v)) for k, v in instruction.pairs)
        return replace(instruction, pairs=pairs)
    if isinstance(instruction, Copy | Add):
        changes: dict[str, object] = {
            "chown": x.optional(instruction.chown),
            "chmod": x.optional(instruction.chmod),
            "sources": tuple(x.word(source) for source in instruction.sources),
            "dest": x.word(instruction.dest),
            "heredocs": tuple(x.heredoc(heredoc) for heredoc in instruction.heredocs),
        }
        if isinstance(instruction, Add):
            changes["checksum"] = x.optional(instruction.checksum)
        return replace(instruction, **changes)
    if isinstance(instruction, Workdir):
        return replace(instruction, path=x.word(instruction.path))
    if isinstance(instruction, User):
        return replace(instruction, user=x.word(instruction.user))
    if isinstance(instruction, StopSignal):
        return replace(instruction, signal=x.word(instruction.signal))
    if isinstance(instruction, Volume):
        return replace(instruction, paths=tuple(x.word(path) for path in instruction.paths))
    if isinstance(instruction, Expose):
        # EXPOSE is the one instruction where a variable may hold several words: EXPOSE $PORTS
        return replace(instruction, ports=tuple(word for port in instruction.ports for word in x.words(port)))
    if isinstance(instruction, From):
        return replace(instruction, image=x.word(instruction.image), platform=x.optional(instruction.platform))
    return instruction
