"""Where BuildKit's own test data lives (read in place from the shared folder beside the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFORMANCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance"
BUILDKIT_DOCKERFILE = CONFORMANCE / "buildkit" / "frontend" / "dockerfile"
PARSER_CASES = BUILDKIT_DOCKERFILE / "parser" / "testfiles"
PARSER_NEGATIVE_CASES = BUILDKIT_DOCKERFILE / "parser" / "testfiles-negative"
PARSER_LINE_CASE = BUILDKIT_DOCKERFILE / "parser" / "testfile-line" / "Dockerfile"
SHELL_CASES = BUILDKIT_DOCKERFILE / "shell"


def case_dirs(folder: Path) -> list[str]:
    """Names of the case folders; empty (and a failing test reports why) when the data is missing."""
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in folder.iterdir() if entry.is_dir())


def require(path: Path) -> Path:
    """Fail loudly, never skip, when the conformance data is not where it should be."""
    if not path.exists():
        pytest.fail(f"conformance data missing: {path.resolve()} (expected shared/ beside the repo)")
    return path
