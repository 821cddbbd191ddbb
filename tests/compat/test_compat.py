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


def test_every_error_case_names_both_messages() -> None:
    """An error case judges docker's words and lamina's one line, not just that both failed."""
    lax = [case.name for case in CASES if case.fail is not None and not (case.fail and case.docker_error)]
    assert not lax, f"error cases without docker_error or with an empty fail: {lax}"
    unnamed = [case.name for case in CASES if case.fail and case.error_line is not None
               and f"Dockerfile:{case.error_line}:" not in case.fail]
    assert not unnamed, f"fail regexes that do not name their Dockerfile line: {unnamed}"


def test_a_failure_is_judged_on_both_messages() -> None:
    case = Case("err-x", "FROM scratch\n", fail=r"Dockerfile:2: bad thing", error_line=2, docker_error=r"bad thing")
    good = "lamina: error: Dockerfile:2: bad thing\n"
    assert Builders.check_failure(case, 1, "Step 2/2 : X\nbad thing\n", 1, good) == []
    assert Builders.check_failure(case, 1, "something else\n", 1, good)  # docker failed for another reason
    assert Builders.check_failure(case, 1, "bad thing", 1, "lamina: error: Dockerfile:3: bad thing\n")
    assert Builders.check_failure(case, 1, "bad thing", 1, "lamina: error: other\n")
    assert Builders.check_failure(case, 0, "", 1, good)
    lax = Case("err-y", "FROM scratch\n", fail=r"")
    assert Builders.check_failure(lax, 1, "bad thing", 1, good)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_lamina_builds_what_docker_builds(builders: Builders, case: Case, tmp_path: Path) -> None:
    problems = builders.check(case)  # lamina's one build judged; docker's rebuilt once if they differ
    assert not problems, "\n".join(problems)
