"""Bad input to the lint: bounded time, no traceback, a one-line error when the file is not a Dockerfile.

ShellCheck is left out here (its own time on a hostile script is ShellCheck's; lamina stops it
after 60 s with a one-line error): these tests time lamina's parser, shell reader and rules.
"""

from __future__ import annotations

import os
import time

import pytest

from lamina.errors import DockerfileError, LaminaError
from lamina.security.lint import LintConfig, lint_text

NO_SHELLCHECK = LintConfig(shellcheck=False)

HOSTILE = {
    "nested command substitutions": "FROM a:1\nRUN echo " + "$(" * 5000 + ")" * 5000 + "\n",
    "unclosed backticks": "FROM a:1\nRUN " + "echo `" * 3000 + "\n",
    "unclosed parameter expansions": "FROM a:1\nRUN echo " + "${" * 50000 + "\n",
    "quote soup": "FROM a:1\nRUN " + "'\"" * 100000 + "\n",
    "a 20000-command RUN": "FROM a:1\nRUN " + " && ".join(f"apt-get install -y p{i}" for i in range(20000)) + "\n",
    "5000 RUN lines with pipes": "FROM a:1\n" + "RUN echo x | grep y\n" * 5000,
    "a 100000-line heredoc": "FROM a:1\nRUN cat <<A\n" + "x\n" * 100000 + "A\n\n",
    "10000 stages": "".join(f"FROM a:1 AS s{i}\nCOPY --from=s{i - 1} / /\n" for i in range(1, 10000)),
    "deep continuation": "FROM a:1\nRUN echo \\\n" + "  x \\\n" * 50000 + "  end\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_dockerfiles_lint_in_bounded_time(name: str) -> None:
    started = time.monotonic()
    findings = lint_text(HOSTILE[name], "Dockerfile", NO_SHELLCHECK)
    assert time.monotonic() - started < 30  # about 2 s each on an idle machine
    assert all(f.code.startswith("DL") for f in findings)


def test_random_bytes_are_one_parse_error() -> None:
    garbage = os.urandom(1 << 16).decode("latin-1")
    with pytest.raises(DockerfileError, match=r"^Dockerfile:\d+: "):
        lint_text(garbage, "Dockerfile", NO_SHELLCHECK)


def test_a_file_without_instructions_is_the_builds_error() -> None:
    """hadolint passes such a file silently; docker refuses to build it, and so does lamina lint."""
    with pytest.raises(LaminaError, match=r"^Dockerfile:2: file with no instructions"):
        lint_text("\n# only a comment\n", "Dockerfile", NO_SHELLCHECK)
