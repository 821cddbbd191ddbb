"""``lamina lint`` on the command line: hadolint's output shapes and exit statuses, same input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.lint_oracle import CORPUS, hadolint_json, venv_tool

SAMPLES = ["apt.Dockerfile", "image_config.Dockerfile", "labels.Dockerfile", "clean.Dockerfile", "pragmas.Dockerfile"]


def run_lamina(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(cwd), "XDG_CONFIG_HOME": str(cwd)}
    return subprocess.run([sys.executable, "-m", "lamina", "lint", *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)


def run_hadolint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    hadolint = venv_tool("hadolint")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "XDG_CONFIG_HOME": str(cwd)}
    return subprocess.run([hadolint, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in SAMPLES:
        shutil.copy(CORPUS / name, tmp_path / name)
    return tmp_path


def _sorted(findings: list[dict]) -> list[dict]:
    return sorted(findings, key=lambda f: (f["file"], f["line"], f["code"]))


def test_json_output_is_hadolints_json(workdir: Path) -> None:
    ours = run_lamina("-f", "json", "--no-fail", *SAMPLES, cwd=workdir)
    assert ours.returncode == 0, ours.stderr
    theirs, _ = hadolint_json([Path(name) for name in SAMPLES], workdir, "--no-fail")
    assert _sorted(json.loads(ours.stdout)) == _sorted(theirs)
    assert len(theirs) > 20


def test_tty_lines_are_hadolints_lines(workdir: Path) -> None:
    ours = run_lamina("--no-fail", *SAMPLES, cwd=workdir)
    theirs = run_hadolint("--no-color", "--no-fail", *SAMPLES, cwd=workdir)
    assert sorted(ours.stdout.splitlines()) == sorted(theirs.stdout.splitlines())


def test_sarif_results_are_hadolints_results(workdir: Path) -> None:
    def results(text: str) -> list[tuple]:
        log = json.loads(text)
        assert log["version"] == "2.1.0"
        return sorted(
            (r["ruleId"], r["level"], r["message"]["text"],
             r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
             r["locations"][0]["physicalLocation"]["region"]["startLine"],
             r["locations"][0]["physicalLocation"]["region"]["sourceLanguage"])
            for r in log["runs"][0]["results"]
        )

    ours = run_lamina("-f", "sarif", "--no-fail", *SAMPLES, cwd=workdir)
    theirs = run_hadolint("-f", "sarif", "--no-fail", *SAMPLES, cwd=workdir)
    assert results(ours.stdout) == results(theirs.stdout)


@pytest.mark.parametrize("threshold", ["error", "warning", "info", "style", "none"])
@pytest.mark.parametrize("name", ["labels.Dockerfile", "clean.Dockerfile", "user.Dockerfile", "apt.Dockerfile"])
def test_exit_status_follows_the_failure_threshold_as_hadolints(tmp_path: Path, name: str, threshold: str) -> None:
    shutil.copy(CORPUS / name, tmp_path / name)
    ours = run_lamina("--failure-threshold", threshold, name, cwd=tmp_path)
    theirs = run_hadolint("--failure-threshold", threshold, name, cwd=tmp_path)
    assert ours.returncode == theirs.returncode, ours.stderr


def test_ignore_drops_codes_as_hadolints(workdir: Path) -> None:
    args = ("--ignore", "DL3008", "--ignore", "DL3015", "--ignore", "SC2086", "--no-fail", *SAMPLES)
    ours = run_lamina("-f", "json", *args, cwd=workdir)
    theirs, _ = hadolint_json([], workdir, *args)
    assert _sorted(json.loads(ours.stdout)) == _sorted(theirs)
    assert not any(f["code"] == "DL3008" for f in json.loads(ours.stdout))


def test_stdin_is_linted_as_file_dash(tmp_path: Path) -> None:
    text = (CORPUS / "apt.Dockerfile").read_text()
    ours = run_lamina("-f", "json", "--no-fail", "-", cwd=tmp_path, stdin=text)
    hadolint = venv_tool("hadolint")
    theirs = subprocess.run([hadolint, "-f", "json", "--no-fail", "-"], input=text, capture_output=True, text=True,
                            cwd=tmp_path, env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}, check=False)
    assert _sorted(json.loads(ours.stdout)) == _sorted(json.loads(theirs.stdout))


def test_without_a_file_argument_lints_the_dockerfile_here(tmp_path: Path) -> None:
    shutil.copy(CORPUS / "user.Dockerfile", tmp_path / "Dockerfile")
    ours = run_lamina("-f", "json", "--no-fail", cwd=tmp_path)
    theirs, _ = hadolint_json([Path("Dockerfile")], tmp_path, "--no-fail")
    assert _sorted(json.loads(ours.stdout)) == _sorted(theirs) != []


def test_a_file_that_does_not_parse_is_one_error_line(lamina, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM alpine:3.19\nRUN echo ok\nRUN <<EOF\necho never closed\n")
    stderr = lamina.fails("lint", str(dockerfile))
    assert stderr.splitlines()[0] == f"lamina: error: {dockerfile}:3: unterminated heredoc"


def test_a_missing_file_is_one_error_line(lamina, tmp_path: Path) -> None:
    stderr = lamina.fails("lint", str(tmp_path / "nope"))
    assert "nope" in stderr.splitlines()[0]


def test_no_shellcheck_leaves_out_sc_findings(workdir: Path) -> None:
    ours = json.loads(run_lamina("-f", "json", "--no-fail", "--no-shellcheck", *SAMPLES, cwd=workdir).stdout)
    theirs, _ = hadolint_json([Path(name) for name in SAMPLES], workdir, "--no-fail")
    assert _sorted(ours) == _sorted([f for f in theirs if not f["code"].startswith("SC")])
