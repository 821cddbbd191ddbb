"""Compat rules found by the differential cases that need no docker to check."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Lamina


def test_a_changed_heredoc_body_is_a_new_step(lamina: Lamina, imported_busybox: str, tmp_path: Path) -> None:
    """The heredoc body is part of the RUN (BuildKit records the script), so the cache must not
    give the first body's layer to the second."""
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN <<EOF\necho one > /out\nEOF\n")
    lamina.run("build", "-t", "hd:1", str(context))
    (context / "Dockerfile").write_text("FROM busybox\nRUN <<EOF\necho two > /out\nEOF\n")
    output = lamina.out("build", "-t", "hd:2", str(context))
    assert "Using cache" not in output
    assert lamina.out("run", "--rm", "hd:2", "cat", "/out") == "two\n"
    history = [json.loads(line) for line in
               lamina.out("history", "--no-trunc", "--format", "{{json .CreatedBy}}", "hd:2").splitlines()]
    assert history[0] == "/bin/sh -c echo two > /out\n"
    (context / "Dockerfile").write_text("FROM busybox\nRUN <<EOF\nexit 3\nEOF\n")
    assert "returned a non-zero code: 3" in lamina.fails("build", str(context))


def test_wildcard_match_that_is_a_dangling_symlink_fails(lamina: Lamina, imported_busybox: str, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    (context / "tree").mkdir(parents=True)
    (context / "tree" / "f").write_text("f\n")
    (context / "tree" / "gone").symlink_to("/nowhere-in-context")
    (context / "Dockerfile").write_text("FROM busybox\nCOPY tree/* /dst/\n")
    assert "Dockerfile:2: " in lamina.fails("build", str(context))
    assert '"tree/gone": not found in build context' in lamina.fails("build", str(context))


def test_run_bind_mount_of_a_relative_context_and_its_cache(lamina: Lamina, imported_busybox: str,
                                                            tmp_path: Path) -> None:
    """``lamina build .`` with ``RUN --mount=type=bind`` mounts the context file (runc needs an
    absolute source), and a changed mounted file runs the step again, as in BuildKit."""
    import subprocess
    import sys

    context = tmp_path / "ctx"
    context.mkdir()
    (context / "in.txt").write_text("one\n")
    (context / "Dockerfile").write_text("FROM busybox\nRUN --mount=type=bind,source=in.txt,target=/m cat /m > /seen\n")

    def build() -> str:
        result = subprocess.run([sys.executable, "-m", "lamina", "build", "-t", "bind:1", "."], cwd=context,
                                env=lamina.env(), capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout

    build()
    assert lamina.out("run", "--rm", "bind:1", "cat", "/seen") == "one\n"
    assert "Using cache" in build()
    (context / "in.txt").write_text("two\n")
    assert "Using cache" not in build()
    assert lamina.out("run", "--rm", "bind:1", "cat", "/seen") == "two\n"
