"""The no-op rebuild fast path answers exactly what the fully cached build prints, and only then."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import Lamina

PROBE = """
import sys
sys.argv = ["lamina", *sys.argv[1:]]
from lamina.cli.main import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write("EXECUTOR-LOADED\\n" if "lamina.build.executor" in sys.modules else "FAST\\n")
"""


def _build(lamina: Lamina, *args: str) -> tuple[str, bool]:
    result = subprocess.run([sys.executable, "-c", PROBE, "build", *args], capture_output=True,
                            env=lamina.env(), check=True)
    return result.stdout.decode(), b"FAST\n" in result.stderr


@pytest.fixture
def context(tmp_path, lamina: Lamina, imported_busybox):
    root = tmp_path / "ctx"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM busybox\nENV A=1\nCOPY data.txt /data.txt\nCMD [\"cat\", \"/data.txt\"]\n")
    (root / "data.txt").write_text("version one\n")
    return root


def test_unchanged_rebuild_replays_the_cached_output(lamina: Lamina, context):
    _, fast = _build(lamina, "-t", "fp:1", str(context))
    assert not fast
    os.utime(context / "data.txt")  # the context changed: the real builder runs, every step cached
    cached, fast = _build(lamina, "-t", "fp:1", str(context))
    assert not fast and cached.count("Using cache") == 3
    replayed, fast = _build(lamina, "-t", "fp:1", str(context))
    assert fast
    assert replayed == cached
    quiet, fast = _build(lamina, "-q", "-t", "fp:1", str(context))
    assert fast and quiet.strip() == lamina.out("images", "-q", "--no-trunc", "fp:1").strip()


def test_a_content_change_that_keeps_size_and_mtime_is_rebuilt(lamina: Lamina, context):
    _build(lamina, "-t", "fp:1", str(context))
    before = lamina.out("images", "-q", "--no-trunc", "fp:1").strip()
    data = context / "data.txt"
    stamp = data.stat()
    data.write_text("version two\n")  # same size
    os.utime(data, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    out, fast = _build(lamina, "-t", "fp:1", str(context))
    assert not fast
    assert lamina.out("images", "-q", "--no-trunc", "fp:1").strip() != before
    assert lamina.out("run", "--rm", "--network", "none", "fp:1") == "version two\n"


def test_touching_a_file_takes_the_slow_path_and_keeps_the_cache(lamina: Lamina, context):
    _build(lamina, "-t", "fp:1", str(context))
    before = lamina.out("images", "-q", "--no-trunc", "fp:1").strip()
    os.utime(context / "data.txt")
    out, fast = _build(lamina, "-t", "fp:1", str(context))
    assert not fast and out.count("Using cache") == 3
    assert lamina.out("images", "-q", "--no-trunc", "fp:1").strip() == before


def test_a_moved_base_tag_rebuilds(lamina: Lamina, context, busybox_tar):
    _build(lamina, "-t", "fp:1", str(context))
    _build(lamina, "-t", "fp:1", str(context))
    before = lamina.out("images", "-q", "--no-trunc", "fp:1").strip()
    lamina.out("import", str(busybox_tar), "busybox:latest", "-c", "ENV NEW_BASE=1")
    out, fast = _build(lamina, "-t", "fp:1", str(context))
    assert not fast and "Using cache" not in out
    assert lamina.out("images", "-q", "--no-trunc", "fp:1").strip() != before


def test_no_cache_and_build_args_never_replay(lamina: Lamina, context):
    _build(lamina, "-t", "fp:1", str(context))
    _build(lamina, "-t", "fp:1", str(context))
    _, fast = _build(lamina, "--no-cache", "-t", "fp:1", str(context))
    assert not fast
    _, fast = _build(lamina, "--build-arg", "X=1", "-t", "fp:1", str(context))
    assert not fast


def test_builder_prune_forgets_the_cache_and_cache_mounts(lamina: Lamina, context):
    _build(lamina, "-t", "fp:1", str(context))
    mounts = lamina.root / "cache-mounts" / "abc"
    mounts.mkdir(parents=True)
    (mounts / "blob").write_bytes(b"x" * 4096)
    out = lamina.out("builder", "prune", "-f")
    assert "Total reclaimed space:" in out and mounts.exists()  # tagged builds stay cached
    out = lamina.out("builder", "prune", "-a", "-f")
    assert "cache mount" in out and not mounts.exists()
    rebuilt, fast = _build(lamina, "-t", "fp:1", str(context))
    assert not fast and "Using cache" not in rebuilt  # every cache record is gone


DOOR = """
import sys
sys.argv = ["lamina", *sys.argv[1:]]
from lamina.cli.entry import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
sys.stderr.write("CLICK-LOADED\\n" if "click" in sys.modules else "NO-CLICK\\n")
sys.exit(code)
"""


def _door(lamina: Lamina, *args: str) -> tuple[str, bool, int]:
    """Through the console entry point: (stdout, answered before click loaded, exit code)."""
    result = subprocess.run([sys.executable, "-c", DOOR, *args], capture_output=True, env=lamina.env())
    return result.stdout.decode(), b"NO-CLICK\n" in result.stderr, result.returncode


def test_the_entry_point_answers_a_no_op_rebuild_before_loading_click(lamina: Lamina, context, tmp_path):
    first, early, code = _door(lamina, "build", "-t", "door:1", "--build-arg", "X=1", str(context))
    assert code == 0 and early  # nothing recorded yet: the door ran the builder itself, without click
    assert "Successfully tagged door:1" in first and "Using cache" not in first.split("Step 2/", 1)[-1]
    again, early, code = _door(lamina, "build", "-t", "door:1", "--build-arg", "X=1", str(context))
    assert code == 0 and early and again != first
    via_click, fast = _build(lamina, "-t", "door:1", "--build-arg", "X=1", str(context))
    assert fast and again == via_click  # the same transcript either way
    iid = tmp_path / "iid"
    quiet, early, _ = _door(lamina, "--root", str(lamina.root), "build", "-q", "--tag=door:1", "--build-arg=X=1",
                            f"--iidfile={iid}", str(context))
    assert early and quiet.strip() == iid.read_text() == lamina.out("images", "-q", "--no-trunc", "door:1").strip()


@pytest.mark.parametrize("extra", [["--no-cache"], ["-tdoor:1"], ["--frobnicate"], ["--progress", "bogus"]])
def test_the_entry_point_leaves_unusual_arguments_to_click(lamina: Lamina, context, extra):
    _door(lamina, "build", "-t", "door:1", str(context))
    _, early, _ = _door(lamina, "build", "-t", "door:1", *extra, str(context))
    assert not early


def test_a_failing_build_through_the_door_reports_like_the_command_line(tmp_path, context):
    fresh = Lamina(tmp_path / "empty-store")
    result = subprocess.run([sys.executable, "-c", DOOR, "build", "-t", "door:1", "--no-rm", str(context)],
                            capture_output=True, env=fresh.env())  # --no-rm: a flag the door leaves to click
    door = subprocess.run([sys.executable, "-c", DOOR, "build", "-t", "door:1", str(context)], capture_output=True,
                          env=fresh.env())
    assert b"NO-CLICK" in door.stderr and b"CLICK-LOADED" in result.stderr
    # busybox is not in that store (and cannot be pulled here): the same one-line error either way
    errors = [run.stderr.decode().replace("NO-CLICK\n", "").replace("CLICK-LOADED\n", "") for run in (door, result)]
    assert door.returncode != 0 and door.returncode == result.returncode
    assert errors[0].startswith("lamina: error: ") and errors[0].count("\n") == 1 and "Traceback" not in errors[0]
