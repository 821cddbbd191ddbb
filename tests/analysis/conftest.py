"""Fixtures of the analysis tests (dive's helpers are in oracle.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def dive_workdir(tmp_path: Path) -> Path:
    """An empty working directory, so that neither tool finds a stray .dive-ci."""
    work = tmp_path / "work"
    work.mkdir()
    return work
