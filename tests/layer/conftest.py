"""Layer tests that need root fail without it (the suite runs as root: ``make test``), never skip."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def must_be_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root (chown, mknod, trusted.* xattrs): run the suite as root, as 'make test' does")
