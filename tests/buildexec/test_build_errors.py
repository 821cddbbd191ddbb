"""A failing ``lamina build`` exits non-zero with one ``lamina: error:`` line naming the Dockerfile line,
and leaves no tag behind; the CLI's flags and output follow docker's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Lamina


@pytest.fixture(scope="module")
def cli(busybox_tar: Path, tmp_path_factory) -> Lamina:
    lamina = Lamina(tmp_path_factory.mktemp("bx-cli") / "store", {"DOCKER_BUILDKIT": "0"})  # the classic builder's words
    lamina.run("import", str(busybox_tar), "busybox:latest")
    return lamina


@pytest.mark.parametrize(
    ("dockerfile", "line", "message"),
    [
        ("FROM busybox\nFOO bar\n", 2, "unknown instruction: FOO"),
        ("FROM busybox\n\n# comment\nCOPY nosuchfile /x\n", 4, '"nosuchfile": not found in build context'),
        ("FROM busybox\nCOPY --from=nosuchstage /a /b\n", 2, "invalid from flag value nosuchstage"),
        ("FROM busybox\nCOPY --chwon=1 a /b\n", 2, "unknown flag: --chwon"),
        ("FROM busybox\nCOPY <<EOF /x\nno end\n", 2, "unterminated heredoc"),
        ("FROM busybox\nCOPY a b /dir\n", 2, "must be a directory and end with a /"),
        ("FROM busybox\nCOPY --chown=ghost a /a\n", 2, "can't find uid for user ghost"),
        ("FROM busybox\nCOPY --chown=nobody a /a\n", 2, "can't find gid for group nobody"),
        ("FROM busybox\nSTOPSIGNAL NOPE\n", 2, "Invalid signal: NOPE"),
        ("FROM Busybox:UPPER\n", 1, "Busybox:UPPER"),
    ],
)
def test_errors_name_the_dockerfile_line(cli: Lamina, tmp_path: Path, dockerfile: str, line: int, message: str) -> None:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    stderr = cli.fails("build", "-t", "bx/failed", str(tmp_path))
    assert f"Dockerfile:{line}: " in stderr and message in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert cli.run("inspect", "bx/failed", check=False).returncode != 0


def test_unknown_target_and_bad_tag_are_refused(cli: Lamina, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox AS one\n")
    assert "failed to reach build target two" in cli.fails("build", "--target", "two", str(tmp_path))
    assert "invalid reference format" in cli.fails("build", "-t", "Bad:Tag", str(tmp_path))
    assert "not supported" in cli.fails("build", "--network", "bridge2", str(tmp_path))


def test_output_quiet_and_iidfile(cli: Lamina, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nENV A=1\n")
    out = cli.out("build", "-t", "bx/out", "--build-arg", "NOPE=1", str(context))
    lines = out.splitlines()
    assert lines[0].startswith("Sending build context to lamina  ")
    assert lines[1:3] == ["Step 1/2 : FROM busybox", f" ---> {cli.out('inspect', '-f', '{{.Id}}', 'busybox')[7:19]}"]
    assert lines[3] == "Step 2/2 : ENV A=1" and lines[4].startswith(" ---> ")
    assert lines[-2] == "Successfully built " + lines[4][6:] and lines[-1] == "Successfully tagged bx/out:latest"
    iidfile = tmp_path / "iid"
    quiet = cli.run("build", "-q", "--iidfile", str(iidfile), str(context))
    assert quiet.stdout.decode() == iidfile.read_text() + "\n" and iidfile.read_text().startswith("sha256:")
    assert "[Warning] One or more build-args [NOPE] were not consumed" in cli.run(
        "build", "--build-arg", "NOPE", str(context)).stderr.decode()


def test_dockerfile_from_stdin(cli: Lamina, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("context file\n")
    out = cli.out("build", "-f", "-", "-t", "bx/stdin", str(tmp_path), input=b"FROM busybox\nCOPY file /file\n")
    assert "Successfully tagged bx/stdin:latest" in out
