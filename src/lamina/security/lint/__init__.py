"""Dockerfile lint: hadolint's DL rules over lamina's own Dockerfile parser, plus ShellCheck.

``lint_file``/``lint_text`` give :class:`Finding` records in hadolint's JSON shape (code, line,
level, message); ``fails`` applies a failure threshold; ``format_findings`` renders tty, json or
sarif. ShellCheck's SC findings for RUN lines are added when a ``shellcheck`` program is on PATH.
"""

from __future__ import annotations

from pathlib import Path

from lamina.errors import UsageError
from lamina.security.lint.config import LintConfig, find_config, load_config
from lamina.security.lint.formats import FORMATS, format_findings
from lamina.security.lint.linter import MAX_DOCKERFILE_BYTES, Finding, fails, lint_text


def lint_file(
    path: str | Path, config: LintConfig | None = None, *, display_name: str | None = None
) -> list[Finding]:
    """Lint the Dockerfile at ``path`` (``-`` is not handled here: read stdin and use lint_text)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            source = handle.read(MAX_DOCKERFILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read Dockerfile {path}: {exc.strerror}") from None
    if len(source) > MAX_DOCKERFILE_BYTES:
        raise UsageError(f"Dockerfile {path} is larger than 16 MiB")
    text = source.decode("utf-8", errors="replace")
    return lint_text(text, display_name or str(path), config)


def lint_before_build(context: str, dockerfile: str | None, cwd: Path) -> tuple[list[Finding], Path]:
    """``lamina build --check``: lint the Dockerfile the build would read, with ./.hadolint.yaml.

    The Dockerfile is ``-f`` (relative to the working directory, as docker's client reads it)
    or ``CONTEXT/Dockerfile``; a build from stdin or a URL has no file to check first.
    """
    if dockerfile == "-" or context == "-" or "://" in context or context.startswith("git@"):
        raise UsageError("--check needs the Dockerfile as a file (not stdin or a URL context)")
    path = Path(dockerfile) if dockerfile else Path(context) / "Dockerfile"
    config = LintConfig()
    found = find_config(cwd)
    if found is not None:
        config = load_config(found, config)
    return lint_file(path, config), path


__all__ = [
    "FORMATS",
    "Finding",
    "LintConfig",
    "fails",
    "find_config",
    "format_findings",
    "lint_before_build",
    "lint_file",
    "lint_text",
    "load_config",
]
