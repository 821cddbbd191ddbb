""".dockerignore matching takes linear time (issue 12, item 4).

50 patterns like ``**/**/…/a*a*a*…b`` over a 25-deep tree made the old matcher (Python regexes
that backtrack) run for minutes; docker's Go regexps answer at once. The bound is on CPU time,
in a child process that the kernel stops at the limit, so the old matcher fails instead of hanging.
docker is the oracle for which files such patterns leave in the context.
"""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from lamina.build.dockerignore import PatternMatcher, go_match

CPU_LIMIT = 20  # seconds; the new matcher needs well under one (bench/dockerignore_bench.py)


def adversarial_patterns(count: int) -> list[str]:
    return ["/".join(["**"] * (2 + n % 10)) + "/" + "a*" * (8 + n % 4) + "b" for n in range(count)]


def deep_tree(root: Path, depth: int) -> Path:
    root.mkdir()
    directory = root
    for level in range(depth):
        directory = directory / ("a" * 30)
        directory.mkdir()
        (directory / ("a" * (20 + level % 5))).write_text("x")
        if level % 7 == 3:  # some names the patterns do match: their answer is not always no
            (directory / ("a" * 12 + "b")).write_text("matched")
    return root


def _limit_cpu() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT, CPU_LIMIT + 1))


def test_fifty_adversarial_patterns_over_a_25_deep_tree_take_bounded_cpu(tmp_path):
    tree = deep_tree(tmp_path / "ctx", 25)
    (tmp_path / "patterns.json").write_text(json.dumps(adversarial_patterns(50)))
    code = (
        "import json, sys, time\n"
        "from lamina.build.context import walk_context\n"
        "from lamina.build.dockerignore import PatternMatcher\n"
        f"patterns = json.load(open({str(tmp_path / 'patterns.json')!r}))\n"
        "start = time.process_time()\n"
        f"kept = [path for path, _ in walk_context({str(tree)!r}, PatternMatcher(patterns))]\n"
        "print(len(kept), time.process_time() - start)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=_limit_cpu,
                            timeout=300)
    assert result.returncode == 0, f"stopped at the {CPU_LIMIT} s CPU limit or failed: {result.stderr[-500:]}"
    kept, seconds = result.stdout.split()
    assert int(kept) == 25 + 25  # every dir and plain file; the four "a…ab" files are excluded
    assert float(seconds) < 5, f"{seconds} s of CPU"
    assert "re2" not in result.stderr.lower()  # RE2 logs nothing of its own


def test_an_adversarial_copy_glob_takes_bounded_cpu():
    code = ("from lamina.build.dockerignore import go_match\n"
            "print(go_match('a*' * 30 + 'b', 'a' * 250))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=_limit_cpu,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "False", result.stderr[-500:]


def test_matches_are_unchanged_by_the_engine():
    # patterns on RE2 (two or more wildcards) and on re (one) agree with the glob rules
    matcher = PatternMatcher(["**/x*y*z", "*/a*", "!**/keep*", "**/*.pyc", "d?r/**/f*"])
    assert matcher.matches("one/two/xAyBz")
    assert matcher.matches("top/abc") and not matcher.matches("top/sub/abc")
    assert not matcher.matches("one/keep.xyz")
    assert matcher.matches("deep/er/m.pyc") and matcher.matches("m.pyc/child.py")  # below an excluded dir
    assert not PatternMatcher(["**/*.pyc"]).matches("a.pyc.txt")
    assert matcher.matches("dir/f") and matcher.matches("dor/x/y/fz") and not matcher.matches("door/f")
    assert go_match("[^a]*[^a]*", "bad") and not go_match("[^a]*[^a]", "bda")
    assert not go_match("[b-a]*x*", "x")  # an inverted range matches nothing (RE2 has no lookahead)
    assert PatternMatcher(["a*b*c"]).matches("a\udcffbc")  # a byte that is not UTF-8 is one rune, as in Go


def _layer_names(saved: bytes) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        [entry] = json.load(archive.extractfile("manifest.json"))
        layer = archive.extractfile(entry["Layers"][-1]).read()
    with tarfile.open(fileobj=io.BytesIO(layer)) as files:
        return {member.name.rstrip("/") for member in files if member.name.startswith("ctx/")}


@pytest.mark.slow
def test_adversarial_patterns_leave_the_same_files_as_docker(lamina, docker, tmp_path):
    context = deep_tree(tmp_path / "ctx", 12)
    (context / ".dockerignore").write_text("\n".join([*adversarial_patterns(10), "!**/aaaa*b", "**/aaaaaaaaaaaaab"]) + "\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /ctx/\n")
    docker.run("build", "-q", "-t", "ignore-oracle:1", str(context))
    theirs = _layer_names(docker.run("save", "ignore-oracle:1").stdout)
    lamina.environ["DOCKER_BUILDKIT"] = "0"  # the oracle is docker 20.10's classic builder
    lamina.run("build", "-q", "-t", "ignore-oracle:1", str(context))
    ours = _layer_names(lamina.run("save", "ignore-oracle:1").stdout)
    assert any(name.endswith("a" * 12 + "b") for name in ours)  # re-included by the "!" exception
    assert ours == theirs
    docker.run("rmi", "ignore-oracle:1")
