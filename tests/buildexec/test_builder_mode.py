"""Which builder's semantics ``lamina build`` follows: docker's ``DOCKER_BUILDKIT`` switch and
``--builder``, judged against docker 20.10's own reading of the switch.

The mode shows in ``FROM scratch``'s working directory (BuildKit's empty image has ``/``, the
classic builder's none); the differences themselves are compared per builder in tests/compat
(the ``mode-`` cases and their ``bk-mode-`` twins).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lamina.api import Client
from lamina.build.mode import BUILDKIT, CLASSIC, BuilderChoiceError, requested_builder
from lamina.errors import LaminaError
from tests.conftest import Docker, Lamina

SCRATCH = "FROM scratch\nCOPY f /f\n"


def _context(tmp_path: Path, dockerfile: str = SCRATCH) -> Path:
    context = tmp_path / "ctx"
    context.mkdir(exist_ok=True)
    (context / "f").write_text("f\n")
    (context / "Dockerfile").write_text(dockerfile)
    return context


def _docker_build(docker: Docker, switch: str, context: Path, tag: str) -> subprocess.CompletedProcess:
    """docker's client with ``DOCKER_BUILDKIT=switch``, as a user's shell would run it."""
    env = {**os.environ, "DOCKER_BUILDKIT": switch, "DOCKER_CONFIG": str(docker.base / "cfg")}
    return subprocess.run([docker.client, "-H", f"unix://{docker.socket}", "build", "-t", tag, str(context)],
                          capture_output=True, env=env, timeout=300)


def _workdir(tool, tag: str) -> str:
    return tool.out("image", "inspect", "-f", "{{.Config.WorkingDir}}", tag).strip()


@pytest.mark.slow
def test_docker_buildkit_values_choose_the_builder_docker_chooses(lamina: Lamina, docker: Docker,
                                                                  tmp_path: Path) -> None:
    context = _context(tmp_path)
    for switch in ("1", "t", "TRUE", "True", "0", "f", "F", "false", "FALSE"):
        tag = f"mode-oracle/{switch.lower()}:1"
        oracle = _docker_build(docker, switch, context, tag)
        assert oracle.returncode == 0, oracle.stderr.decode()
        lamina.environ["DOCKER_BUILDKIT"] = switch
        lamina.run("build", "-t", tag, str(context))
        assert _workdir(lamina, tag) == _workdir(docker, tag), switch
    assert {_workdir(docker, "mode-oracle/1:1"), _workdir(docker, "mode-oracle/0:1")} == {"/", ""}


@pytest.mark.slow
def test_a_value_that_is_no_boolean_is_refused_in_dockers_words(lamina: Lamina, docker: Docker,
                                                                 tmp_path: Path) -> None:
    context = _context(tmp_path)
    said = _docker_build(docker, "yes", context, "mode-oracle/bad:1")
    assert said.returncode != 0
    lamina.environ["DOCKER_BUILDKIT"] = "yes"
    stderr = lamina.fails("build", str(context))
    assert stderr.strip() == "lamina: error: " + said.stderr.decode().strip()


def test_without_a_switch_lamina_builds_as_current_docker_does(lamina: Lamina, tmp_path: Path) -> None:
    """docker ≥ 23 defaults to BuildKit (docker 20.10 here still to the classic builder), and an
    empty DOCKER_BUILDKIT counts as unset there too."""
    context = _context(tmp_path)
    lamina.environ.pop("DOCKER_BUILDKIT", None)
    env_free = {key: value for key, value in os.environ.items() if key != "DOCKER_BUILDKIT"}
    result = subprocess.run([*_lamina_argv(), "build", "-t", "unset:1", str(context)], capture_output=True,
                            env={**env_free, "LAMINA_ROOT": str(lamina.root)}, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    assert _workdir(lamina, "unset:1") == "/"
    lamina.environ["DOCKER_BUILDKIT"] = ""
    lamina.run("build", "-t", "empty:1", str(context))
    assert _workdir(lamina, "empty:1") == "/"


def test_the_builder_flag_wins_over_the_switch(lamina: Lamina, tmp_path: Path) -> None:
    context = _context(tmp_path)
    lamina.environ["DOCKER_BUILDKIT"] = "1"
    lamina.run("build", "--builder", "classic", "-t", "flag:classic", str(context))
    lamina.environ["DOCKER_BUILDKIT"] = "0"
    lamina.run("build", "--builder", "buildkit", "-t", "flag:buildkit", str(context))
    assert (_workdir(lamina, "flag:classic"), _workdir(lamina, "flag:buildkit")) == ("", "/")
    assert "'nope' is not one of" in lamina.fails("build", "--builder", "nope", str(context))


def test_buildkit_only_syntax_gets_buildkit_semantics_whatever_was_asked(lamina: Lamina, tmp_path: Path) -> None:
    """The classic builder refuses ``COPY --chmod``: there is no classic result to match."""
    context = _context(tmp_path, "FROM scratch\nCOPY --chmod=0600 f /f\n")
    lamina.environ["DOCKER_BUILDKIT"] = "0"
    lamina.run("build", "-t", "forced:1", str(context))
    assert _workdir(lamina, "forced:1") == "/"


def test_a_rebuild_never_replays_the_other_modes_answer(lamina: Lamina, tmp_path: Path) -> None:
    """The no-op rebuild door keys on the mode: the same request in the other mode builds its own
    image, and each mode's rebuild gives back its own."""
    context = _context(tmp_path)
    ids = {}
    for switch in ("1", "0", "1", "0"):
        lamina.environ["DOCKER_BUILDKIT"] = switch
        image_id = lamina.out("build", "-q", "-t", "door:1", str(context)).strip()
        assert ids.setdefault(switch, image_id) == image_id, switch
        assert _workdir(lamina, "door:1") == ("/" if switch == "1" else "")
    assert ids["1"] != ids["0"]


def test_the_python_api_takes_the_builder(tmp_path: Path) -> None:
    context = _context(tmp_path)
    with Client(tmp_path / "store") as client:
        classic = client.build(str(context), builder="classic").image_id
        default = client.build(str(context)).image_id
        assert client.build(str(context), builder="buildkit").image_id == default != classic
        with pytest.raises(LaminaError, match="unknown builder 'nope'"):
            client.build(str(context), builder="nope")


def test_requested_builder_reads_the_flag_then_the_switch() -> None:
    assert requested_builder(None, {}) == BUILDKIT
    assert requested_builder("CLASSIC", {"DOCKER_BUILDKIT": "1"}) == CLASSIC
    assert requested_builder(None, {"DOCKER_BUILDKIT": "0"}) == CLASSIC
    with pytest.raises(BuilderChoiceError, match='parsing "on": invalid syntax'):
        requested_builder(None, {"DOCKER_BUILDKIT": "on"})


def _lamina_argv() -> list[str]:
    import sys

    return [sys.executable, "-m", "lamina"]
