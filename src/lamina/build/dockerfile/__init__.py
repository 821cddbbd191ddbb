"""The Dockerfile frontend: parse text, expand words, and read typed instructions.

``parse`` gives the syntax tree (what BuildKit's parser gives), ``parse_stages`` the typed
instructions split into build stages, ``process_word``/``process_words`` docker's variable
expansion.
"""

from lamina.build.dockerfile.expansion import Expanded, expand_instruction
from lamina.build.dockerfile.instructions import (
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Instruction,
    Label,
    Maintainer,
    OnBuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    from_node,
)
from lamina.build.dockerfile.mounts import Mount, parse_mount
from lamina.build.dockerfile.parser import Directive, Heredoc, Node, ParsedDockerfile, parse
from lamina.build.dockerfile.shell_words import (
    EXPANDING_FLAGS,
    EXPANDING_INSTRUCTIONS,
    ShellLex,
    ShellWordError,
    WordExpansion,
    expand_with_matches,
    process_word,
    process_words,
)
from lamina.build.dockerfile.stages import Dockerfile, Stage, parse_stages, parse_trigger

__all__ = [
    "Add",
    "Arg",
    "Cmd",
    "Copy",
    "Dockerfile",
    "Entrypoint",
    "Env",
    "Expanded",
    "Expose",
    "From",
    "Healthcheck",
    "Instruction",
    "Label",
    "Maintainer",
    "Mount",
    "OnBuild",
    "Run",
    "Shell",
    "Stage",
    "StopSignal",
    "User",
    "Volume",
    "Workdir",
    "expand_instruction",
    "from_node",
    "parse_mount",
    "parse_stages",
    "parse_trigger",
    "EXPANDING_FLAGS",
    "EXPANDING_INSTRUCTIONS",
    "Directive",
    "Heredoc",
    "Node",
    "ParsedDockerfile",
    "ShellLex",
    "ShellWordError",
    "WordExpansion",
    "expand_with_matches",
    "parse",
    "process_word",
    "process_words",
]
