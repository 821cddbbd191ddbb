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


# BuildKit syntax docker 20.10's BuildKit (0.8) does not know: the expectations are those of
# moby/buildkit's own frontend tests, named at each test (facts taken, code not).

def _context(tmp_path: Path, dockerfile: str, files: dict[str, str]) -> Path:
    context = tmp_path / "ctx"
    for name, content in files.items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(content)
    (context / "Dockerfile").write_text(dockerfile)
    return context


def test_copy_parents_into_dot_under_a_workdir(lamina: Lamina, imported_busybox: str, tmp_path: Path) -> None:
    """frontend/dockerfile/dockerfile_parents_test.go, testCopyParents: ``.`` is the working
    directory, a directory destination although it has no trailing slash."""
    context = _context(tmp_path, "FROM busybox\nCOPY --parents foo1/foo2/bar /\nWORKDIR /test\n"
                                 "COPY --parents foo1/foo2/ba* .\n",
                       {"foo1/foo2/bar": "testing", "foo1/foo2/baz": "testing2"})
    lamina.run("build", "-t", "parents:1", str(context))
    shown = lamina.out("run", "--rm", "parents:1", "sh", "-c",
                       "cat /foo1/foo2/bar; echo; cat /test/foo1/foo2/bar; echo; cat /test/foo1/foo2/baz")
    assert shown == "testing\ntesting\ntesting2"


def test_add_exclude_of_wildcard_dirs_into_a_destination_without_slash(lamina: Lamina, imported_busybox: str,
                                                                         tmp_path: Path) -> None:
    """frontend/dockerfile/exclude_patterns_test.go, testExcludedFilesOnCopy (builders 4 to 6):
    each matched directory's contents go into the destination; excluding everything leaves it
    an empty directory."""
    files = {"dir1/file-101.png": "2", "dir1/file-102.txt": "3", "dir1/file-103.jpeg": "4",
             "dir2/file-201.pdf": "6", "dir2/file-202.jpeg": "7", "dir2/file-203.png": "8",
             "dir3/file-301.mp3": "9", "dir3/file-302.mpeg": "10", "dir4/file-401.txt": "11"}
    context = _context(tmp_path, "FROM busybox\n"
                       "COPY --exclude=*.mp3 --exclude=*.jpeg --exclude=*.png --exclude=*.pdf --exclude=*.txt dir* /4/\n"
                       "ADD --exclude=*.mp* --exclude=*.jpeg --exclude=*.png --exclude=*.pdf dir* /5\n"
                       "ADD --exclude=* dir* /6\n", files)
    (context / "dir4" / "file-402.txt").symlink_to("file-401.txt")
    (context / "dir4" / "file-403.txt").symlink_to("file-404.txt")
    lamina.run("build", "-t", "exclude:1", str(context))
    listing = lamina.out("run", "--rm", "exclude:1", "sh", "-c",
                         "cd /4 && find . | sort; cd /5 && find . | sort && cat file-102.txt file-401.txt && "
                         "readlink file-402.txt; readlink file-403.txt; cd /6 && find .")
    assert listing.split("\n") == [".", "./file-302.mpeg",
                                   ".", "./file-102.txt", "./file-401.txt", "./file-402.txt", "./file-403.txt",
                                   "311file-401.txt", "file-404.txt", ".", ""]


def test_add_checksum_of_a_local_file_is_refused(lamina: Lamina, imported_busybox: str, tmp_path: Path) -> None:
    """frontend/dockerfile/dockerfile2llb/convert_copy.go: ``--checksum`` needs an HTTP(S) or
    Git source (there is no download to verify), and one source only."""
    digest = "sha256:" + "0" * 64
    context = _context(tmp_path, f"FROM busybox\nADD --checksum={digest} f /f\n", {"f": "f\n", "g": "g\n"})
    assert "lamina: error: Dockerfile:2: checksum requires HTTP(S) or Git sources" in lamina.fails("build", str(context))
    (context / "Dockerfile").write_text(f"FROM busybox\nRUN true\nADD --checksum={digest} f g /d/\n")
    assert "Dockerfile:3: checksum can't be specified for multiple sources" in lamina.fails("build", str(context))
