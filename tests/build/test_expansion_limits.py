"""Expansion bombs and oversized inputs end with a clear error in bounded memory and time (issue
12, item 5): 1 MiB per expanded word, 4 MiB per instruction, 16 MiB of ENV/LABEL per config,
4 MiB per Dockerfile; deep and wide contexts build.

Each build runs the real CLI in a child process that the kernel stops at a memory and CPU
limit, so a bomb that is not defused fails the test instead of eating the machine. docker grows
without bound on the bombs (it is not run on them); it is the oracle where it answers.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

MEMORY_LIMIT = 1536 * 1024 * 1024  # address space: python + the store's sqlite + the build
CPU_LIMIT = 60


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT, CPU_LIMIT + 1))


def build(lamina, context: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lamina", "build", *args, str(context)], capture_output=True,
                          text=True, env=lamina.env(), preexec_fn=_limits, timeout=600, stdin=subprocess.DEVNULL)


def error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout[-500:]
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("lamina: error: ")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert len(errors[0]) < 400, errors[0][:400]  # one short line, not the megabytes it refused
    return errors[0]


def context_with(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    return context


def test_the_arg_bomb_of_the_issue_stops_at_its_line(lamina, tmp_path):
    lines = ["FROM scratch", "ARG A0=xxxxxxxxxx"] + [f"ARG A{n}=" + f"$A{n - 1}" * 10 for n in range(1, 13)]
    result = build(lamina, context_with(tmp_path, "\n".join(lines + ["ENV X=$A12", ""])))
    # A6 is 10^7 characters: the first word past 1 MiB, on line 8
    assert error_line(result).startswith('lamina: error: Dockerfile:8: failed to process "$A5$A5')
    assert "grows past 1 MiB" in result.stderr


def _megabyte_arg() -> list[str]:
    return ["FROM scratch", "ARG X0=xxxxxxxxxx"] + [f"ARG X{n}=" + f"$X{n - 1}" * 10 for n in range(1, 6)]


def test_an_instruction_of_many_large_words_stops_at_4_mib(lamina, tmp_path):
    lines = _megabyte_arg() + ["LABEL " + " ".join(f"l{n}=$X5" for n in range(5))]
    result = build(lamina, context_with(tmp_path, "\n".join(lines) + "\n"))
    assert error_line(result) == "lamina: error: Dockerfile:8: the expanded instruction grows past 4 MiB (lamina's limit)"


@pytest.mark.slow
def test_env_steps_that_together_pass_16_mib_stop_at_the_step(lamina, tmp_path):
    lines = _megabyte_arg() + [f"ENV A{n}=$X5 B{n}=$X5 C{n}=$X5" for n in range(8)]
    result = build(lamina, context_with(tmp_path, "\n".join(lines) + "\n"))
    line = error_line(result)
    assert line.startswith("lamina: error: Dockerfile:13: ") and "16 MiB (lamina's limit)" in line, line


@pytest.mark.slow
def test_labels_that_together_pass_16_mib_stop_at_the_step(lamina, tmp_path):
    lines = _megabyte_arg() + [f"LABEL a{n}=$X5 b{n}=$X5 c{n}=$X5" for n in range(8)]
    result = build(lamina, context_with(tmp_path, "\n".join(lines) + "\n"))
    assert error_line(result) == ("lamina: error: Dockerfile:13: the image config's ENV and LABEL values grow "
                                  "past 16 MiB (lamina's limit)")


def test_a_replace_all_that_multiplies_stops_at_1_mib(lamina, tmp_path):
    dockerfile = "FROM scratch\nARG A=" + "x" * 2000 + "\nENV B=${A//x/$A}\n"
    line = error_line(build(lamina, context_with(tmp_path, dockerfile)))
    assert line.startswith("lamina: error: Dockerfile:3: ") and "grows past 1 MiB" in line


def test_a_backtracking_trim_pattern_takes_bounded_time(lamina, tmp_path):
    dockerfile = "FROM scratch\nARG A=" + "a" * 20000 + "\nENV B=${A#*a*a*a*a*a*a*a*b} C=${A%a*a*a*a*a*a*a*b}\n"
    result = build(lamina, context_with(tmp_path, dockerfile), "-q", "-t", "trim:1")
    assert result.returncode == 0, result.stderr[-1000:]
    [document] = json.loads(lamina.out("inspect", "trim:1"))
    assert "B=" + "a" * 20000 in document["Config"]["Env"]  # no "b": nothing is trimmed


def test_a_10_mb_dockerfile_is_refused_at_once_as_docker_refuses_it(lamina, tmp_path):
    context = context_with(tmp_path, "FROM scratch\nRUN echo " + "x" * 10_000_000 + "\n")
    assert error_line(build(lamina, context)) == \
        "lamina: error: Dockerfile: is 9.5 MiB; lamina reads Dockerfiles of up to 4 MiB"


@pytest.mark.slow
def test_docker_refuses_the_10_mb_dockerfile_too(docker, tmp_path):
    context = context_with(tmp_path, "FROM scratch\nRUN echo " + "x" * 10_000_000 + "\n")
    result = docker.run("build", "-q", str(context), check=False, timeout=120)
    assert result.returncode != 0 and b"max allowed size" in result.stderr


def _deep_context(root: Path, depth: int) -> None:
    """``d/d/d/…`` made with directory descriptors: the path is longer than one syscall takes."""
    root.mkdir()
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /ctx/\n")
    top = os.open(root, os.O_RDONLY)
    current = top
    for _level in range(depth):
        os.mkdir("d", dir_fd=current)
        below = os.open("d", os.O_RDONLY, dir_fd=current)
        if current != top:
            os.close(current)
        current = below
    leaf = os.open("deepest", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=current)
    os.write(leaf, b"found")
    os.close(leaf)
    os.close(current)
    os.close(top)


def _layer_members(lamina, image: str) -> list[tarfile.TarInfo]:
    saved = lamina.run("save", image).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        [entry] = json.load(archive.extractfile("manifest.json"))
        layer = archive.extractfile(entry["Layers"][-1]).read()
    with tarfile.open(fileobj=io.BytesIO(layer)) as files:
        return files.getmembers()


@pytest.fixture
def deep_dir(tmp_path):
    """A dir for a tree too deep for shutil.rmtree's recursion (pytest's own clean-up of old
    temp dirs would crash on it later): removed here with lamina's iterative remover."""
    from lamina.layer.treeremoval import remove_tree

    yield tmp_path / "deep"
    if (tmp_path / "deep").exists():
        remove_tree(tmp_path / "deep")


@pytest.mark.slow
def test_a_context_1500_directories_deep_builds(lamina, tmp_path, deep_dir):
    _deep_context(deep_dir, 1500)
    result = build(lamina, tmp_path / "deep", "-q", "-t", "deep:1")
    assert result.returncode == 0, result.stderr[-1000:]
    members = _layer_members(lamina, "deep:1")
    assert any(member.name == "ctx/" + "d/" * 1500 + "deepest" for member in members)
    again = build(lamina, tmp_path / "deep", "-q", "-t", "deep:1")  # the no-op rebuild's context walk too
    assert again.returncode == 0 and again.stdout == result.stdout, again.stderr[-1000:]


@pytest.mark.slow
def test_a_context_of_100k_entries_builds_in_bounded_memory(lamina, tmp_path):
    context = context_with(tmp_path, "FROM scratch\nCOPY . /ctx/\n")
    for group in range(100):
        directory = context / f"d{group}"
        directory.mkdir()
        for n in range(1000):
            (directory / f"f{n}").touch()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = build(lamina, context, "-q", "-t", "wide:1")
    assert result.returncode == 0, result.stderr[-1000:]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak_kib < 1024 * 1024 or peak_kib == before, f"peak RSS {peak_kib} KiB"
    assert len([m for m in _layer_members(lamina, "wide:1") if m.isfile()]) == 100_000 + 1  # and the Dockerfile
