"""Lint one Dockerfile: run every rule, add ShellCheck's findings, apply pragmas and config.

The order of work follows hadolint: rules yield failures with their default level; inline
pragmas (``# hadolint ignore=…`` for the next line, ``# hadolint global ignore=…``) drop some;
then the configuration overrides levels and drops ignored codes and anything at level
"ignore". Findings come out sorted by line.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from lamina.security.lint.config import LintConfig
from lamina.security.lint.model import LintDockerfile, Step, read_dockerfile
from lamina.security.lint.registry import LEVELS
from lamina.security.lint.rules import all_rules
from lamina.security.lint.rules.image_config import IGNORE_PRAGMA, schema_rules
from lamina.security.lint.shellcheck import run_shellcheck, scripts_to_check, shellcheck_path

_RULE_LIST = r"[DLSC0-9]+(?:[ \t]*,[ \t]*[DLSC0-9]+)*"
_GLOBAL_PRAGMA = re.compile(
    rf"[ \t]*hadolint[ \t]+global[ \t]+ignore[ \t]*=[ \t]*({_RULE_LIST})[ \t]*(?:#.*)?\Z"
)
_STAGE_PRAGMA = re.compile(
    rf"[ \t]*hadolint[ \t]+stage[ \t]+ignore[ \t]*=[ \t]*({_RULE_LIST})[ \t]*(?:#.*)?\Z"
)
MAX_DOCKERFILE_BYTES = 16 << 20


@dataclass(frozen=True)
class Finding:
    """One lint result, in hadolint's JSON shape (``column`` is always 1, as hadolint's)."""

    file: str
    line: int
    code: str
    level: str
    message: str
    column: int = 1

    def as_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "column": self.column,
            "file": self.file,
            "level": self.level,
            "line": self.line,
            "message": self.message,
        }


def lint_text(text: str, filename: str = "Dockerfile", config: LintConfig | None = None) -> list[Finding]:
    """Lint Dockerfile ``text``; a file that does not parse raises DockerfileError (file:line)."""
    config = config or LintConfig()
    dockerfile = read_dockerfile(text, filename)
    # ShellCheck first: where its parser stops, hadolint's rules see no further commands.
    raw = list(_shellcheck_findings(dockerfile)) if config.shellcheck else []
    raw.extend(_rule_findings(dockerfile, config))
    if not config.disable_ignore_pragma:
        raw = _without_pragma_ignores(raw, dockerfile.steps)
    findings = []
    for finding in raw:
        level = config.overrides.get(finding.code, finding.level)
        if finding.code in config.ignored or level == "ignore":
            continue
        findings.append(Finding(filename, finding.line, finding.code, level, finding.message))
    findings.sort(key=lambda f: f.line)
    return findings


def fails(findings: list[Finding], threshold: str) -> bool:
    """hadolint's exit rule: fail when a finding is at ``threshold`` or more severe."""
    cutoff = LEVELS.index("ignore" if threshold == "none" else threshold)
    return any(LEVELS.index(finding.level) <= cutoff for finding in findings)


def _rule_findings(dockerfile: LintDockerfile, config: LintConfig) -> Iterator[Finding]:
    settings = config.settings
    rules = [*all_rules().values(), *schema_rules(settings)]
    for rule in rules:
        lines = list(rule.check(dockerfile.steps, settings))
        if rule.onbuild and dockerfile.onbuild:
            lines.extend(rule.check(dockerfile.onbuild, settings))
        for line in lines:
            yield Finding(dockerfile.filename, line, rule.code, rule.level, rule.message)


def _shellcheck_findings(dockerfile: LintDockerfile) -> Iterator[Finding]:
    program = shellcheck_path()
    if program is None:
        return
    scripts = scripts_to_check(dockerfile.steps) + scripts_to_check(dockerfile.onbuild)
    found = run_shellcheck(scripts, program, dockerfile.filename)
    yield from (Finding(dockerfile.filename, f.line, f.code, f.level, f.message) for f in found)


def _codes(text: str) -> set[str]:
    return {code.strip() for code in text.split(",")}


def _without_pragma_ignores(findings: list[Finding], steps: list[Step]) -> list[Finding]:
    per_line: dict[int, set[str]] = {}
    per_stage: dict[int, set[str]] = {}
    everywhere: set[str] = set()
    for step in steps:
        if step.keyword == "comment":
            if match := IGNORE_PRAGMA.match(step.comment):
                per_line[step.line + 1] = _codes(match.group(1))
            elif match := _STAGE_PRAGMA.match(step.comment):
                per_stage[step.line + 1] = _codes(match.group(1))
            elif match := _GLOBAL_PRAGMA.match(step.comment):
                everywhere |= _codes(match.group(1))
        elif step.keyword == "from":
            per_stage.setdefault(step.line, set())

    starts = sorted(per_stage)

    def stage_ignores(line: int) -> set[str]:
        position = bisect.bisect_left(starts, line)  # the last stage start before ``line``
        return per_stage[starts[position - 1]] if position else set()

    return [
        f
        for f in findings
        if f.code not in per_line.get(f.line, set())
        and f.code not in stage_ignores(f.line)
        and f.code not in everywhere
    ]
