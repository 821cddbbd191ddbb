"""``lamina build --check``: the lint runs first and an error-level finding stops the build.

Which findings are errors is hadolint's call: the test reads hadolint's JSON for the same file.
"""

from __future__ import annotations

from pathlib import Path

from tests.security.lint_oracle import hadolint_json


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    for name in ("a.txt", "b.txt"):
        (context / name).write_text(name)
    return context


def test_an_error_finding_stops_the_build_before_any_step(lamina, imported_busybox, tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM busybox:latest\nCOPY a.txt b.txt /dest\nLABEL ok=1\n")
    theirs, _ = hadolint_json([Path("Dockerfile")], context, "--no-fail")
    errors = [f for f in theirs if f["level"] == "error"]
    assert [(f["line"], f["code"]) for f in errors] == [(2, "DL3021")]

    result = lamina.run("build", "--check", "-t", "checked:1", str(context), check=False)
    stderr = result.stderr.decode()
    assert result.returncode != 0
    assert stderr.splitlines()[0] == (
        f"lamina: error: {context}/Dockerfile:2: DL3021 {errors[0]['message']} (lint found 1 error(s))"
    )
    assert "Step 1/" not in result.stdout.decode()
    assert "checked" not in lamina.out("images")


def test_warnings_are_printed_and_the_build_goes_on(lamina, imported_busybox, tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM busybox:latest\nCOPY a.txt /a.txt\nLABEL Bad_Key=1\n")
    theirs, _ = hadolint_json([Path("Dockerfile")], context, "--no-fail")
    assert theirs and all(f["level"] != "error" for f in theirs)

    output = lamina.out("build", "--check", "-t", "checked:2", str(context))
    for finding in theirs:
        assert f"{context}/Dockerfile:{finding['line']} {finding['code']} {finding['level']}:" in output
    assert "checked" in lamina.out("images")


def test_check_with_a_dockerfile_on_stdin_is_refused(lamina, tmp_path: Path) -> None:
    stderr = lamina.fails("build", "--check", "-", input=b"FROM busybox:latest\n")
    assert "--check" in stderr.splitlines()[0]
