"""The console entry point's ``run`` door parses exactly what click parses, or steps aside."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lamina.cli.containers import run as run_command
from lamina.cli.rundoor import parse_run

CASES = [
    ["run", "img"],
    ["run", "--rm", "img", "true"],
    ["run", "-d", "--name", "web", "-p", "127.0.0.1:8080:80", "img"],
    ["run", "-it", "--rm", "img", "sh"],
    ["run", "-dit", "img"],
    ["run", "-e", "A=1", "--env", "B=2", "-eC=3", "--env=D=4", "img", "env"],
    ["run", "--network=none", "--net", "host", "img"],
    ["run", "--pids-limit", "-1", "--stop-timeout=3", "img"],
    ["run", "-v", "/a:/b:ro", "--volume=/c:/d", "--mount", "type=tmpfs,dst=/t", "--tmpfs", "/x", "img"],
    ["run", "-u", "1000:1000", "-w", "/srv", "-h", "box", "--read-only", "-m", "64m", "--cpus", "0.5", "img"],
    ["run", "--entrypoint", "", "img", "ls", "-l", "--color"],
    ["run", "--rm", "img", "--", "-x"],
    ["run", "--rm", "--", "img", "-x"],
    ["run", "-P", "--expose", "80", "-l", "a=b", "--label", "c=d", "--init", "--restart", "always", "img"],
    ["run", "--pull=never", "-q", "--stop-signal", "SIGINT", "--env-file", "f", "--memory-swap", "-1", "img"],
    ["--debug", "run", "img", "echo", "-n", "hi"],
    ["--root", "/tmp/store", "run", "img"],
    ["--root=/tmp/store", "run", "-i", "img"],
]


def _click_params(argv: list[str]) -> tuple[dict, str, list[str]]:
    args = argv[argv.index("run") + 1:]
    ctx = run_command.make_context("run", list(args))
    params = dict(ctx.params)
    return params, params.pop("image"), list(params.pop("command"))


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(case) for case in CASES])
def test_door_parses_like_click(argv, monkeypatch):
    monkeypatch.delenv("LAMINA_ROOT", raising=False)
    monkeypatch.delenv("LAMINA_DEBUG", raising=False)
    parsed = parse_run(argv)
    assert parsed is not None
    options, image, command = parsed
    expected, expected_image, expected_command = _click_params(argv)
    assert (image, command) == (expected_image, expected_command)
    root, debug = options.pop("root"), options.pop("debug")
    assert options == expected
    assert debug == ("--debug" in argv)
    assert root == ("/tmp/store" if any(a.startswith("--root") for a in argv) else None)


@pytest.mark.parametrize("argv", [
    ["run"],                                # no image: click reports
    ["run", "--rm"],
    ["run", "--help"],
    ["run", "--no-such-flag", "img"],
    ["run", "-Z", "img"],
    ["run", "--pids-limit", "many", "img"],  # click says why
    ["run", "--rm=yes", "img"],              # a flag given a value
    ["run", "--name"],
    ["images", "run"],                       # not the run command
    ["--weird", "run", "img"],
])
def test_door_steps_aside_for_what_click_must_answer(argv):
    assert parse_run(argv) is None


def test_unusual_run_is_reported_by_click(tmp_path):
    """A value click refuses still gets click's one-line error and exit status 125."""
    result = subprocess.run([sys.executable, "-c", "from lamina.cli.entry import main; main()", "run",
                             "--pids-limit", "many", "img"], capture_output=True, text=True,
                            env={"LAMINA_ROOT": str(tmp_path / "store"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 125
    assert result.stderr.startswith("lamina: error: Invalid value for '--pids-limit'")


def test_door_reports_a_missing_image_like_click(tmp_path):
    """The door's errors are the command line's: one line, exit status 125, nothing created."""
    store = tmp_path / "store"
    result = subprocess.run([sys.executable, "-c", "from lamina.cli.entry import main; main()", "run", "--rm",
                             "--pull", "never", "no-such-image:1", "true"], capture_output=True, text=True,
                            env={"LAMINA_ROOT": str(store), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 125
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("lamina: error: ")
    assert "no-such-image" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unexpected_failure_is_still_one_line(capsys):
    """A bug in lamina ends like any error (one line, exit 1); --debug re-raises it."""
    from lamina.cli.failures import run_guarded

    def broken() -> None:
        raise ValueError("bad\nthing")

    with pytest.raises(SystemExit) as stopped:
        run_guarded(broken, debug=False)
    assert stopped.value.code == 1
    assert capsys.readouterr().err == "lamina: error: unexpected ValueError: bad thing (--debug shows where)\n"
    with pytest.raises(ValueError):
        run_guarded(broken, debug=True)
