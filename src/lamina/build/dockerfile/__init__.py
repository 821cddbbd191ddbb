"""The Dockerfile frontend: parse text, expand words, and read typed instructions.

``parse`` gives the syntax tree (what BuildKit's parser gives), ``parse_stages`` the typed
instructions split into build stages, ``process_word``/``process_words`` docker's variable
expansion.
"""

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

__all__ = [
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
