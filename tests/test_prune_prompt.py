"""The prune commands read their y/N answer from stdin when it is a pipe, as docker's CLI does.

docker (a private dockerd) is the oracle for the prompt and the exit codes. Debian's docker 20.10
client prunes whatever a pipe answers (current docker clients read the answer, as lamina does), so
what a "no" keeps is checked on lamina's own store.
"""

from __future__ import annotations

import pytest

PROMPT = "Are you sure you want to continue? [y/N] "
PRUNES = [("image", "prune"), ("container", "prune"), ("volume", "prune"), ("system", "prune")]


@pytest.mark.slow
@pytest.mark.parametrize("answer", [b"n\n", b"", b"yes\n"])
def test_a_piped_no_keeps_everything_and_exits_0_as_docker(lamina, docker, answer):
    for command in PRUNES:
        ours = lamina.run(*command, input=answer, check=False)
        theirs = docker.run(*command, input=answer, check=False)
        assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr.decode()
        assert ours.stdout.decode().endswith(PROMPT) and PROMPT in theirs.stdout.decode()
        assert b"Aborted" not in ours.stderr


@pytest.mark.slow
def test_a_piped_yes_prunes_as_docker(lamina, docker):
    for command in PRUNES:
        ours = lamina.run(*command, input=b"y\n", check=False)
        theirs = docker.run(*command, input=b"y\n", check=False)
        assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr.decode()
        assert "Total reclaimed space:" in theirs.stdout.decode()
        assert "Total reclaimed space:" in ours.stdout.decode()


def _dangling(lamina) -> list[str]:
    return lamina.out("images", "-q", "--filter", "dangling=true").split()


def test_echo_y_prunes_a_dangling_image_and_n_keeps_it(lamina, busybox_tar):
    lamina.run("import", str(busybox_tar))
    dangling = _dangling(lamina)
    assert len(dangling) == 1
    lamina.run("image", "prune", input=b"n\n")
    assert _dangling(lamina) == dangling
    lamina.run("image", "prune", input=b"")  # end of input is a no
    assert _dangling(lamina) == dangling
    output = lamina.out("image", "prune", input=b"Y\n")
    assert output.startswith("WARNING! This will remove all dangling images.\n" + PROMPT)
    assert "deleted: sha256:" in output
    assert _dangling(lamina) == []
