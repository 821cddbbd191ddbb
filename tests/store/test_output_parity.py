"""Table and time formats of `history` and `images` against docker's client on the same image.

Both sides import the same busybox tar and build the same Dockerfile with the classic builder;
IDs and times differ, so they are masked, and everything else — headers, column widths, the
padding Go's tabwriter leaves after an empty last cell, raw sizes — must be byte-equal.
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

DOCKERFILE = "FROM parity-base\nENV A=1\nRUN echo hi > /x\nLABEL z=1\n"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)")
GO_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+")
AGO = re.compile(r"(Less than a second|About a minute|\d+ (seconds?|minutes?)) ago")
SHORT_ID = re.compile(r"\b[0-9a-f]{12}\b")


@pytest.fixture(scope="module")
def both(tmp_path_factory, busybox_tar, docker):
    from tests.conftest import Lamina

    work = tmp_path_factory.mktemp("parity")
    lamina = Lamina(work / "store")
    context = work / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    for tool in (lamina, docker):
        tool.run("import", "-c", 'CMD ["sh"]', "-m", "base", str(busybox_tar), "parity-base")
        tool.run("build", "-q", "-t", "parity:latest", str(context))
    return lamina, docker


def _masked(text: str, *, keep_width: bool = True) -> str:
    """IDs and times replaced by a mark (as wide as what it replaces, so columns still line up)."""
    for pattern, mask in ((RFC3339, "<time>"), (GO_TIME, "<gotime>"), (AGO, "<ago>"), (SHORT_ID, "<id>")):
        text = pattern.sub(lambda m, mask=mask: mask.ljust(len(m.group(0)), "_") if keep_width else mask, text)
    return text


@pytest.mark.parametrize("args", [
    ("history", "-H=false", "parity"),
    ("history", "-H=false", "--format", "{{.CreatedAt}}|{{.CreatedSince}}|{{.Size}}", "parity"),
    ("history", "--format", "table {{.ID}}\t{{.Comment}}", "parity"),
    ("images", "--format", "{{.Repository}}|{{.Tag}}|{{.CreatedAt}}|{{.Size}}", "parity"),
])
def test_output_matches_docker_client(both, args: tuple[str, ...]) -> None:
    """Outputs without relative times: byte-equal once IDs and times are masked."""
    lamina, docker = both
    ours = lamina.out(*args)
    theirs = docker.out(*args)
    assert _masked(ours) == _masked(theirs), f"lamina:\n{ours}\ndocker:\n{theirs}"


@pytest.mark.parametrize("args", [
    ("history", "parity"),
    ("history", "--format", "{{.CreatedAt}}|{{.CreatedSince}}|{{.Size}}|{{.CreatedBy}}|{{.Comment}}", "parity"),
    ("images", "parity"),
])
def test_human_output_matches_docker_client(both, args: tuple[str, ...]) -> None:
    """Outputs with "N seconds ago": the two runs may straddle a second, so the cells are
    compared (the table's widths follow the durations' lengths), plus the trailing padding."""
    lamina, docker = both
    ours, theirs = lamina.out(*args), docker.out(*args)

    def cells(text: str) -> list[list[str]]:
        return [[_masked(cell, keep_width=False) for cell in re.split(r" {3,}|\|", line.rstrip())] for line in text.splitlines()]

    def padded(text: str) -> list[bool]:
        return [line != line.rstrip() for line in text.splitlines()]

    assert cells(ours) == cells(theirs), f"lamina:\n{ours}\ndocker:\n{theirs}"
    assert padded(ours) == padded(theirs), f"lamina:\n{ours!r}\ndocker:\n{theirs!r}"


def test_history_times_are_rfc3339_seconds_when_not_human(both) -> None:
    lamina, _docker = both
    lines = lamina.out("history", "-H=false", "parity").splitlines()
    assert lines[0].split()[:3] == ["IMAGE", "CREATED", "AT"]
    for line in lines[1:]:
        assert RFC3339.fullmatch(line.split()[1]), line
