"""Each compat case (``cases.py``) built by docker and by lamina must give the same image.

Classic cases are judged against ``DOCKER_BUILDKIT=0 docker build``; ``bk-`` cases against the
daemon's BuildKit; ``err-`` cases must fail in docker and fail in lamina with one
``lamina: error:`` line naming the Dockerfile line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat.cases import CASES
from tests.compat.harness import Builders, Case, make_base
from tests.conftest import Docker, Lamina

pytestmark = [pytest.mark.slow, pytest.mark.docker]


@pytest.fixture(scope="module")
def builders(docker: Docker, tmp_path_factory) -> Builders:
    work = tmp_path_factory.mktemp("cx")
    lamina = Lamina(work / "store")
    lamina.run("load", "-i", str(make_base(docker, work)))
    return Builders(docker, lamina, work)


def test_case_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_lamina_builds_what_docker_builds(builders: Builders, case: Case, tmp_path: Path) -> None:
    problems = builders.check(case)
    if problems:
        # Both sides build with --no-cache, so a real difference shows again; the oracle
        # dockerd now and then gives a wrong image (an empty rootfs, a missing last layer).
        problems = builders.check(case)
    assert not problems, "\n".join(problems)
