"""A Dockerfile split into build stages: what the builder walks.

ARGs before the first FROM are global (usable in FROM lines); every FROM starts a stage; any
other instruction before the first FROM is an error, as in docker.
"""

from __future__ import annotations

import msgspec

from lamina.build.dockerfile.instructions import Add, Arg, Copy, From, Instruction, Run, from_node
from lamina.build.dockerfile.parser import Directive, parse
from lamina.errors import DockerfileError


class Stage(msgspec.Struct):
    """One ``FROM`` and the instructions up to the next one."""

    name: str | None  # lower-cased ``AS`` name
    index: int
    base: str  # the image or stage it starts from, unexpanded
    platform: str | None
    instructions: list[Instruction]
    line: int
    from_: From | None = None


class Dockerfile(msgspec.Struct):
    directives: list[Directive]
    global_args: list[Arg]
    stages: list[Stage]
    escape: str = "\\"
    filename: str = "Dockerfile"
    warnings: list[str] = msgspec.field(default_factory=list)

    def stage(self, name_or_index: str | int) -> Stage:
        """Find a stage by ``AS`` name (case-insensitive) or by position, as ``--target``/``--from`` do."""
        if isinstance(name_or_index, str):
            wanted = name_or_index.lower()
            for stage in self.stages:
                if stage.name == wanted:
                    return stage
            if not name_or_index.isdigit():
                raise KeyError(name_or_index)
            name_or_index = int(name_or_index)
        return self.stages[name_or_index]

    @property
    def needs_buildkit(self) -> bool:
        """Whether some instruction uses syntax docker's classic builder refuses (RUN --mount,
        COPY --chmod, heredocs …): such a Dockerfile is built as BuildKit builds it where the two
        differ (BuildKit's ``FROM scratch`` has WorkingDir ``/``)."""
        return any(_buildkit_only(instruction) for stage in self.stages for instruction in stage.instructions)


def _buildkit_only(instruction: Instruction) -> bool:
    if getattr(instruction, "heredocs", ()):
        return True
    if isinstance(instruction, Run):
        return bool(instruction.mount_specs) or instruction.network != "default" or instruction.security != "sandbox"
    if isinstance(instruction, Copy | Add):
        return bool(instruction.chmod or instruction.link or instruction.exclude
                    or getattr(instruction, "parents", False) or getattr(instruction, "checksum", None))
    return False


def parse_stages(source: str | bytes, filename: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile and type every instruction; raise :class:`DockerfileError` when docker would."""
    parsed = parse(source, filename)
    global_args: list[Arg] = []
    stages: list[Stage] = []
    warnings = list(parsed.warnings)
    for node in parsed.nodes:
        instruction = from_node(node, filename)
        if isinstance(instruction, From):
            if instruction.name and any(stage.name == instruction.name for stage in stages):
                # docker's classic builder refuses it (BuildKit only lints): a name must find one stage
                raise DockerfileError("same stage name already used", filename=filename, line=node.start_line)
            stages.append(
                Stage(
                    name=instruction.name,
                    index=len(stages),
                    base=instruction.image,
                    platform=instruction.platform,
                    instructions=[],
                    line=instruction.line,
                    from_=instruction,
                )
            )
        elif stages:
            stages[-1].instructions.append(instruction)
        elif isinstance(instruction, Arg):
            global_args.append(instruction)
        else:
            raise DockerfileError("no build stage in current context", filename=filename, line=node.start_line)
    if not stages:
        raise DockerfileError("dockerfile contains no stages to build", filename=filename, line=parsed.nodes[-1].end_line)
    return Dockerfile(parsed.directives, global_args, stages, parsed.escape, filename, warnings)


def parse_trigger(expression: str, filename: str = "Dockerfile") -> Instruction:
    """Parse an ONBUILD trigger stored in a base image, as docker does when building FROM it."""
    nodes = parse(expression, filename).nodes
    if len(nodes) != 1:
        raise DockerfileError("onbuild trigger should be a single expression", filename=filename)
    return from_node(nodes[0], filename)
