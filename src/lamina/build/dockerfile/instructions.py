"""Typed instructions made from syntax-tree nodes, with docker's argument and flag checks.

Each class holds what its instruction means, unexpanded (``$VARS`` stay as written):
:func:`expand_instruction` applies an environment later, at build time, because the values of
ARG and ENV are only known then. Every instruction keeps its first and last line for messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import ClassVar

import msgspec
import msgspec.structs

from lamina.build.dockerfile.arguments import KNOWN_INSTRUCTIONS
from lamina.build.dockerfile.flags import (
    FlagError,
    FlagKind,
    FlagSpec,
    parse_flags,
    used_flags,
    with_suggestion,
)
from lamina.build.dockerfile.mounts import Mount, MountError, parse_mount
from lamina.build.dockerfile.parser import Heredoc, Node, parse_heredoc_word
from lamina.build.dockerfile.shell_words import GO_SPACE, ShellLex, ShellWordError
from lamina.errors import DockerfileError

_GO_STRIP = "".join(sorted(GO_SPACE))
_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*\Z")
_ONBUILD_PREFIX = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE)
NETWORK_MODES = ("default", "none", "host")
SECURITY_MODES = ("sandbox", "insecure")


class InstructionError(ValueError):
    """A node docker refuses to turn into an instruction; :func:`from_node` adds file and line."""


class Instruction(msgspec.Struct, frozen=True, kw_only=True):
    """What every instruction has: where it is and how it was written."""

    keyword: ClassVar[str] = ""
    line: int = 0
    end_line: int = 0
    source: str = ""  # the logical line as written, e.g. "COPY --from=build /out /app"


class From(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "from"
    image: str
    name: str | None = None  # lower-cased; stage names are case-insensitive
    platform: str | None = None


class Run(Instruction, frozen=True, kw_only=True):
    """``command`` is the exec-form list, or one shell string when ``json_form`` is False."""

    keyword: ClassVar[str] = "run"
    command: tuple[str, ...]
    json_form: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    mount_specs: tuple[str, ...] = ()  # raw --mount values; fields may hold $VARS
    network: str = "default"
    security: str = "sandbox"
    devices: tuple[str, ...] = ()
    flags_used: tuple[str, ...] = ()

    @property
    def mounts(self) -> list[Mount]:
        """The mounts with values taken literally (see :meth:`resolve_mounts` for expansion)."""
        return self.resolve_mounts(None)

    def resolve_mounts(self, expand: Callable[[str], str] | None) -> list[Mount]:
        try:
            return [parse_mount(spec, expand) for spec in self.mount_specs]
        except MountError as exc:
            raise DockerfileError(str(exc), line=self.line) from None


class Copy(Instruction, frozen=True, kw_only=True):
    """COPY; ``heredocs`` are inline sources (``COPY <<EOF /dst``), ``sources`` the paths."""

    keyword: ClassVar[str] = "copy"
    sources: tuple[str, ...]
    dest: str
    from_: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    exclude: tuple[str, ...] = ()
    heredocs: tuple[Heredoc, ...] = ()


class Add(Instruction, frozen=True, kw_only=True):
    """ADD; like COPY plus URLs, git repositories, archive unpacking and ``--checksum``."""

    keyword: ClassVar[str] = "add"
    sources: tuple[str, ...]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    exclude: tuple[str, ...] = ()
    checksum: str | None = None
    keep_git_dir: bool | None = None
    unpack: bool | None = None
    heredocs: tuple[Heredoc, ...] = ()


class Env(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "env"
    pairs: tuple[tuple[str, str], ...]
    legacy_form: bool = False  # ENV key value (deprecated; linted)


class Arg(Instruction, frozen=True, kw_only=True):
    """``ARG name[=default]`` for each name; a None default means "no default"."""

    keyword: ClassVar[str] = "arg"
    pairs: tuple[tuple[str, str | None], ...]


class Label(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "label"
    pairs: tuple[tuple[str, str], ...]
    legacy_form: bool = False


class Expose(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "expose"
    ports: tuple[str, ...]  # sorted, as BuildKit sorts them


class Volume(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "volume"
    paths: tuple[str, ...]


class User(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "user"
    user: str


class Workdir(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "workdir"
    path: str


class Cmd(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "cmd"
    command: tuple[str, ...]
    json_form: bool = False


class Entrypoint(Instruction, frozen=True, kw_only=True):
    """``command`` is None for ``ENTRYPOINT []`` or a bare ``ENTRYPOINT``: it clears the entrypoint."""

    keyword: ClassVar[str] = "entrypoint"
    command: tuple[str, ...] | None
    json_form: bool = False


class Shell(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "shell"
    shell: tuple[str, ...]


class StopSignal(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "stopsignal"
    signal: str


class Healthcheck(Instruction, frozen=True, kw_only=True):
    """``test`` is ``("NONE",)``, ``("CMD", *argv)`` or ``("CMD-SHELL", command)``; times in ns."""

    keyword: ClassVar[str] = "healthcheck"
    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


class OnBuild(Instruction, frozen=True, kw_only=True):
    """A trigger kept as text; it is parsed when an image is built ``FROM`` this one."""

    keyword: ClassVar[str] = "onbuild"
    expression: str


class Maintainer(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "maintainer"
    name: str


def from_node(node: Node, filename: str = "Dockerfile") -> Instruction:
    """Turn one syntax-tree node into its typed instruction, or raise :class:`DockerfileError`."""
    build = _BUILDERS.get(node.keyword)
    try:
        if build is None:
            message = f"unknown instruction: {node.instruction}"
            raise InstructionError(with_suggestion(message, node.instruction, _INSTRUCTION_NAMES, False))
        return build(_Request(node))
    except (InstructionError, FlagError, MountError, ShellWordError) as exc:
        raise DockerfileError(str(exc), filename=filename, line=node.start_line) from None


_INSTRUCTION_NAMES = sorted(name.upper() for name in KNOWN_INSTRUCTIONS)


class _Request:
    """A node seen the way instruction builders need it."""

    __slots__ = ("node", "args", "location")

    def __init__(self, node: Node) -> None:
        self.node = node
        self.args: list[str] = list(node.args)
        if node.trigger is not None:
            self.args = [node.trigger.instruction, *node.trigger.args]
        self.location: dict[str, object] = {
            "line": node.start_line,
            "end_line": node.end_line,
            "source": node.original.strip(_GO_STRIP),
        }

    def flags(self, *specs: FlagSpec) -> dict[str, str | bool | list[str] | None]:
        return parse_flags(self.node.flags, specs)

    def command_line(self) -> tuple[str, ...]:
        """Exec form as is; shell form joined into one string (BuildKit's handleJSONArgs)."""
        if not self.args:
            return ()
        if self.node.json:
            return tuple(self.args)
        return (" ".join(self.args),)


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _from(req: _Request) -> From:
    args = req.args
    name = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise InstructionError(
                f'invalid name for build stage: "{args[2]}", name can\'t start with a number or contain symbols'
            )
    elif len(args) != 1:
        raise InstructionError("FROM requires either one or three arguments")
    flags = req.flags(FlagSpec("platform", FlagKind.STRING, ""))
    return From(image=args[0], name=name, platform=_string(flags["platform"]), **req.location)


def _run(req: _Request) -> Run:
    flags = req.flags(
        FlagSpec("mount", FlagKind.STRINGS),
        FlagSpec("network", FlagKind.STRING, "default"),
        FlagSpec("security", FlagKind.STRING, "sandbox"),
        FlagSpec("device", FlagKind.STRINGS),
    )
    network, security = str(flags["network"]), str(flags["security"])
    if network not in NETWORK_MODES:
        raise InstructionError(f'invalid network mode "{network}"')
    if security not in SECURITY_MODES:
        raise InstructionError(f'security "{security}" is not valid')
    mount_specs = tuple(flags["mount"])  # type: ignore[arg-type]
    for spec in mount_specs:
        _check_mount_spec(spec)
    return Run(
        command=req.command_line(),
        json_form=req.node.json,
        heredocs=tuple(req.node.heredocs),
        mount_specs=mount_specs,
        network=network,
        security=security,
        devices=tuple(flags["device"]),  # type: ignore[arg-type]
        flags_used=tuple(used_flags(req.node.flags)),
        **req.location,
    )


def _check_mount_spec(spec: str) -> None:
    """Check a --mount now when it needs no expansion; a variable ``from=`` is never allowed."""
    if "$" not in spec:
        parse_mount(spec)
        return
    for field_text in spec.split(","):
        key, _, value = field_text.partition("=")
        index = value.find("$")
        if key.lower() == "from" and index != -1 and index != len(value) - 1:
            raise InstructionError("'from' doesn't support variable expansion, define alias stage instead")


def _require_destination(req: _Request, instruction: str) -> None:
    if len(req.args) < 2:
        raise InstructionError(
            f"{instruction} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )


def _sources_and_dest(req: _Request, instruction: str) -> tuple[tuple[str, ...], str, tuple[Heredoc, ...]]:
    *sources, dest = req.args
    if parse_heredoc_word(dest) is not None:
        raise InstructionError(f"{instruction} cannot accept a heredoc as a destination")
    bodies = {heredoc.name: heredoc for heredoc in req.node.heredocs}
    paths: list[str] = []
    inline: list[Heredoc] = []
    for source in sources:
        word = parse_heredoc_word(source)
        if word is None:
            paths.append(source)
            continue
        body = bodies.get(word.name)
        inline.append(msgspec.structs.replace(word, content=body.content if body else ""))
    return tuple(paths), dest, tuple(inline)


def _copy(req: _Request) -> Copy:
    _require_destination(req, "COPY")
    flags = req.flags(
        FlagSpec("chown", FlagKind.STRING, ""),
        FlagSpec("from", FlagKind.STRING, ""),
        FlagSpec("chmod", FlagKind.STRING, ""),
        FlagSpec("link", FlagKind.BOOL, False),
        FlagSpec("exclude", FlagKind.STRINGS),
        FlagSpec("parents", FlagKind.BOOL, False),
    )
    sources, dest, heredocs = _sources_and_dest(req, "COPY")
    source_stage = _string(flags["from"])
    if source_stage is not None and ShellLex().expand(source_stage, {}).result != source_stage:
        raise InstructionError(
            "variable expansion is not supported for --from, "
            "define a new stage with FROM using ARG from global scope as a workaround"
        )
    return Copy(
        sources=sources,
        dest=dest,
        heredocs=heredocs,
        from_=source_stage,
        chown=_string(flags["chown"]),
        chmod=_string(flags["chmod"]),
        link=bool(flags["link"]),
        parents=bool(flags["parents"]),
        exclude=tuple(flags["exclude"]),  # type: ignore[arg-type]
        **req.location,
    )


def _add(req: _Request) -> Add:
    _require_destination(req, "ADD")
    flags = req.flags(
        FlagSpec("chown", FlagKind.STRING, ""),
        FlagSpec("chmod", FlagKind.STRING, ""),
        FlagSpec("link", FlagKind.BOOL, False),
        FlagSpec("keep-git-dir", FlagKind.BOOL, None),
        FlagSpec("checksum", FlagKind.STRING, ""),
        FlagSpec("unpack", FlagKind.BOOL, None),
        FlagSpec("exclude", FlagKind.STRINGS),
    )
    sources, dest, heredocs = _sources_and_dest(req, "ADD")
    return Add(
        sources=sources,
        dest=dest,
        heredocs=heredocs,
        chown=_string(flags["chown"]),
        chmod=_string(flags["chmod"]),
        link=bool(flags["link"]),
        checksum=_string(flags["checksum"]),
        keep_git_dir=flags["keep-git-dir"],  # type: ignore[arg-type]
        unpack=flags["unpack"],  # type: ignore[arg-type]
        exclude=tuple(flags["exclude"]),  # type: ignore[arg-type]
        **req.location,
    )


def _key_values(req: _Request, instruction: str) -> tuple[tuple[tuple[str, str], ...], bool]:
    req.flags()
    args = req.args
    if not args:
        raise InstructionError(f"{instruction} requires at least one argument")
    if len(args) % 3:
        raise InstructionError(f"Bad input to {instruction}, too many arguments")
    pairs = []
    for index in range(0, len(args), 3):
        key, value = args[index], args[index + 1]
        if not key:
            raise InstructionError(f"{instruction} names can not be blank")
        pairs.append((key, value))
    return tuple(pairs), args[2] == ""


def _env(req: _Request) -> Env:
    pairs, legacy = _key_values(req, "ENV")
    return Env(pairs=pairs, legacy_form=legacy, **req.location)


def _label(req: _Request) -> Label:
    pairs, legacy = _key_values(req, "LABEL")
    return Label(pairs=pairs, legacy_form=legacy, **req.location)


def _arg(req: _Request) -> Arg:
    # BuildKit never checks ARG's flags.
    if not req.args:
        raise InstructionError("ARG requires at least one argument")
    pairs: list[tuple[str, str | None]] = []
    for word in req.args:
        key, has_value, value = word.partition("=")
        if has_value and not key:
            raise InstructionError("ARG names can not be blank")
        pairs.append((key, value if has_value else None))
    return Arg(pairs=tuple(pairs), **req.location)


def _exactly_one(req: _Request, instruction: str) -> str:
    if len(req.args) != 1:
        raise InstructionError(f"{instruction} requires exactly one argument")
    return req.args[0]


def _maintainer(req: _Request) -> Maintainer:
    name = _exactly_one(req, "MAINTAINER")
    req.flags()
    return Maintainer(name=name, **req.location)


def _workdir(req: _Request) -> Workdir:
    path = _exactly_one(req, "WORKDIR")
    req.flags()
    return Workdir(path=path, **req.location)


def _user(req: _Request) -> User:
    user = _exactly_one(req, "USER")
    req.flags()
    return User(user=user, **req.location)


def _stopsignal(req: _Request) -> StopSignal:
    # BuildKit never checks STOPSIGNAL's flags.
    return StopSignal(signal=_exactly_one(req, "STOPSIGNAL"), **req.location)


def _cmd(req: _Request) -> Cmd:
    req.flags()
    return Cmd(command=req.command_line(), json_form=req.node.json, **req.location)


def _entrypoint(req: _Request) -> Entrypoint:
    req.flags()
    command = req.command_line() or None
    return Entrypoint(command=command, json_form=req.node.json, **req.location)


def _shell(req: _Request) -> Shell:
    req.flags()
    if not req.args:
        raise InstructionError("SHELL requires at least one argument")
    if not req.node.json:
        raise InstructionError("SHELL requires the arguments to be in JSON form")
    return Shell(shell=tuple(req.args), **req.location)


def _expose(req: _Request) -> Expose:
    if not req.args:
        raise InstructionError("EXPOSE requires at least one argument")
    req.flags()
    return Expose(ports=tuple(sorted(req.args)), **req.location)


def _volume(req: _Request) -> Volume:
    if not req.args:
        raise InstructionError("VOLUME requires at least one argument")
    req.flags()
    paths = tuple(path.strip(_GO_STRIP) for path in req.args)
    if any(not path for path in paths):
        raise InstructionError("VOLUME specified can not be an empty string")
    return Volume(paths=paths, **req.location)


def _healthcheck(req: _Request) -> Healthcheck:
    if not req.args:
        raise InstructionError("HEALTHCHECK requires at least one argument")
    kind = req.args[0].upper()
    rest = req.args[1:]
    if kind == "NONE":
        # BuildKit checks no flags here.
        if rest:
            raise InstructionError("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(test=("NONE",), **req.location)
    flags = req.flags(
        FlagSpec("interval", FlagKind.STRING, ""),
        FlagSpec("timeout", FlagKind.STRING, ""),
        FlagSpec("start-period", FlagKind.STRING, ""),
        FlagSpec("start-interval", FlagKind.STRING, ""),
        FlagSpec("retries", FlagKind.STRING, ""),
    )
    if kind != "CMD":
        raise InstructionError(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    if not rest:
        raise InstructionError("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *rest) if req.node.json else ("CMD-SHELL", " ".join(rest))
    retries_text = str(flags["retries"])
    retries = 0
    if retries_text:
        retries = _go_int32(retries_text)
        if retries < 0:
            raise InstructionError(f"--retries cannot be negative ({retries})")
    return Healthcheck(
        test=test,
        interval=_interval(flags, "interval"),
        timeout=_interval(flags, "timeout"),
        start_period=_interval(flags, "start-period"),
        start_interval=_interval(flags, "start-interval"),
        retries=retries,
        **req.location,
    )


def _interval(flags: Mapping[str, object], name: str) -> int:
    text = str(flags[name])
    if not text:
        return 0
    nanoseconds = parse_go_duration(text)
    if nanoseconds != 0 and nanoseconds < 1_000_000:
        raise InstructionError(f'Interval "{name}" cannot be less than 1ms')
    return nanoseconds


def _go_int32(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise InstructionError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(1 << 31) <= value < 1 << 31:
        raise InstructionError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def _onbuild(req: _Request) -> OnBuild:
    if not req.args:
        raise InstructionError("ONBUILD requires at least one argument")
    req.flags()
    trigger = req.args[0].strip(_GO_STRIP).upper()
    if trigger == "ONBUILD":
        raise InstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise InstructionError(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", req.node.original, count=1)
    for heredoc in req.node.heredocs:
        expression += "\n" + heredoc.content + heredoc.name
    return OnBuild(expression=expression, **req.location)


_BUILDERS: dict[str, Callable[[_Request], Instruction]] = {
    "add": _add,
    "arg": _arg,
    "cmd": _cmd,
    "copy": _copy,
    "entrypoint": _entrypoint,
    "env": _env,
    "expose": _expose,
    "from": _from,
    "healthcheck": _healthcheck,
    "label": _label,
    "maintainer": _maintainer,
    "onbuild": _onbuild,
    "run": _run,
    "shell": _shell,
    "stopsignal": _stopsignal,
    "user": _user,
    "volume": _volume,
    "workdir": _workdir,
}

_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds: ``1h30m``, ``1.5s``, ``300ms``, ``0``."""
    quoted = '"' + text + '"'
    rest = text
    negative = False
    if rest[:1] in ("+", "-"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise InstructionError(f"time: invalid duration {quoted}")
    total = 0
    while rest:
        match = _DURATION_PART.match(rest)
        assert match is not None
        whole, fraction, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not fraction:
            raise InstructionError(f"time: invalid duration {quoted}")
        if not unit:
            raise InstructionError(f"time: missing unit in duration {quoted}")
        scale = _DURATION_UNITS.get(unit)
        if scale is None:
            raise InstructionError(f'time: unknown unit "{unit}" in duration {quoted}')
        total += int(whole or "0") * scale
        if fraction and int(fraction):
            # Go scales the fraction in floating point; do the same to get the same nanoseconds
            total += int(int(fraction) * (scale / 10 ** len(fraction)))
        if total > (1 << 63) - 1:
            raise InstructionError(f"time: invalid duration {quoted}")
        rest = rest[match.end() :]
    return -total if negative else total
